import t from 'tap';
import { baseConfig, startDyno, startRouter, type Dyno } from '../../support/router-harness.js';
import { runningVersion } from '../support/admin-client.js';
import { configMapVolume, hiddenConfigFile } from '../support/config-dirs.js';
import { get } from '../support/http-get.js';
import { scrape } from '../support/prometheus.js';
import { logEntries, waitForLog } from '../support/router-logs.js';

// SIGHUP and file changes re-read the config file (DESIGN.md); a bad file leaves the running
// config serving and is logged as refused, with every problem and what triggered the reload.

let dyno: Dyno;
t.before(async () => {
  dyno = await startDyno((_req, res) => res.end('ok'));
});
t.teardown(() => dyno?.close());

const webOnly = (): Record<string, unknown> => baseConfig({ workers: 2, apps: { web: { dynos: [dyno.address] } } });
const withOther = (): Record<string, unknown> => baseConfig({ workers: 2, apps: { web: { dynos: [dyno.address] }, other: { dynos: [dyno.address] } } });
const BAD = { domain: 7, listen: { http: { host: '127.0.0.1', port: 0 } }, apps: { web: { dynos: ['not a dyno'] } }, surprise: true };

/** Every worker serves `host` with `status`: fresh connections spread over the workers. */
async function allServe(port: number, host: string, status: number): Promise<number[]> {
  const seen: number[] = [];
  for (let i = 0; i < 12; i++) seen.push((await get(port, host)).status);
  return seen.filter((s) => s !== status);
}

t.test('SIGHUP on its own re-reads the file; a bad file is refused and the old config serves', async (t) => {
  const file = hiddenConfigFile(webOnly());
  const router = await startRouter(file.path);
  t.teardown(() => router.stop());
  const http = router.ports.http;
  const admin = router.ports.admin;
  const first = await runningVersion(admin);
  t.equal((await get(http, 'other.example.io')).status, 404);

  // a change the directory watcher cannot see: only the signal can make the router read it
  file.write(withOther());
  router.proc.kill('SIGHUP');
  const applied = await waitForLog(router, (e) => e.msg === 'config applied', 'the SIGHUP reload');
  t.equal(applied.reason, 'SIGHUP');
  t.equal(applied.previous, first);
  t.equal(await runningVersion(admin), applied.version, 'GET /config shows the new version');
  t.same(await allServe(http, 'other.example.io', 200), [], 'every worker serves the new app');

  // the same file again: nothing to apply
  router.proc.kill('SIGHUP');
  const unchanged = await waitForLog(router, (e) => e.msg === 'config unchanged', 'the unchanged reload');
  t.equal(unchanged.reason, 'SIGHUP');

  // a bad document: refused whole, every problem logged, the old table keeps serving
  file.write(BAD);
  router.proc.kill('SIGHUP');
  const refused = await waitForLog(router, (e) => e.msg === 'config reload refused; keeping the running config', 'the refused reload');
  t.equal(refused.reason, 'SIGHUP');
  t.equal(refused.level, 50, 'logged as an error');
  const problems = (refused.problems as string[]).join('\n');
  t.match(problems, /domain/);
  t.match(problems, /surprise/);
  t.match(problems, /apps\.web\.dynos/);
  t.equal(await runningVersion(admin), applied.version, 'still the previous version');
  t.same(await allServe(http, 'other.example.io', 200), [], 'the old config still serves');

  // not JSON at all
  file.write('{ "domain": ');
  router.proc.kill('SIGHUP');
  await waitForLog(router, (e) => e.msg === 'config reload refused; keeping the running config', 'the second refused reload', 2);

  const m = await scrape(admin);
  t.equal(m.get('edgeplane_router_config_reloads_total', { result: 'applied', trigger: 'sighup' }), 1);
  t.equal(m.get('edgeplane_router_config_reloads_total', { result: 'refused', trigger: 'sighup' }), 2);
  t.equal(m.all('edgeplane_router_config_reloads_total', { trigger: 'watch' }).length, 0, 'the watcher saw nothing');
  t.equal(logEntries(router).filter((e) => e.msg === 'config applied').length, 1);
});

t.test('a Kubernetes ConfigMap symlink swap is watched', async (t) => {
  const volume = configMapVolume(webOnly());
  const router = await startRouter(volume.path);
  t.teardown(() => router.stop());
  const http = router.ports.http;
  const admin = router.ports.admin;
  t.equal((await get(http, 'other.example.io')).status, 404);

  volume.update(withOther());
  const applied = await waitForLog(router, (e) => e.msg === 'config applied', 'the swap to be applied');
  t.equal(applied.reason, 'file change');
  t.same(await allServe(http, 'other.example.io', 200), [], 'every worker serves the new app');

  volume.update(BAD);
  const refused = await waitForLog(router, (e) => e.msg === 'config reload refused; keeping the running config', 'the bad swap');
  t.equal(refused.reason, 'file change');
  t.match((refused.problems as string[]).join('\n'), /domain/);
  t.equal(await runningVersion(admin), applied.version);
  t.same(await allServe(http, 'other.example.io', 200), [], 'the old config still serves');

  volume.update(webOnly());
  const back = await waitForLog(router, (e) => e.msg === 'config applied', 'the third swap', 2);
  t.equal(back.reason, 'file change');
  t.same(await allServe(http, 'other.example.io', 404), [], 'the app is gone again');

  const m = await scrape(admin);
  t.equal(m.get('edgeplane_router_config_reloads_total', { result: 'applied', trigger: 'watch' }), 2);
  t.ok((m.get('edgeplane_router_config_reloads_total', { result: 'refused', trigger: 'watch' }) ?? 0) >= 1);
});
