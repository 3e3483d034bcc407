// A router under load publishing to a real 3-node cluster; the node leading the stream is
// SIGKILLed mid-load. No request may fail, every access line must reach the stream exactly once
// (or be counted in an L10 line), and each worker's lines keep their order per app.
import t from 'tap';
import { startNatsCluster } from '../../support/nats-cluster.js';
import { until } from '../../support/router-harness.js';
import { LoadLoop, byStatus } from '../../reliability/support/load-loop.js';
import { startBusRig, summarize, requestIdOf, orderProblem } from './support/bus-rig.js';

// a hang's bound only (the machine may be loaded): the cluster and the processes take their time
t.setTimeout(600_000);

const APPS = ['api-a', 'api-b', 'api-c'];

t.test('SIGKILL of the stream leader under router load', async (t) => {
  const t0 = Date.now();
  const at = (): string => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
  const nats = await startNatsCluster({ nodes: 3, t });
  const stream = 'ROUTER_FAILOVER';
  const rig = await startBusRig(t, nats, { stream, apps: APPS, workers: 2 });
  const origin = `http://127.0.0.1:${rig.router.ports.http}`;
  // a steady, modest load: the point is the failover, not the rate (the machine is shared)
  const loads = APPS.map((app) => new LoadLoop({ origin, host: `${app}.example.io`, concurrency: 1, idPrefix: app, pauseMs: 5 }).start());
  const sent = (): number => loads.reduce((n, l) => n + l.sent, 0);

  await rig.reader.until((m) => summarize(m).lines.length >= 150, 60000, 'lines flowing');
  const leader = await nats.streamLeader(stream);
  await nats.node(leader).kill('SIGKILL');
  const atKill = sent();
  t.comment(`${at()}: SIGKILLed node ${leader} (the stream leader) after ${atKill} requests`);
  t.comment(`${at()}: node ${await nats.streamLeader(stream, 90000)} leads the stream now`);
  // lines written after the kill reach the stream: the failover is over
  await rig.reader.until((m) => summarize(m).lines.length >= atKill + 150, 90000, 'lines flowing after the failover');
  t.comment(`${at()}: lines flowing again`);
  const outcomes = (await Promise.all(loads.map((l) => l.stop()))).flat();
  t.same(byStatus(outcomes), { 200: outcomes.length }, `all ${outcomes.length} requests answered 200`);

  const accounted = (): number => {
    const { lines, l10 } = summarize(rig.reader.messages);
    return lines.length + [...l10.values()].reduce((a, b) => a + b, 0);
  };
  await until(() => accounted() >= outcomes.length, 90000, 'every line delivered or counted');
  t.comment(`${at()}: every line accounted for`);
  const { lines, l10 } = summarize(rig.reader.messages);
  const ids = lines.map((m) => requestIdOf(m.record!.message));
  t.equal(new Set(ids).size, ids.length, 'no line twice');
  const dropped = [...l10.values()].reduce((a, b) => a + b, 0);
  t.equal(lines.length + dropped, outcomes.length, `delivered ${lines.length} + counted ${dropped} = sent ${outcomes.length}`);
  const want = new Set(outcomes.map((o) => o.id));
  t.ok(ids.every((id) => id !== undefined && want.has(id)), 'only lines of requests sent');
  t.equal(orderProblem(lines), null, 'per app and worker, lines in the order they were written');
  await nats.node(leader).restart();
});
