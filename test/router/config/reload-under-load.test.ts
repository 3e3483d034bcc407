import t from 'tap';
import autocannon from 'autocannon';
import { baseConfig, startDyno, startRouter, writeConfig, type Dyno, type RunningRouter } from '../../support/router-harness.js';
import { putConfig, runningVersion } from '../support/admin-client.js';
import { get } from '../support/http-get.js';
import { scrape } from '../support/prometheus.js';

// Hot reload, nothing dropped: 20 reloads through PUT /config while autocannon keeps
// two workers busy for 6 seconds. Every document keeps the app under load and its dyno; some
// add or remove another app, one changes the site's routes.

let dyno: Dyno;
let router: RunningRouter;

function doc(variant: 'base' | 'with-other' | 'more-routes'): Record<string, unknown> {
  const apps: Record<string, unknown> = { web: { dynos: [dyno.address] } };
  if (variant === 'with-other') apps.other = { dynos: [dyno.address] };
  const routes: unknown[] = [{ path: '/', app: 'web' }];
  if (variant === 'more-routes') routes.push({ path: '/v2', app: 'web', target: '/' });
  return baseConfig({ workers: 2, apps, sites: { 'www.example.com': { routes } } });
}

t.before(async () => {
  dyno = await startDyno((_req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end('ok');
  });
  router = await startRouter(writeConfig(doc('base')));
});
t.teardown(async () => {
  await router?.stop();
  await dyno?.close();
});

t.test('20 reloads in 6 s under load: zero non-2xx, zero errors, zero timeouts', async (t) => {
  const admin = router.ports.admin;
  const initial = await runningVersion(admin);
  // the load runs until every reload is done and at least 6 s have passed (a busy machine may
  // need longer for the 20 reloads; they all happen under load either way)
  const started = Date.now();
  const load = autocannon({
    url: `http://127.0.0.1:${router.ports.http}`,
    connections: 16,
    duration: 120,
    timeout: 20,
    requests: [
      { method: 'GET', path: '/a?x=1', headers: { host: 'web.example.io' } },
      { method: 'GET', path: '/b', headers: { host: 'www.example.com' } },
      { method: 'POST', path: '/c', headers: { host: 'WEB.example.io.', 'content-type': 'text/plain' }, body: 'hello' },
    ],
  });

  // each document differs from the one before it, so each PUT is a real reload
  const cycle = ['with-other', 'base', 'more-routes', 'base'] as const;
  const versions: string[] = [];
  const problems: string[] = [];
  for (let i = 0; i < 20; i++) {
    const variant = cycle[i % cycle.length];
    const put = await putConfig(admin, doc(variant));
    if (put.status !== 200 || !put.version) problems.push(`reload ${i} (${variant}): ${put.status} ${put.body}`);
    versions.push(put.version ?? '');
    // the reload took effect before PUT answered, on whichever worker takes this connection
    const other = await get(router.ports.http, 'other.example.io');
    if (other.status !== (variant === 'with-other' ? 200 : 404)) problems.push(`reload ${i} (${variant}): other app answered ${other.status}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  await new Promise((r) => setTimeout(r, Math.max(0, 6000 - (Date.now() - started))));
  load.stop();
  const result = await load;

  t.same(problems, [], 'every PUT answered 200 with a version and took effect at once');
  t.equal(new Set(versions).size, 3, 'three distinct documents, each with its version');
  t.not(versions[0], initial);
  t.equal(await runningVersion(admin), versions[19], 'GET /config shows the last one');
  t.ok(result['2xx'] > 200, `load was served (${result['2xx']} responses)`);
  t.equal(result.non2xx, 0, 'no non-2xx response');
  t.equal(result.errors, 0, 'no connection error');
  t.equal(result.timeouts, 0, 'no timeout');
  t.equal(result.mismatches, 0);

  const m = await scrape(admin);
  t.equal(m.get('edgeplane_router_config_reloads_total', { result: 'applied', trigger: 'put' }), 20, '20 reloads applied');
  t.equal(m.get('edgeplane_router_config_reloads_total', { result: 'failed', trigger: 'put' }), undefined, 'none failed');
  t.equal(m.get('edgeplane_router_requests_total', { app: 'web', status: '5xx' }), 0, 'the router counted no 5xx either');
  t.ok((m.get('edgeplane_router_requests_total', { app: 'web', status: '2xx' }) ?? 0) >= result['2xx'], 'and counted every 2xx');
});
