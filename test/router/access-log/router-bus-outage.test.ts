// The whole bus down (every node stopped) for ~10 s under router load, with a small outbox:
// no request fails, the router stays ready, /metrics shows the bus down and the drops; once the
// bus is back, lines written after the outage are delivered and the lines beyond the outbox are
// reported as L10 lines in their app's subject: delivered + counted = sent, none lost silently.
import t from 'tap';
import { startNatsCluster } from '../../support/nats-cluster.js';
import { until } from '../../support/router-harness.js';
import { LoadLoop, byStatus } from '../../reliability/support/load-loop.js';
import { scrape } from '../support/prometheus.js';
import { subjectFor } from '../../../shared/bus/partition.js';
import { startBusRig, summarize, requestIdOf, orderProblem, L10 } from './support/bus-rig.js';

// a hang's bound only (the machine may be loaded): the cluster and the processes take their time
t.setTimeout(600_000);

const APPS = ['shop', 'blog'];
const OUTBOX = 200;

t.test('bus down for ~10 s under load, small outbox', async (t) => {
  const nats = await startNatsCluster({ nodes: 3, t });
  const stream = 'ROUTER_OUTAGE';
  const rig = await startBusRig(t, nats, { stream, apps: APPS, bus: { outbox: OUTBOX } });
  const admin = rig.router.ports.admin;
  const origin = `http://127.0.0.1:${rig.router.ports.http}`;
  const loads = APPS.map((app) => new LoadLoop({ origin, host: `${app}.example.io`, concurrency: 2, idPrefix: app, pauseMs: 2 }).start());
  const sent = (): number => loads.reduce((n, l) => n + l.sent, 0);

  await rig.reader.until((m) => summarize(m).lines.length >= 100, 60000, 'lines flowing');
  await nats.killAll();
  const down = Date.now();
  const atKill = sent();
  await until(async () => (await scrape(admin)).get('edgeplane_router_bus_connected') === 0, 30000, 'metrics: bus down');
  // the outage lasts ~10 s and well past the outbox
  await until(() => Date.now() - down >= 10000 && sent() >= atKill + 4 * OUTBOX, 60000, 'load during the outage');
  const during = await scrape(admin);
  t.ok(during.get('edgeplane_router_bus_dropped_total', { reason: 'overflow' })! > 0, 'metrics count the drops');
  t.ok(during.get('edgeplane_router_bus_outbox_depth')! <= OUTBOX, 'the outbox stays bounded');
  const ready = await fetch(`http://127.0.0.1:${admin}/readyz`);
  t.equal(ready.status, 200, '/readyz true while the bus is down');

  await nats.restartAll();
  const back = sent();
  t.comment(`bus down for ${Date.now() - down} ms; ${back - atKill} requests meanwhile`);
  await until(async () => (await scrape(admin)).get('edgeplane_router_bus_connected') === 1, 60000, 'metrics: bus back');
  // connected is not writable: the restarted stream elects a leader first (seconds on a loaded
  // machine). "After the outage" starts once the stream stores lines again and the outbox drained.
  const ackedDuring = during.get('edgeplane_router_bus_acked_total')!;
  await until(async () => {
    const m = await scrape(admin);
    return m.get('edgeplane_router_bus_acked_total')! > ackedDuring && m.get('edgeplane_router_bus_outbox_depth')! < OUTBOX / 2;
  }, 90000, 'the stream takes writes again');
  const after = sent();
  await until(() => sent() >= after + 300, 60000, 'load after the outage');
  const outcomes = (await Promise.all(loads.map((l) => l.stop()))).flat();
  t.same(byStatus(outcomes), { 200: outcomes.length }, `all ${outcomes.length} requests answered 200`);

  const accounted = (): number => {
    const { lines, l10 } = summarize(rig.reader.messages);
    return lines.length + [...l10.values()].reduce((a, b) => a + b, 0);
  };
  await until(() => accounted() >= outcomes.length, 90000, 'every line delivered or counted');
  const { lines, l10 } = summarize(rig.reader.messages);
  const dropped = [...l10.values()].reduce((a, b) => a + b, 0);
  t.ok(dropped > 0, `L10 lines count ${dropped} dropped lines`);
  t.equal(lines.length + dropped, outcomes.length, `delivered ${lines.length} + counted ${dropped} = sent ${outcomes.length}`);
  const ids = lines.map((m) => requestIdOf(m.record!.message)!);
  t.equal(new Set(ids).size, ids.length, 'no line twice');
  const delivered = new Set(ids);
  const lastOnes = APPS.flatMap((app) => outcomes.filter((o) => o.id.startsWith(`${app}-`)).slice(-50));
  t.ok(lastOnes.every((o) => delivered.has(o.id)), 'the last lines of each app (after the outage) are delivered');
  for (const m of rig.reader.messages.filter((x) => x.record?.source === 'platform' && L10.test(x.record.message))) {
    t.equal(m.subject, subjectFor(m.record!.app, 4), `L10 for ${m.record!.app} in its own subject`);
    t.match(m.record, { process: 'router', stream: 'stderr' });
  }
  t.equal(orderProblem(lines), null, 'lines in order per app');
  const end = await scrape(admin);
  t.equal(end.get('edgeplane_router_bus_dropped_total', { reason: 'overflow' }), dropped, 'metrics and L10 lines agree');
});
