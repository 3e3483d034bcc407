import t from 'tap';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { baseConfig, echoDyno, startRouter, type Dyno } from '../../support/router-harness.js';
import { configMapVolume, hiddenConfigFile } from '../support/config-dirs.js';
import { get } from '../support/http-get.js';
import { logEntries, waitForLog } from '../support/router-logs.js';
import { largeRouterConfig, siteHost } from '../../../bench/lib/large-config.js';
import { patchConfig, revisions, running } from './support/config-admin.js';

// One owner, one queue (DESIGN.md "Config revisions"): file changes, SIGHUP, PUT, PATCH and
// rollback are applied in arrival order. SIGHUP and file changes re-read the file and the file
// wins over earlier patches; a patch that arrives during a file reload is applied after it,
// onto the file's document, and is not lost.

let dyno: Dyno;
t.before(async () => {
  dyno = await echoDyno('d');
});
t.teardown(() => dyno?.close());

const small = (extra: Record<string, unknown> = {}): Record<string, unknown> =>
  baseConfig({ workers: 2, apps: { web: { dynos: [dyno.address] }, ...extra } });

t.test('the file wins over earlier patches; a change event that did not change the file keeps them', async (t) => {
  const volume = configMapVolume(small());
  const router = await startRouter(volume.path, [], { LOG_LEVEL: 'debug' });
  t.teardown(() => router.stop());
  const admin = router.ports.admin;

  const p = await patchConfig(admin, { apps: { web: { maintenance: true }, patched: { dynos: [dyno.address] } } });
  t.equal(p.status, 200);
  t.equal((await get(router.ports.http, 'web.example.io')).status, 503, 'the patch is in effect');

  // another file of the watched directory changes: the config file did not, the patch stays
  const started = logEntries(router).filter((e) => e.msg === 'config change started' && e.reason === 'file change').length;
  writeFileSync(join(dirname(volume.path), 'notes.txt'), 'not the config');
  await waitForLog(router, (e) => e.msg === 'config change started' && e.reason === 'file change', 'the change event', started + 1);
  // an empty patch queues behind it: once it answers, the file reload is done
  t.equal((await patchConfig(admin, {})).status, 200);
  t.equal((await running(admin)).revision, p.json.revision, 'no new revision');
  t.equal((await get(router.ports.http, 'patched.example.io')).status, 200, 'the patch survived');

  // SIGHUP: the file is read again and wins
  router.proc.kill('SIGHUP');
  const sighup = await waitForLog(router, (e) => e.msg === 'config applied' && e.reason === 'SIGHUP', 'the SIGHUP reload');
  t.equal(sighup.revision, p.json.revision! + 1);
  t.equal(sighup.source, 'file');
  t.same((await running(admin)).doc, small(), 'the file\'s document, patches gone');
  t.equal((await get(router.ports.http, 'web.example.io')).status, 200);
  t.equal((await get(router.ports.http, 'patched.example.io')).status, 404);

  // a patch, then the file changes: the file wins again
  t.equal((await patchConfig(admin, { apps: { web: { maintenance: true } } })).status, 200);
  volume.update(small({ other: { dynos: [dyno.address] } }));
  const changed = await waitForLog(router, (e) => e.msg === 'config applied' && e.reason === 'file change', 'the file change');
  t.same((await running(admin)).doc, small({ other: { dynos: [dyno.address] } }));
  t.equal((await get(router.ports.http, 'web.example.io')).status, 200, 'the patch is gone');
  const revs = (await revisions(admin)).json;
  t.same(revs.slice(0, 4).map((r) => [r.revision, r.source]), [[changed.revision, 'file'], [changed.revision as number - 1, 'patch'], [sighup.revision, 'file'], [p.json.revision, 'patch']]);
});

t.test('a patch arriving during a file reload is applied after it, onto the file\'s document', async (t) => {
  // large enough that reading and checking the file takes a while (every site changes)
  const doc = (variant: number, extra: Record<string, unknown>): Record<string, unknown> => {
    const d = largeRouterConfig(variant) as { apps: Record<string, unknown> } & Record<string, unknown>;
    return { ...d, workers: 2, apps: { ...d.apps, probe: { dynos: [dyno.address] }, ...extra } };
  };
  const file = hiddenConfigFile(doc(0, {}));
  const router = await startRouter(file.path, [], { LOG_LEVEL: 'debug' });
  t.teardown(() => router.stop());
  const admin = router.ports.admin;

  file.write(doc(1, { 'from-file': { dynos: [dyno.address] } }));
  router.proc.kill('SIGHUP');
  await waitForLog(router, (e) => e.msg === 'config change started' && e.reason === 'SIGHUP', 'the SIGHUP reload to start');
  const p = await patchConfig(admin, { apps: { 'from-patch': { dynos: [dyno.address] } } });
  t.equal(p.status, 200, p.body);

  const queued = logEntries(router).find((e) => e.msg === 'config change queued' && e.reason === 'PATCH /config');
  t.equal(queued?.behind, 'SIGHUP', 'the patch arrived while the file reload ran');
  const fileApplied = await waitForLog(router, (e) => e.msg === 'config applied' && e.reason === 'SIGHUP', 'the SIGHUP apply');
  t.equal(p.json.revision, (fileApplied.revision as number) + 1, 'the patch is the next revision');
  const now = await running(admin);
  const apps = now.doc.apps as Record<string, unknown>;
  t.ok(Object.hasOwn(apps, 'from-file') && Object.hasOwn(apps, 'from-patch'), 'both the file\'s change and the patch');
  const site = (now.doc.sites as Record<string, { routes: { target: string }[] }>)[siteHost(7)];
  t.equal(site.routes[site.routes.length - 1].target, '/v1', 'the file\'s sites');
  t.equal((await get(router.ports.http, 'from-file.example.io')).status, 200);
  t.equal((await get(router.ports.http, 'from-patch.example.io')).status, 200);
  const order = logEntries(router).filter((e) => e.msg === 'config applied').map((e) => e.reason);
  t.same(order, ['SIGHUP', 'PATCH /config'], 'applied in arrival order');
});
