// Faults under load, bus mode: two shuttle replicas on a 3-node NATS JetStream cluster, 20 apps
// with drains (syslog over TCP, and a slow logplex HTTP collector for every fifth app), numbered
// lines POSTed through both replicas' /ingest. One replica is SIGKILLed mid-stream; the other
// takes its partitions over once their leases expire and the ack wait has passed. Every line
// the bus acknowledged reaches its receiver at least once, each app's lines (first occurrences)
// in order, and duplicates stay within the killed replica's unacknowledged window.
// BUS_LINES sets the lines per app (default 800: 16,000 lines).
import t from 'tap';
import { startNatsCluster } from '../support/nats-cluster.js';
import { waitFor } from '../logshuttle/helpers/wait.js';
import { owned, startBusShuttle } from '../logshuttle/bus/helpers/bus-shuttle.js';
import { LineSender, appName, checkDelivery, startReceivers } from './support/bus-load.js';
import { report } from './support/report.js';

// a hang's bound only (the machine may be loaded): the cluster and the processes take their time
t.setTimeout(600_000);

const APPS = 20;
const PER_APP = Number(process.env.BUS_LINES) > 0 ? Number(process.env.BUS_LINES) : 800;
const PER_POST = 5;
/** each partition consumer may have this many lines delivered and not yet acknowledged */
const MAX_ACK_PENDING = 1000;

t.test('a replica SIGKILLed mid-stream: every acknowledged line delivered at least once, in order per app', async (t) => {
  const cluster = await startNatsCluster({ t });
  const receivers = await startReceivers(APPS);
  t.teardown(() => receivers.close());
  const tuning = { maxAckPending: MAX_ACK_PENDING };
  const extra = { drains: receivers.drains, drainBuffer: 100_000 };
  const a = await startBusShuttle(t, { servers: cluster.servers, tuning, extra });
  const b = await startBusShuttle(t, { servers: cluster.servers, tuning, extra });
  await waitFor(async () => (await owned(a)).length === 8 && (await owned(b)).length === 8, '8 partitions each', 60_000, 100);
  const ownedByKilled = await owned(a);

  let alive = [a.base, b.base];
  const apps = Array.from({ length: APPS }, (_, i) => appName(i));
  const rounds = Math.ceil(PER_APP / PER_POST);
  const senders = [
    new LineSender(() => alive, apps.slice(0, APPS / 2), rounds, PER_POST).start(),
    new LineSender(() => [...alive].reverse(), apps.slice(APPS / 2), rounds, PER_POST).start(),
  ];
  t.teardown(() => Promise.all(senders.map((s) => s.stop())));
  const totalLines = APPS * rounds * PER_POST;
  // kill once about 40% of the lines are on the bus (and so flowing through A's partitions)
  await waitFor(() => senders.reduce((n, s) => n + s.linesAcked, 0) >= totalLines * 0.4, '40% of the lines acknowledged', 300_000, 20);
  const killedAt = Date.now();
  const receivedAtKill = receivers.received().length;
  await a.stop('SIGKILL');
  alive = [b.base];
  await Promise.all(senders.map((s) => s.done()));
  const sentAt = Date.now();

  const acked = new Map<string, number>();
  for (const s of senders) for (const [app, n] of s.acked) acked.set(app, n);
  await waitFor(() => checkDelivery(receivers.received(), acked).missing.length === 0, 'every acknowledged line at a receiver', 180_000, 200)
    .catch(() => undefined); // the assertions below say what is missing
  const d = checkDelivery(receivers.received(), acked);
  await waitFor(async () => (await owned(b)).length === 16, 'the survivor owns every partition', 60_000, 100);

  const linesAcked = [...acked.values()].reduce((x, y) => x + y, 0);
  t.equal(linesAcked, totalLines, 'every line was acknowledged by the bus (POSTs failed over to the survivor)');
  t.same(d.missing.slice(0, 20), [], `every acknowledged line reached its receiver at least once (${d.missing.length} missing)`);
  if (d.outOfOrderAt.length > 0) t.comment(`out of order: ${d.outOfOrderAt.join('; ')}`);
  for (const l of b.log.filter((x) => x.includes('redeliveries back'))) t.comment(`survivor: ${l}`);
  t.same(d.outOfOrder, [], 'each app\'s lines arrived in order (first occurrences)');
  t.equal(d.badMsgid, 0, 'every frame carries the stream sequence as MSGID');
  const redeliveryBound = ownedByKilled.length * MAX_ACK_PENDING;
  const resendBound = senders.length * (APPS / 2) * PER_POST;
  t.ok(d.redelivered <= redeliveryBound, `lines delivered twice under the same stream sequence: ${d.redelivered} (bound: the killed replica's unacknowledged window, ${ownedByKilled.length} partitions x maxAckPending ${MAX_ACK_PENDING} = ${redeliveryBound})`);
  t.ok(d.resent <= resendBound, `lines stored twice because a POST to the killed replica was sent again: ${d.resent} (bound: one POST per sender, ${resendBound})`);
  t.ok(b.log.some((l) => l.includes('waiting out the ack wait')), 'the survivor waited out the ack wait before pulling the taken-over partitions');

  report(t, 'bus-replica-killed', {
    requestsSent: senders.reduce((n, s) => n + s.posts, 0),
    requestsFailed: senders.reduce((n, s) => n + s.failedPosts, 0),
    linesSent: totalLines,
    linesDelivered: totalLines - d.missing.length,
    linesDroppedReported: 0,
    linesMissing: d.missing.length,
    framesReceived: d.received,
    receivedBeforeKill: receivedAtKill,
    duplicatesRedelivered: d.redelivered,
    duplicatesRedeliveredBound: redeliveryBound,
    duplicatesResent: d.resent,
    duplicatesResentBound: resendBound,
    partitionsOfKilledReplica: ownedByKilled.length,
    catchUpMs: Date.now() - sentAt,
    killToAllSentMs: sentAt - killedAt,
  });
});
