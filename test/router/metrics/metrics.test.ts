import t from 'tap';
import { baseConfig, deadAddress, startDyno, startRawDyno, startRouter, until, writeConfig, type Dyno, type RawDyno, type RunningRouter } from '../../support/router-harness.js';
import { putConfig } from '../support/admin-client.js';
import { get } from '../support/http-get.js';
import { scrape, type Scrape } from '../support/prometheus.js';

// GET /metrics, parsed as Prometheus text: requests by app and status class, the latency
// histogram, upstream errors by H code, ejected dynos, reloads; summed over two workers.

let dyno: Dyno;
let closer: RawDyno;
let router: RunningRouter;
let config: Record<string, unknown>;

t.before(async () => {
  // the path picks the status: /s/404 answers 404, anything else 200
  dyno = await startDyno((req, res) => {
    const m = /^\/s\/(\d{3})$/.exec(req.url ?? '');
    res.statusCode = m ? Number(m[1]) : 200;
    res.end('x');
  });
  closer = await startRawDyno((sock) => sock.destroy());
  config = baseConfig({
    workers: 2,
    apps: {
      web: { dynos: [dyno.address] },
      dead: { dynos: [await deadAddress()] },
      empty: { dynos: [] },
      maint: { dynos: [dyno.address], maintenance: true },
      lonely: { dynos: [closer.address] },
    },
  });
  router = await startRouter(writeConfig(config));
});
t.teardown(async () => {
  await router?.stop();
  await dyno?.close();
  await closer?.close();
});

async function hit(host: string, path: string, times: number, status: number): Promise<void> {
  for (let i = 0; i < times; i++) {
    const r = await get(router.ports.http, host, path);
    if (r.status !== status) throw new Error(`${host}${path}: ${r.status}, expected ${status}`);
  }
}

t.test('requests, latency, upstream errors, ejections and reloads', async (t) => {
  await hit('web.example.io', '/', 7, 200);
  await hit('web.example.io', '/s/404', 3, 404);
  await hit('web.example.io', '/s/500', 2, 500);
  await hit('web.example.io', '/s/302', 1, 302);
  await hit('dead.example.io', '/', 3, 503);
  await hit('empty.example.io', '/', 2, 503);
  await hit('maint.example.io', '/', 1, 503);
  await hit('nobody.example.io', '/', 2, 404);
  // a failing dyno is ejected for at least a second after each failure: fail it, then look
  let m: Scrape = await scrape(router.ports.admin);
  let lonely = 0;
  await until(async () => {
    await hit('lonely.example.io', '/', 1, 503);
    lonely++;
    m = await scrape(router.ports.admin);
    return (m.get('edgeplane_router_dynos_ejected') ?? 0) >= 1;
  }, 30000, 'an ejected dyno in the gauge');
  t.pass(`the ejected gauge rose (${m.get('edgeplane_router_dynos_ejected')}) after ${lonely} failure(s)`);

  t.equal(m.types.get('edgeplane_router_requests_total'), 'counter');
  t.equal(m.types.get('edgeplane_router_request_duration_seconds'), 'histogram');
  t.equal(m.types.get('edgeplane_router_upstream_errors_total'), 'counter');
  t.equal(m.types.get('edgeplane_router_dynos_ejected'), 'gauge');
  t.equal(m.types.get('edgeplane_router_config_reloads_total'), 'counter');

  const req = (app: string, status: string): number | undefined => m.get('edgeplane_router_requests_total', { app, status });
  t.equal(req('web', '2xx'), 7);
  t.equal(req('web', '3xx'), 1);
  t.equal(req('web', '4xx'), 3);
  t.equal(req('web', '5xx'), 2, 'a dyno 500 is the app\'s 5xx');
  t.equal(req('web', '1xx'), 0);
  t.equal(req('dead', '5xx'), 3);
  t.equal(req('empty', '5xx'), 2);
  t.equal(req('maint', '5xx'), 1);
  t.equal(req('lonely', '5xx'), lonely);
  t.equal(m.all('edgeplane_router_requests_total', { app: 'nobody' }).length, 0, 'an unknown host is no app');

  // histogram: increasing bounds, cumulative counts, +Inf = count = the app's requests
  const buckets = m.all('edgeplane_router_request_duration_seconds_bucket', { app: 'web' });
  t.ok(buckets.length >= 5, `${buckets.length} buckets`);
  t.equal(buckets[buckets.length - 1].labels.le, '+Inf');
  const le = (v: string): number => (v === '+Inf' ? Infinity : Number(v));
  for (let i = 1; i < buckets.length; i++) {
    t.ok(le(buckets[i].labels.le) > le(buckets[i - 1].labels.le), `le ${buckets[i].labels.le} after ${buckets[i - 1].labels.le}`);
    t.ok(buckets[i].value >= buckets[i - 1].value, 'cumulative');
  }
  t.equal(buckets[buckets.length - 1].value, 13);
  t.equal(m.get('edgeplane_router_request_duration_seconds_count', { app: 'web' }), 13);
  const sum = m.get('edgeplane_router_request_duration_seconds_sum', { app: 'web' }) ?? 0;
  t.ok(sum > 0 && sum < 13 * 30, `sum ${sum} s`);
  t.ok(buckets[0].value <= 13);

  const errors = (app: string, code: string): number | undefined => m.get('edgeplane_router_upstream_errors_total', { app, code });
  t.equal(errors('dead', 'H10'), 3);
  t.equal(errors('empty', 'H14'), 2);
  t.equal(errors('maint', 'H80'), 1);
  t.equal(m.all('edgeplane_router_upstream_errors_total', { app: 'lonely' }).reduce((n, s) => n + s.value, 0), lonely, 'every lonely failure has its code');
  t.same(m.all('edgeplane_router_upstream_errors_total', { app: 'web' }), [], 'statuses from the dyno are no upstream errors');

  t.equal(m.get('edgeplane_router_requests_in_flight'), 0);
  t.equal(m.get('edgeplane_router_websockets_open'), 0);
  t.equal(m.get('edgeplane_router_worker_restarts_total'), 0);
  // prom-client's default metrics under the `edgeplane_router_process_` prefix
  t.ok((m.get('edgeplane_router_process_process_cpu_user_seconds_total') ?? 0) > 0, 'process metrics');

  // reloads by result and trigger
  t.equal(m.all('edgeplane_router_config_reloads_total').length, 0, 'no reload yet');
  t.equal((await putConfig(router.ports.admin, { ...config, apps: { ...(config.apps as object), extra: { dynos: [] } } })).status, 200);
  t.equal((await putConfig(router.ports.admin, { ...config, domain: 5 })).status, 400);
  t.equal((await putConfig(router.ports.admin, { ...config, domain: '' })).status, 400);
  const after = await scrape(router.ports.admin);
  t.equal(after.get('edgeplane_router_config_reloads_total', { result: 'applied', trigger: 'put' }), 1);
  t.equal(after.get('edgeplane_router_config_reloads_total', { result: 'refused', trigger: 'put' }), 2);
  t.equal(after.get('edgeplane_router_requests_total', { app: 'web', status: '2xx' }), 7, 'request counters survive a reload');
});
