// The bus publisher against a real nats-server: acks, message ids, outbox overflow (counted,
// per app, reported once the bus is back), and its stats.
import t from 'tap';
import { startNatsServer } from '../../support/nats-cluster.js';
import { StreamReader } from '../../support/bus-reader.js';
import { until } from '../../support/router-harness.js';
import { BusConnection } from '../../../shared/bus/connection.js';
import { BusPublisher } from '../../../shared/bus/publisher.js';
import { MsgIdSource } from '../../../shared/bus/msg-id.js';
import { ensureLogStream } from '../../../shared/bus/ensure.js';
import { resolveBusConfig } from '../../../shared/bus/bus-config.js';
import { subjectFor } from '../../../shared/bus/partition.js';
import type { BusError } from '../../../shared/bus/bus-errors.js';

const enc = (s: string): Uint8Array => Buffer.from(s);

t.test('publishes with acks and message ids; the stream holds them in order', async (t) => {
  const nats = await startNatsServer({ t });
  const bus = resolveBusConfig({ servers: nats.servers, stream: 'PUBTEST', replicas: 1, partitions: 4 });
  const conn = new BusConnection({ servers: bus.servers }).start();
  t.teardown(() => conn.close());
  await ensureLogStream(await conn.whenReady(), bus);
  const pub = new BusPublisher({ connection: conn, msgIds: new MsgIdSource('pubtest', 1000) });
  const acks = await Promise.all(Array.from({ length: 50 }, (_, i) => pub.publishAcked('app-a', subjectFor('app-a', 4), enc(`m${i}`))));
  t.equal(acks.length, 50);
  t.same(acks.map((a) => a.seq), Array.from({ length: 50 }, (_, i) => i + 1), 'stored in order');
  t.ok(acks.every((a) => a.stream === 'PUBTEST' && !a.duplicate));

  const reader = StreamReader.start(conn.nc!, 'PUBTEST');
  t.teardown(() => reader.stop());
  const msgs = await reader.until((m) => m.length >= 50);
  t.same(msgs.map((m) => Buffer.from(m.data).toString()), Array.from({ length: 50 }, (_, i) => `m${i}`));
  t.same(msgs.map((m) => m.msgId), Array.from({ length: 50 }, (_, i) => `pubtest-1000-${i + 1}`));
  t.ok(msgs.every((m) => m.subject === subjectFor('app-a', 4)));
  t.match(pub.stats(), { published: 50, acked: 50, retried: 0, droppedOverflow: 0, depth: 0, inFlight: 0 });
});

t.test('outbox overflow: the oldest dropped, counted per app, reported once the bus is back', async (t) => {
  const nats = await startNatsServer({ t });
  const bus = resolveBusConfig({ servers: nats.servers, stream: 'OVERFLOW', replicas: 1, partitions: 4 });
  await nats.node(0).kill(); // the bus is down from the start
  const conn = new BusConnection({ servers: bus.servers, maxBackoffMs: 300 }).start();
  t.teardown(() => conn.close());
  const reports: { app: string; count: number; since: number }[] = [];
  const pub = new BusPublisher({
    connection: conn, msgIds: new MsgIdSource('overflow', 1), outbox: 10,
    onDropped: (app, count, since) => reports.push({ app, count, since }),
  });
  const results: (string | null)[] = new Array<string | null>(25).fill(null);
  const before = Date.now();
  for (let i = 0; i < 25; i++) {
    const app = i % 2 === 0 ? 'even' : 'odd';
    pub.publish(app, subjectFor(app, 4), enc(`m${i}`), (err) => { results[i] = err ? (err as BusError).code : 'acked'; });
  }
  t.equal(pub.depth, 10, 'never more than the outbox');
  t.equal(pub.stats().droppedOverflow, 15);
  t.same(results.slice(0, 15), new Array(15).fill('E_BUS_OVERFLOW'), 'the 15 oldest were dropped, their callers told at once');
  t.equal(reports.length, 0, 'nothing reported while the bus is away');

  await nats.node(0).restart();
  await ensureLogStream(await conn.whenReady(), bus);
  await until(() => results.every((r) => r !== null), 60000, 'every publish settled');
  t.same(results.slice(15), new Array(10).fill('acked'), 'the 10 newest stored');
  reports.sort((a, b) => a.app.localeCompare(b.app));
  t.same(reports.map((r) => [r.app, r.count]), [['even', 8], ['odd', 7]], 'drops per app reported once the bus is back');
  t.ok(reports.every((r) => r.since >= before && r.since <= Date.now()));

  const reader = StreamReader.start(conn.nc!, 'OVERFLOW');
  t.teardown(() => reader.stop());
  const msgs = await reader.until((m) => m.length >= 10);
  t.same(msgs.map((m) => Buffer.from(m.data).toString()), Array.from({ length: 10 }, (_, i) => `m${i + 15}`), 'in order');
  t.match(pub.stats(), { published: 25, acked: 10, droppedOverflow: 15, depth: 0 });
});

t.test('closing fails what is still held with E_BUS_CLOSED', async (t) => {
  const nats = await startNatsServer({ t });
  await nats.node(0).kill();
  const conn = new BusConnection({ servers: nats.servers }).start();
  t.teardown(() => conn.close());
  const pub = new BusPublisher({ connection: conn, msgIds: new MsgIdSource('closing') });
  const p = pub.publishAcked('a', 'logs.0.a', enc('x'));
  await pub.close(100);
  await t.rejects(p, { code: 'E_BUS_CLOSED' });
  await t.rejects(pub.publishAcked('a', 'logs.0.a', enc('y')), { code: 'E_BUS_CLOSED' });
});

t.test('a loss report dropped in turn carries its count into the next report', async (t) => {
  const nats = await startNatsServer({ t });
  const bus = resolveBusConfig({ servers: nats.servers, stream: 'REPORTS', replicas: 1, partitions: 4 });
  await nats.node(0).kill();
  const conn = new BusConnection({ servers: bus.servers, maxBackoffMs: 300 }).start();
  t.teardown(() => conn.close());
  const reports: [string, number][] = [];
  const pub = new BusPublisher({ connection: conn, msgIds: new MsgIdSource('reports', 1), outbox: 3, onDropped: (app, count) => reports.push([app, count]) });
  const subject = subjectFor('a', 4);
  for (let i = 0; i < 3; i++) pub.publish('a', subject, enc(`m${i}`));
  pub.publishReport('a', subject, enc('L10: 7 lost'), 7, Date.now() - 1000); // drops m0
  for (let i = 3; i < 6; i++) pub.publish('a', subject, enc(`m${i}`)); // drops m1, m2, then the report
  t.equal(pub.stats().droppedOverflow, 3, 'the report is not counted as a message of its own');
  await nats.node(0).restart();
  await ensureLogStream(await conn.whenReady(), bus);
  await until(() => reports.length > 0, 60000, 'the next report');
  t.same(reports, [['a', 10]], '3 lines + the 7 of the dropped report');
});

t.test('no stream takes the subject yet: publishes are retried in order until it exists', async (t) => {
  const nats = await startNatsServer({ t });
  const bus = resolveBusConfig({ servers: nats.servers, stream: 'LATE', replicas: 1, partitions: 4 });
  const conn = new BusConnection({ servers: bus.servers }).start();
  t.teardown(() => conn.close());
  const nc = await conn.whenReady();
  const pub = new BusPublisher({ connection: conn, msgIds: new MsgIdSource('late', 1000) });
  const acks = Promise.all(Array.from({ length: 20 }, (_, i) => pub.publishAcked('a', 'logs.0.a', enc(`m${i}`))));
  await until(() => pub.stats().retried >= 6, 30_000, 'publishes answered by no responders and retried (more often than a refused one would be)');
  await ensureLogStream(nc, bus);
  t.same((await acks).map((a) => a.seq), Array.from({ length: 20 }, (_, i) => i + 1), 'stored once each, in order');
  t.equal(pub.stats().droppedRejected, 0);
});

t.test('a message the server refuses for good (above max_payload) is dropped as rejected, the rest go on', async (t) => {
  const nats = await startNatsServer({ t });
  const bus = resolveBusConfig({ servers: nats.servers, stream: 'BIG', replicas: 1, partitions: 4 });
  const conn = new BusConnection({ servers: bus.servers }).start();
  t.teardown(() => conn.close());
  await ensureLogStream(await conn.whenReady(), bus);
  const pub = new BusPublisher({ connection: conn, msgIds: new MsgIdSource('big', 1000) });
  const big = pub.publishAcked('a', 'logs.0.a', new Uint8Array(2 * 1024 * 1024));
  const small = pub.publishAcked('a', 'logs.0.a', enc('after'));
  await t.rejects(big, { code: 'E_BUS_REJECTED' });
  t.equal((await small).seq, 1, 'the next message is stored');
  t.match(pub.stats(), { droppedRejected: 1, depth: 0 });
});
