// Shuttle replicas on a real 3-node NATS JetStream cluster: partition leases spread evenly and
// move on a join or leave; a tail on one replica shows lines ingested on the other (history,
// then live, no gap or line twice at the junction); a drain added on one replica delivers lines
// ingested on the other (MSGID = stream sequence); a message on the bus that is not a msgpack
// record is counted and skipped; history and drains survive restarting every replica; a
// platform line about a replica's drain (L14) reaches every replica's tails and the history
// through the bus, and never a drain.
import t from 'tap';
import { jetstreamManager } from '@nats-io/jetstream';
import { partitionOf } from '../../../shared/bus/index.js';
import { startNatsCluster } from '../../support/nats-cluster.js';
import { httpRequest, openTail } from '../helpers/http-client.js';
import { waitFor } from '../helpers/wait.js';
import { fixture, startStreamReceiver } from '../drains/receivers.js';
import { freshBus, metric, natsClient, owned, parseReceived, postLines, startBusShuttle } from './helpers/bus-shuttle.js';

// a hang's bound only (the machine may be loaded): the cluster and the processes take their time
t.setTimeout(600_000);

const cluster = await startNatsCluster({ t });
const servers = cluster.servers;
const admin = await natsClient(t, servers);
const stream = 'EDGEPLANE_LOGS';
// every case starts from an empty bus (the previous case's shuttles are gone by then)
t.beforeEach(() => freshBus(admin, stream));

/** an app name whose partition (of 16) is in `set` */
function appIn(set: number[], prefix: string): string {
  for (let i = 0; ; i++) if (set.includes(partitionOf(`${prefix}${i}`, 16))) return `${prefix}${i}`;
}

t.test('two replicas share the partitions evenly; a leaving replica hands its partitions over', async (t) => {
  const a = await startBusShuttle(t, { servers, stream });
  await waitFor(async () => (await owned(a)).length === 16, 'the only replica owns all 16 partitions', 30_000, 100);
  const joined = Date.now();
  const b = await startBusShuttle(t, { servers, stream });
  await waitFor(async () => (await owned(a)).length === 8 && (await owned(b)).length === 8, '8 partitions each', 60_000, 100);
  t.comment(`8/8 reached ${Date.now() - joined} ms after the second replica started (goal: within 10 s of a change)`);
  const pa = await owned(a);
  const pb = await owned(b);
  t.same([...pa, ...pb].sort((x, y) => x - y), Array.from({ length: 16 }, (_, i) => i), 'every partition has exactly one owner');

  const left = Date.now();
  t.equal(await b.stop('SIGTERM'), 0, 'SIGTERM: clean exit');
  await waitFor(async () => (await owned(a)).length === 16, 'the remaining replica owns all 16 again', 60_000, 100);
  t.comment(`16/0 reached ${Date.now() - left} ms after SIGTERM of the other replica`);
  t.ok(b.log.some((l) => l.includes('partition lease released')), 'the stopping replica released its leases');
});

t.test('a tail on replica B shows history then live lines ingested on replica A: none missing, none twice', async (t) => {
  const a = await startBusShuttle(t, { servers, stream });
  const b = await startBusShuttle(t, { servers, stream });
  const app = 'tail-app';
  const total = 300;
  let sent = 0;
  let tail: ReturnType<typeof openTail> | null = null;
  // lines go in batches of 10 through A; the tail on B opens in the middle of the stream
  while (sent < total) {
    const batch = Array.from({ length: 10 }, (_, i) => ({ app, message: `line ${String(sent + i + 1).padStart(4, '0')}` }));
    t.equal(await postLines(a.base, batch), 200, 'POST /ingest on A answered 200 after the bus stored the lines');
    sent += 10;
    if (sent === 150) {
      // B's history stream sources the main one a little later: the tail opens once B's history
      // holds the first 150, so the junction is exercised with a known amount of history
      await waitFor(async () => /line 0150\n$/.test((await httpRequest(`${b.base}/apps/${app}/logs?lines=1500`)).body),
        'B\'s history holds the first 150 lines', 30_000, 100);
      tail = openTail(`${b.base}/apps/${app}/logs?lines=1500&tail=true`);
      t.teardown(() => tail!.close());
    }
  }
  const lines = await tail!.waitForLines(total);
  t.equal(await tail!.status, 200);
  const history = Number((await tail!.headers)['x-history-lines']);
  t.ok(history >= 150 && history <= total, `the first ${history} lines were history`);
  const got = lines.map((l) => /line (\d+)$/.exec(l)?.[1]);
  t.same(got, Array.from({ length: total }, (_, i) => String(i + 1).padStart(4, '0')), 'every line once, in order, across the history/live junction');
  t.match(lines[0], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z tail-app app\[web\.1\]: line 0001$/, 'tail line format');

  const plain = await httpRequest(`${a.base}/apps/${app}/logs?lines=5`);
  t.equal(plain.status, 200);
  t.equal(plain.body.split('\n').filter(Boolean).length, 5, 'a tail without follow on A: the newest 5 from the history stream');
  t.match(plain.body, /line 0300\n$/);
});

t.test('a drain added on replica A delivers lines ingested on replica B, whichever replica owns the app', async (t) => {
  const a = await startBusShuttle(t, { servers, stream });
  const b = await startBusShuttle(t, { servers, stream });
  await waitFor(async () => (await owned(a)).length === 8 && (await owned(b)).length === 8, '8 partitions each', 60_000, 100);
  const appA = appIn(await owned(a), 'owned-by-a-');
  const appB = appIn(await owned(b), 'owned-by-b-');
  const receiver = await startStreamReceiver();
  t.teardown(() => receiver.close());
  const ids: Record<string, string> = {};
  for (const app of [appA, appB]) {
    const r = await httpRequest(`${a.base}/apps/${app}/drains`, { method: 'POST', body: JSON.stringify({ url: `syslog://127.0.0.1:${receiver.port}` }) });
    t.equal(r.status, 201, `drain added for ${app} on A`);
    ids[app] = (JSON.parse(r.body) as { id: string }).id;
  }
  // the registry change reaches B through the bucket's watch
  await waitFor(async () => {
    const l = JSON.parse((await httpRequest(`${b.base}/apps/${appB}/drains`)).body) as Array<{ id: string }>;
    return l.length === 1 && l[0].id === ids[appB];
  }, 'B lists the drain added on A');
  // lines ingested on B; as soon as both drains are live everywhere, they arrive
  for (let i = 1; i <= 5; i++) {
    t.equal(await postLines(b.base, [{ app: appA, message: `to ${appA} ${i}` }, { app: appB, message: `to ${appB} ${i}` }]), 200);
  }
  await waitFor(() => receiver.messages.length >= 10, 'ten lines at the receiver', 30_000).catch((err: Error) => {
    t.comment(`receiver: ${JSON.stringify(receiver.messages)}\nA: ${a.log.slice(-30).join('\n')}\nB: ${b.log.slice(-30).join('\n')}`);
    throw err;
  });
  const got = receiver.messages.map(parseReceived);
  for (const app of [appA, appB]) {
    t.same(got.filter((g) => g.app === app).map((g) => g.msg), [1, 2, 3, 4, 5].map((i) => `to ${app} ${i}`), `${app}: every line, in order`);
  }
  t.ok(got.every((g) => /^[1-9]\d*$/.test(g.msgid)), 'MSGID is the stream sequence');
  t.equal(new Set(got.map((g) => g.msgid)).size, got.length, 'one stream sequence per line');

  // removed on B: gone from A's list too, and from the registry after a restart of both
  const del = await httpRequest(`${b.base}/apps/${appA}/drains/${ids[appA]}`, { method: 'DELETE' });
  t.equal(del.status, 204);
  await waitFor(async () => (await httpRequest(`${a.base}/apps/${appA}/drains`)).body.trim() === '[]', 'A lists no drain for the app');
  await a.stop('SIGTERM');
  await b.stop('SIGTERM');
  const c = await startBusShuttle(t, { servers, stream });
  const list = JSON.parse((await httpRequest(`${c.base}/apps/${appB}/drains`)).body) as Array<{ id: string; url: string }>;
  t.same(list, [{ id: ids[appB], url: `syslog://127.0.0.1:${receiver.port}` }], 'the drain set survives restarting every replica');
  t.equal(await postLines(c.base, [{ app: appB, message: 'after restart' }]), 200);
  await waitFor(() => receiver.messages.some((m) => m.endsWith(' after restart')), 'a line after the restart reaches the drain', 30_000);
});

t.test('a message on the bus that is not a msgpack record is counted, acknowledged and skipped', async (t) => {
  const a = await startBusShuttle(t, { servers, stream, partitions: 16 });
  const receiver = await startStreamReceiver();
  t.teardown(() => receiver.close());
  const app = 'bad-input-app';
  t.equal((await httpRequest(`${a.base}/apps/${app}/drains`, { method: 'POST', body: JSON.stringify({ url: `syslog://127.0.0.1:${receiver.port}` }) })).status, 201);
  const nc = admin;
  const p = partitionOf(app, 16);
  // straight to the bus, as a misbehaving producer would: garbage, then a valid line
  await nc.request(`logs.${p}.${app}`, new TextEncoder().encode('this is not msgpack'), { timeout: 10_000 });
  await nc.request(`logs.${p}.${app}`, Uint8Array.from([0x93, 1, 2, 3]), { timeout: 10_000 }); // msgpack, not a record
  t.equal(await postLines(a.base, [{ app, message: 'the valid line' }]), 200);
  await waitFor(() => receiver.messages.some((m) => m.endsWith(' the valid line')), 'the valid line after the bad ones reaches the drain', 30_000);
  t.equal(receiver.messages.length, 1, 'only the valid line was delivered');
  await waitFor(async () => (await metric(a, 'edgeplane_shuttle_bus_bad_messages_total')) === 2, 'both bad messages counted');
  const jsm = await jetstreamManager(nc);
  await waitFor(async () => (await jsm.consumers.info(stream, `logshuttle-p${p}`)).num_ack_pending === 0, 'nothing left unacknowledged (the bad ones are not redelivered)');
  const info = await jsm.consumers.info(stream, `logshuttle-p${p}`);
  t.equal(info.num_redelivered, 0, 'no redelivery');
});

t.test('history survives restarting every replica', async (t) => {
  const a = await startBusShuttle(t, { servers, stream, history: 20 });
  const b = await startBusShuttle(t, { servers, stream, history: 20 });
  const app = 'history-app';
  for (let i = 1; i <= 30; i += 10) {
    t.equal(await postLines(i % 20 === 1 ? a.base : b.base, Array.from({ length: 10 }, (_, k) => ({ app, message: `h${i + k}` }))), 200);
  }
  await a.stop('SIGTERM');
  await b.stop('SIGTERM');
  const c = await startBusShuttle(t, { servers, stream, history: 20 });
  // HIST sources the log stream asynchronously: poll until the newest line is there
  let body = '';
  await waitFor(async () => {
    body = (await httpRequest(`${c.base}/apps/${app}/logs?lines=100`)).body;
    return body.endsWith(': h30\n');
  }, 'history of the app after the restart');
  const msgs = body.split('\n').filter(Boolean).map((l) => l.slice(l.lastIndexOf(' ') + 1));
  t.same(msgs, Array.from({ length: 20 }, (_, i) => `h${i + 11}`), 'the newest `history` (20) lines, in order');
});

t.test('an L14 line about a drain of replica A shows in the tails of A and B and in the history, never in a drain', async (t) => {
  const a = await startBusShuttle(t, { servers, stream });
  const b = await startBusShuttle(t, { servers, stream });
  await waitFor(async () => (await owned(a)).length === 8 && (await owned(b)).length === 8, '8 partitions each', 60_000, 100);
  const app = appIn(await owned(a), 'l14-app-');
  // a TLS drain whose certificate does not verify (another host's, from a CA the process does not trust), and a good one
  const badTls = await startStreamReceiver({ tls: { key: fixture('other.key'), cert: fixture('other.pem') } });
  const good = await startStreamReceiver();
  t.teardown(() => Promise.all([badTls.close(), good.close()]));
  for (const url of [`syslog+tls://localhost:${badTls.port}`, `syslog://127.0.0.1:${good.port}`]) {
    t.equal((await httpRequest(`${a.base}/apps/${app}/drains`, { method: 'POST', body: JSON.stringify({ url }) })).status, 201);
  }
  const tailB = openTail(`${b.base}/apps/${app}/logs?lines=100&tail=true`);
  const tailA = openTail(`${a.base}/apps/${app}/logs?lines=100&tail=true`);
  t.teardown(() => {
    tailA.close();
    tailB.close();
  });
  // (a follow's head goes out with its first line)
  t.equal(await postLines(b.base, [{ app, message: 'first' }, { app, message: 'second' }]), 200);
  const isL14 = (l: string): boolean => /Error L14 \(certificate validation error\): [A-Z_]+ for drain syslog\+tls:\/\/localhost:\d+/.test(l);
  await waitFor(() => tailB.lines().some(isL14), 'the L14 line in the tail on B (not the replica that has the drain)', 30_000).catch((err: Error) => {
    t.comment(`tail B: ${tailB.text()}\nA: ${a.log.slice(-20).join('\n')}`);
    throw err;
  });
  // a line published by A after its L14: once the good drain has it, A's consumer is past the L14
  t.equal(await postLines(a.base, [{ app, message: 'after the L14' }]), 200);
  await waitFor(() => good.messages.some((m) => m.endsWith(' after the L14')), 'the line after the L14 at the good drain', 30_000);
  await waitFor(() => tailA.lines().some((l) => l.endsWith(' after the L14')) && tailB.lines().some((l) => l.endsWith(' after the L14')), 'both tails past it');
  t.same(good.messages.map((m) => parseReceived(m).msg), ['first', 'second', 'after the L14'], 'the good drain got the app lines and no platform line');
  t.equal(badTls.messages.length, 0, 'nothing reached the drain whose certificate failed');
  for (const [name, tail] of [['A', tailA], ['B', tailB]] as const) {
    const lines = tail.lines();
    t.equal(lines.filter(isL14).length, 1, `tail on ${name}: the L14 line once`);
    t.ok(lines.findIndex(isL14) < lines.findIndex((l) => l.endsWith(' after the L14')), `tail on ${name}: the L14 line before A's next line`);
  }
  t.equal(await tailA.status, 200);
  t.equal(await tailB.status, 200);
  const history = (await httpRequest(`${b.base}/apps/${app}/logs?lines=100`)).body;
  t.equal(history.split('\n').filter(isL14).length, 1, 'the history on B holds the L14 line');
});
