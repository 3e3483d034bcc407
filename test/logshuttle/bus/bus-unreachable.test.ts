// A shuttle whose bus is unreachable at start: it starts anyway, says it is not ready, refuses
// POST /ingest with 503 + Retry-After (nothing taken), holds what syslog TCP ingest reads in its
// bounded outbox, and once NATS is up sets up the streams, seeds the config's drains, catches up
// and delivers. A config with both `bus` and `stateFile` is refused.
import t from 'tap';
import { startNatsServer } from '../../support/nats-cluster.js';
import { httpRequest } from '../helpers/http-client.js';
import { sendTcp, syslogFrame } from '../helpers/send.js';
import { MAIN, writeConfig } from '../helpers/shuttle-process.js';
import { waitFor } from '../helpers/wait.js';
import { startStreamReceiver } from '../drains/receivers.js';
import { spawnSync } from 'node:child_process';
import { metric, ndjson, parseReceived, readyz, startBusShuttle, waitReady } from './helpers/bus-shuttle.js';

// a hang's bound only (the machine may be loaded): the cluster and the processes take their time
t.setTimeout(600_000);

t.test('bus unreachable at start: not ready, HTTP ingest refused, TCP ingest held; catches up once NATS is up', async (t) => {
  const nats = await startNatsServer({ t });
  await nats.node(0).kill();
  const receiver = await startStreamReceiver();
  t.teardown(() => receiver.close());
  const app = 'late-bus-app';
  const s = await startBusShuttle(t, {
    servers: nats.servers, replicas: 1, partitions: 4, waitReady: false,
    extra: { drains: { [app]: [`syslog://127.0.0.1:${receiver.port}`] } },
  });
  const r = await readyz(s);
  t.equal(r.status, 503, '/readyz 503 while the bus is unreachable');
  t.equal(r.body.ready, false);
  t.equal((await httpRequest(`${s.base}/healthz`)).status, 200, '/healthz (liveness) stays 200');
  const post = await httpRequest(`${s.base}/ingest`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: ndjson([{ app, message: 'refused' }]) });
  t.equal(post.status, 503, 'POST /ingest: 503');
  t.equal(post.headers['retry-after'], '1', 'with Retry-After');
  t.match(JSON.parse(post.body), { code: 'E_BUS_UNAVAILABLE' });
  t.equal((await httpRequest(`${s.base}/apps/${app}/logs`)).status, 503, 'a tail: 503 (history is on the bus)');

  // syslog over TCP has no acknowledgement: read and held in the outbox until the bus is back
  await sendTcp(s.ports.syslog_tcp!, [1, 2, 3].map((i) => syslogFrame(app, 'web.1', `while down ${i}`)).join(''));
  await waitFor(async () => (await metric(s, 'edgeplane_shuttle_bus_outbox_depth')) === 3, 'three lines held in the outbox');
  t.equal(await metric(s, 'edgeplane_shuttle_bus_ready'), 0, 'metrics: not ready');
  t.equal(await metric(s, 'edgeplane_shuttle_bus_connected'), 0, 'metrics: not connected');

  await nats.node(0).restart();
  await waitReady(s);
  t.equal(await metric(s, 'edgeplane_shuttle_bus_ready'), 1, 'metrics: ready once NATS is up');
  await waitFor(() => receiver.messages.length >= 3, 'the held lines delivered to the drain seeded from the config', 60_000);
  t.same(receiver.messages.map((m) => parseReceived(m).msg), ['while down 1', 'while down 2', 'while down 3'], 'caught up, in order');
  const ok = await httpRequest(`${s.base}/ingest`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: ndjson([{ app, message: 'after' }]) });
  t.equal(ok.status, 200, 'POST /ingest: 200 once the bus stored the line');
  await waitFor(() => receiver.messages.some((m) => m.endsWith(' after')), 'the posted line delivered');
});

t.test('bus and stateFile together: a config error, exit 2, nothing started', async (t) => {
  const file = writeConfig({ listen: { http: { host: '127.0.0.1', port: 0 } }, stateFile: '/tmp/drains.json', bus: { servers: ['nats://127.0.0.1:1'] } });
  const r = spawnSync(process.execPath, [MAIN, '--config', file], { encoding: 'utf8', timeout: 60_000 });
  t.equal(r.status, 2);
  t.match(r.stderr, /stateFile: not used with bus/);
});
