// The router with `bus`: access lines published to NATS JetStream (subject logs.<p>.<app>, the
// msgpack log record, Nats-Msg-Id), --log-stdout still tees, /metrics shows the bus; a bus
// unreachable at start never stops serving and lines follow once it starts; `bus` with
// `logshuttle` is a config error naming both.
import t from 'tap';
import { startNatsServer } from '../../support/nats-cluster.js';
import { baseConfig, runRouterOnce, until, writeConfig } from '../../support/router-harness.js';
import { scrape } from '../support/prometheus.js';
import { subjectFor } from '../../../shared/bus/partition.js';
import { startBusRig, summarize, requestIdOf, orderProblem, getVia } from './support/bus-rig.js';

// a hang's bound only (the machine may be loaded): the cluster and the processes take their time
t.setTimeout(600_000);

t.test('bus together with logshuttle is a config error naming both', async (t) => {
  const file = writeConfig(baseConfig({ apps: {}, logshuttle: 'tcp://127.0.0.1:5140', bus: { servers: ['nats://127.0.0.1:4222'] } }));
  const r = await runRouterOnce(['--config', file]);
  t.equal(r.code, 2);
  t.match(r.stderr, /bus: .*logshuttle/);
  const bad = writeConfig(baseConfig({ apps: {}, bus: { servers: [], partitions: 0 } }));
  const r2 = await runRouterOnce(['--config', bad]);
  t.equal(r2.code, 2);
  t.match(r2.stderr, /bus\.servers/);
  t.match(r2.stderr, /bus\.partitions/);
});

t.test('access lines on the bus: subject, record, message id; stdout tee; metrics', async (t) => {
  const nats = await startNatsServer({ t });
  const rig = await startBusRig(t, nats, { stream: 'ROUTER_LINES', apps: ['api-prod', 'web'], args: ['--log-stdout'] });
  const ids: string[] = [];
  for (let i = 0; i < 10; i++) {
    const app = i % 2 === 0 ? 'api-prod' : 'web';
    const id = `bus-line-${i}`;
    ids.push(id);
    t.equal(await getVia(rig.router.ports.http, `${app}.example.io`, `/x?i=${i}`, id), 200);
  }
  const msgs = await rig.reader.until((m) => summarize(m).lines.length >= 10, 60000, '10 lines');
  const { lines } = summarize(msgs);
  t.same(lines.map((m) => requestIdOf(m.record!.message)), ids, 'every line, in request order');
  for (const [i, m] of lines.entries()) {
    const app = i % 2 === 0 ? 'api-prod' : 'web';
    t.equal(m.subject, subjectFor(app, 4), `subject of ${app}`);
    t.match(m.record, { app, source: 'router', process: 'router', stream: 'stdout' });
    t.ok(typeof m.record!.time === 'number' && Math.abs(m.record!.time - Date.now()) < 600000, 'time is epoch ms');
    t.match(m.record!.message, new RegExp(`^at=info method=GET path=/x\\?i=${i} host=${app}\\.example\\.io request_id=bus-line-${i} .* status=200 `));
    t.match(m.msgId, /^router\.[^ ]+\.\d+\.\d+-\d{13}-\d+$/, 'Nats-Msg-Id <producer>-<start ms>-<sequence>');
  }
  t.equal(orderProblem(lines), null);
  t.equal(new Set(lines.map((m) => m.msgId)).size, 10, 'ids unique');
  // --log-stdout: the same lines on stdout too
  await rig.router.waitForLine((l) => l.includes('request_id=bus-line-9'), 20000);
  const s = await scrape(rig.router.ports.admin);
  t.equal(s.get('edgeplane_router_bus_connected'), 1);
  t.equal(s.get('edgeplane_router_bus_clients'), 1);
  t.ok(s.get('edgeplane_router_bus_acked_total')! >= 10);
  t.equal(s.get('edgeplane_router_bus_dropped_total', { reason: 'overflow' }), 0);
  t.equal(s.types.get('edgeplane_router_bus_published_total'), 'counter');
});

t.test('bus unreachable at start: the router serves, metrics say so, lines follow once NATS starts', async (t) => {
  const nats = await startNatsServer({ t });
  await nats.node(0).kill();
  const rig = await startBusRig(t, nats, { stream: 'LATE_BUS', apps: ['late'] });
  for (let i = 0; i < 5; i++) {
    t.equal(await getVia(rig.router.ports.http, 'late.example.io', '/', `late-${i}`), 200, 'served without a bus');
  }
  const ready = await fetch(`http://127.0.0.1:${rig.router.ports.admin}/readyz`);
  t.equal(ready.status, 200, '/readyz does not depend on the bus');
  let s = await scrape(rig.router.ports.admin);
  t.equal(s.get('edgeplane_router_bus_connected'), 0, 'metrics: not connected');
  t.equal(s.get('edgeplane_router_bus_outbox_depth'), 5, 'the lines wait in the outbox');

  await nats.node(0).restart();
  const msgs = await rig.reader.until((m) => summarize(m).lines.length >= 5, 60000, 'the held lines');
  t.same(summarize(msgs).lines.map((m) => requestIdOf(m.record!.message)), [0, 1, 2, 3, 4].map((i) => `late-${i}`));
  await until(async () => (await scrape(rig.router.ports.admin)).get('edgeplane_router_bus_connected') === 1, 30000, 'metrics: connected');
  s = await scrape(rig.router.ports.admin);
  t.equal(s.get('edgeplane_router_bus_outbox_depth'), 0);
});
