import t from 'tap';
import autocannon from 'autocannon';
import { baseConfig, startDyno, startRouter, until, writeConfig, type Dyno } from '../../support/router-harness.js';
import { admin, putConfig } from '../support/admin-client.js';
import { get } from '../support/http-get.js';
import { scrape } from '../support/prometheus.js';
import { perWorker, threadOf } from '../support/worker-probe.js';

// Worker threads: `workers: 2` spreads the load over both threads, and the fault
// injection routes exist only with ROUTER_TEST_HOOKS=1.

let dyno: Dyno;
t.before(async () => {
  dyno = await startDyno((_req, res) => res.end('ok'));
});
t.teardown(() => dyno?.close());

const webOnly = (): Record<string, unknown> => baseConfig({ workers: 2, apps: { web: { dynos: [dyno.address] } } });
const withOther = (): Record<string, unknown> => baseConfig({ workers: 2, apps: { web: { dynos: [dyno.address] }, other: { dynos: [dyno.address] } } });

t.test('two workers share the load', async (t) => {
  const router = await startRouter(writeConfig(webOnly()));
  t.teardown(() => router.stop());
  const result = await autocannon({ url: `http://127.0.0.1:${router.ports.http}`, connections: 20, amount: 1000, headers: { host: 'web.example.io' } });
  t.equal(result['2xx'], 1000);
  const m = await scrape(router.ports.admin);
  t.equal(m.get('edgeplane_router_workers', { state: 'configured' }), 2);
  t.equal(m.get('edgeplane_router_workers', { state: 'ready' }), 2);
  const a = perWorker(m, 0);
  const b = perWorker(m, 1);
  t.ok(a > 0 && b > 0, `both workers served (${a} and ${b})`);
  t.equal(a + b, 1000, 'and together every request');
  t.equal(m.get('edgeplane_router_requests_total', { app: 'web', status: '2xx' }), 1000, 'the app counters are summed over workers');
  t.not(threadOf(m, 0), threadOf(m, 1), 'two threads');
});

t.test('test hooks are off by default', async (t) => {
  const router = await startRouter(writeConfig(webOnly()));
  t.teardown(() => router.stop());
  t.equal((await admin(router.ports.admin, 'POST', '/debug/workers/0/crash')).status, 404);
  t.equal((await admin(router.ports.admin, 'POST', '/debug/workers/0/fail-next-apply')).status, 404);
  t.equal((await putConfig(router.ports.admin, withOther())).status, 200);
});

t.test('one worker on port 0: its replacement serves on the same port', async (t) => {
  const router = await startRouter(writeConfig(baseConfig({ workers: 1, apps: { web: { dynos: [dyno.address] } } })), [], { ROUTER_TEST_HOOKS: '1' });
  t.teardown(() => router.stop());
  t.equal((await get(router.ports.http, 'web.example.io')).status, 200);
  const before = threadOf(await scrape(router.ports.admin), 0);
  t.equal((await admin(router.ports.admin, 'POST', '/debug/workers/0/crash')).status, 202);
  await until(async () => {
    const now = threadOf(await scrape(router.ports.admin), 0);
    return now !== undefined && now !== before;
  }, 30000, 'the replacement');
  t.equal((await get(router.ports.http, 'web.example.io')).status, 200, `served again on port ${router.ports.http}`);
  t.equal(await router.stop(), 0);
});
