// Bus mode, a planned stop under load: of two shuttle replicas relaying numbered lines of 20 apps
// to real receivers, one gets SIGTERM mid-stream. It stops pulling, lets its drains write what
// they took, acknowledges, releases its leases and exits; the other takes the partitions over
// at once. Every acknowledged line arrives, in order per app, and nothing is delivered twice
// under the same stream sequence (nothing was left unacknowledged).
// BUS_LINES sets the lines per app (default 400: 8,000 lines).
import t from 'tap';
import { startNatsCluster } from '../support/nats-cluster.js';
import { waitFor } from '../logshuttle/helpers/wait.js';
import { owned, startBusShuttle } from '../logshuttle/bus/helpers/bus-shuttle.js';
import { LineSender, appName, checkDelivery, startReceivers } from './support/bus-load.js';
import { report } from './support/report.js';

// a hang's bound only (the machine may be loaded): the cluster and the processes take their time
t.setTimeout(600_000);

const APPS = 20;
const PER_APP = Number(process.env.BUS_LINES) > 0 ? Number(process.env.BUS_LINES) : 400;
const PER_POST = 5;

t.test('a replica stopped with SIGTERM mid-stream hands its partitions over without loss or redelivery', async (t) => {
  const cluster = await startNatsCluster({ t });
  const receivers = await startReceivers(APPS);
  t.teardown(() => receivers.close());
  const extra = { drains: receivers.drains, drainBuffer: 100_000 };
  const a = await startBusShuttle(t, { servers: cluster.servers, extra });
  const b = await startBusShuttle(t, { servers: cluster.servers, extra });
  await waitFor(async () => (await owned(a)).length === 8 && (await owned(b)).length === 8, '8 partitions each', 60_000, 100);

  let alive = [a.base, b.base];
  const apps = Array.from({ length: APPS }, (_, i) => appName(i));
  const rounds = Math.ceil(PER_APP / PER_POST);
  const senders = [
    new LineSender(() => alive, apps.slice(0, APPS / 2), rounds, PER_POST).start(),
    new LineSender(() => [...alive].reverse(), apps.slice(APPS / 2), rounds, PER_POST).start(),
  ];
  t.teardown(() => Promise.all(senders.map((s) => s.stop())));
  const totalLines = APPS * rounds * PER_POST;
  await waitFor(() => senders.reduce((n, s) => n + s.linesAcked, 0) >= totalLines * 0.4, '40% of the lines acknowledged', 300_000, 20);
  alive = [b.base];
  const stoppedAt = Date.now();
  t.equal(await a.stop('SIGTERM'), 0, 'the stopped replica exits 0');
  const exitMs = Date.now() - stoppedAt;
  await waitFor(async () => (await owned(b)).length === 16, 'the other replica owns every partition', 60_000, 100);
  const takeoverMs = Date.now() - stoppedAt;
  await Promise.all(senders.map((s) => s.done()));

  const acked = new Map<string, number>();
  for (const s of senders) for (const [app, n] of s.acked) acked.set(app, n);
  await waitFor(() => checkDelivery(receivers.received(), acked).missing.length === 0, 'every acknowledged line at a receiver', 180_000, 200)
    .catch(() => undefined);
  const d = checkDelivery(receivers.received(), acked);
  t.same(d.missing.slice(0, 20), [], `every acknowledged line reached its receiver (${d.missing.length} missing)`);
  t.same(d.outOfOrder, [], 'each app\'s lines arrived in order');
  t.equal(d.redelivered, 0, 'nothing delivered twice under the same stream sequence: every line was acknowledged before the hand-over');
  t.ok(a.log.some((l) => l.includes('partition lease released')), 'the stopped replica released its leases');
  report(t, 'bus-replica-sigterm', {
    requestsSent: senders.reduce((n, s) => n + s.posts, 0),
    requestsFailed: senders.reduce((n, s) => n + s.failedPosts, 0),
    linesSent: totalLines,
    linesDelivered: totalLines - d.missing.length,
    linesDroppedReported: 0,
    duplicatesRedelivered: d.redelivered,
    duplicatesResent: d.resent,
    exitMs,
    takeoverMs,
  });
});
