import t from 'tap';
import { baseConfig, startDyno, startRouter, until, writeConfig, type Dyno } from '../../support/router-harness.js';
import { admin, putConfig, runningVersion } from '../support/admin-client.js';
import { scrape } from '../support/prometheus.js';
import { waitForLog } from '../support/router-logs.js';
import { perWorker, threadOf, throughEveryWorker } from '../support/worker-probe.js';

// Worker faults: a crashed worker is replaced and serves again; a config that one
// worker cannot apply leaves every worker (and GET /config) on the previous one. Faults come
// from the test hooks (ROUTER_TEST_HOOKS=1, docs/router/operations.md, Test hooks).

let dyno: Dyno;
t.before(async () => {
  dyno = await startDyno((_req, res) => res.end('ok'));
});
t.teardown(() => dyno?.close());

const webOnly = (): Record<string, unknown> => baseConfig({ workers: 2, apps: { web: { dynos: [dyno.address] } } });
const withOther = (): Record<string, unknown> => baseConfig({ workers: 2, apps: { web: { dynos: [dyno.address] }, other: { dynos: [dyno.address] } } });

t.test('a crashed worker is replaced; service and metrics go on', async (t) => {
  const router = await startRouter(writeConfig(webOnly()), [], { ROUTER_TEST_HOOKS: '1' });
  t.teardown(() => router.stop());
  // a reload before the crash: the replacement must start with the current config
  t.equal((await putConfig(router.ports.admin, withOther())).status, 200);
  t.same(await throughEveryWorker(router, 'web.example.io', 200), []);
  const before = await scrape(router.ports.admin);
  const oldThread = threadOf(before, 0);
  t.ok(oldThread);
  t.equal(before.get('edgeplane_router_worker_restarts_total'), 0);

  t.equal((await admin(router.ports.admin, 'POST', '/debug/workers/0/crash')).status, 202);
  const crashed = await waitForLog(router, (e) => e.msg === 'router worker crashed', 'the crash');
  t.match(String(crashed.err), /test hook: worker crash requested/);
  await waitForLog(router, (e) => e.msg === 'router worker exited; replacing it', 'the replacement');
  let after = before;
  await until(async () => {
    after = await scrape(router.ports.admin);
    const thread = threadOf(after, 0);
    return thread !== undefined && thread !== oldThread;
  }, 30000, 'a new thread for worker 0');
  t.equal(after.get('edgeplane_router_worker_restarts_total'), 1);
  t.equal(after.get('edgeplane_router_workers', { state: 'ready' }), 2);
  t.ok(perWorker(after, 0) < perWorker(before, 0), 'the replacement counts from zero (the crashed counts are gone)');

  // both workers serve again, the replacement with the config applied before the crash
  t.same(await throughEveryWorker(router, 'other.example.io', 200), [], 'the replacement runs the current config');
  t.same(await throughEveryWorker(router, 'web.example.io', 200), []);
  t.equal(router.proc.exitCode, null, 'the process never went down');
  t.equal(await router.stop(), 0, 'and stops cleanly');
});

t.test('a config one worker cannot apply: every worker and GET /config stay on the old one', async (t) => {
  const router = await startRouter(writeConfig(webOnly()), [], { ROUTER_TEST_HOOKS: '1' });
  t.teardown(() => router.stop());
  const adminPort = router.ports.admin;
  const old = await runningVersion(adminPort);

  t.equal((await admin(adminPort, 'POST', '/debug/workers/1/fail-next-apply')).status, 202);
  const put = await putConfig(adminPort, withOther());
  t.equal(put.status, 500, put.body);
  t.equal(put.error, 'E_APPLY');
  t.match(put.problems?.join('\n'), /^worker 1: /);
  t.equal(await runningVersion(adminPort), old, 'GET /config still shows the old version');
  const failed = await waitForLog(router, (e) => e.msg === 'config reload failed; every worker keeps the running config', 'the failure');
  t.equal(failed.reason, 'PUT /config');
  t.equal(failed.running, old);
  // worker 0 had applied the new config; it went back: nobody serves the new app
  t.same(await throughEveryWorker(router, 'other.example.io', 404), [], 'no worker serves the refused config');
  t.same(await throughEveryWorker(router, 'web.example.io', 200), []);
  const m = await scrape(adminPort);
  t.equal(m.get('edgeplane_router_config_reloads_total', { result: 'failed', trigger: 'put' }), 1);
  t.equal(m.get('edgeplane_router_config_info', { version: old }), 1);

  // the fault was for one apply only: the same document now applies everywhere
  const again = await putConfig(adminPort, withOther());
  t.equal(again.status, 200, again.body);
  t.same(await throughEveryWorker(router, 'other.example.io', 200), []);
  t.equal(await runningVersion(adminPort), again.version);
});
