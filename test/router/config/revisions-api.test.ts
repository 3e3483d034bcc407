import t from 'tap';
import { baseConfig, echoDyno, startRouter, writeConfig, type Dyno, type RunningRouter } from '../../support/router-harness.js';
import { get } from '../support/http-get.js';
import { scrape } from '../support/prometheus.js';
import { logEntries, waitForLog } from '../support/router-logs.js';
import { admin, patchConfig, putConfig, revisions, rollback, running, MERGE_PATCH } from './support/config-admin.js';

// Config revisions on a real router (DESIGN.md "Config revisions, partial updates, rollback"):
// ETag on GET /config, If-Match on PUT and PATCH, merge patches, the revision list, rollback,
// and what a bad change gets (nothing changed).

let a: Dyno;
let b: Dyno;
let router: RunningRouter;
let port: number;
let initial: Record<string, unknown>;

/** Which dyno answered a GET through the router. */
async function servedBy(host: string, path = '/'): Promise<string> {
  const r = await get(router.ports.http, host, path);
  if (r.status !== 200) return String(r.status);
  return (JSON.parse(r.body) as { dyno: string }).dyno;
}

t.before(async () => {
  a = await echoDyno('a');
  b = await echoDyno('b');
  initial = baseConfig({
    workers: 2,
    apps: { web: { dynos: [a.address] }, api: { dynos: [b.address] } },
    sites: { 'www.example.com': { routes: [{ path: '/', app: 'web' }] } },
  });
  router = await startRouter(writeConfig(initial));
  port = router.ports.admin;
});
t.teardown(async () => {
  await router?.stop();
  await a?.close();
  await b?.close();
});

t.test('GET /config: the document with ETag "1"; If-None-Match answers 304', async (t) => {
  const g = await admin(port, 'GET', '/config');
  t.equal(g.status, 200);
  t.equal(g.headers.etag, '"1"');
  t.match(String(g.headers['x-config-version']), /^[0-9a-f]{12}$/);
  t.same(JSON.parse(g.body), initial);
  const again = await admin(port, 'GET', '/config', { headers: { 'if-none-match': '"1"' } });
  t.equal(again.status, 304);
  t.equal(again.body, '');
  t.equal(again.headers.etag, '"1"');
  t.equal((await admin(port, 'GET', '/config', { headers: { 'if-none-match': '"7"' } })).status, 200);
});

t.test('PATCH: merge patch applied, 200 {revision, version}, in effect before the answer', async (t) => {
  t.equal(await servedBy('www.example.com'), 'a');
  const p = await patchConfig(port, { sites: { 'www.example.com': { routes: [{ path: '/', app: 'api' }] } } }, { 'if-match': '"1"' });
  t.equal(p.status, 200, p.body);
  t.equal(p.json.revision, 2);
  t.match(p.json.version, /^[0-9a-f]{12}$/);
  t.equal(p.headers.etag, '"2"');
  // fresh connections spread over both workers: every one switched before the answer
  const seen: string[] = [];
  for (let i = 0; i < 12; i++) seen.push(await servedBy('www.example.com'));
  t.same(seen.filter((d) => d !== 'b'), [], 'every worker routes the site to api');
  const now = await running(port);
  t.equal(now.revision, 2);
  t.equal(now.version, p.json.version);
  t.same((now.doc.sites as Record<string, unknown>)['www.example.com'], { routes: [{ path: '/', app: 'api' }] });
  t.same(now.doc.apps, initial.apps, 'the rest of the document as it was');
  // deleting a key with null
  const q = await patchConfig(port, { apps: { web: { dynos: [a.address, b.address] } }, sites: { 'shop.example.com': { routes: [{ path: '/', app: 'web' }] } } });
  t.equal(q.json.revision, 3);
  const r = await patchConfig(port, { sites: { 'shop.example.com': null } });
  t.equal(r.json.revision, 4);
  t.equal((await get(router.ports.http, 'shop.example.com')).status, 404, 'the removed site is gone');
  t.notOk(Object.hasOwn((await running(port)).doc.sites as object, 'shop.example.com'));
});

t.test('If-Match: a stale revision gets 412 and changes nothing; the running one or * applies', async (t) => {
  const before = await running(port);
  const stale = await patchConfig(port, { apps: { extra: { dynos: [] } } }, { 'if-match': '"1"' });
  t.equal(stale.status, 412);
  t.equal(stale.json.error, 'E_PRECONDITION');
  t.equal((stale.json as { revision?: number }).revision, before.revision, 'names the running revision');
  t.equal(stale.headers.etag, `"${before.revision}"`, 'and its ETag');
  const weak = await patchConfig(port, { apps: { extra: { dynos: [] } } }, { 'if-match': `W/"${before.revision}"` });
  t.equal(weak.status, 412, 'a weak tag never matches (strong comparison)');
  const stalePut = await putConfig(port, initial, { 'if-match': '"2", "3"' });
  t.equal(stalePut.status, 412);
  const after = await running(port);
  t.equal(after.revision, before.revision, 'no revision made');
  t.same(after.doc, before.doc, 'nothing changed');
  t.equal((await get(router.ports.http, 'extra.example.io')).status, 404);

  const list = await patchConfig(port, { apps: { extra: { dynos: [] } } }, { 'if-match': `"1", "${before.revision}"` });
  t.equal(list.status, 200, 'a list naming the running revision matches');
  const star = await patchConfig(port, { apps: { extra: null } }, { 'if-match': '*' });
  t.equal(star.status, 200);
  const put = await putConfig(port, (await running(port)).doc, { 'if-match': `"${star.json.revision}"` });
  t.equal(put.status, 200, 'PUT honours If-Match too');
  t.equal(put.json.revision, star.json.revision, 'the same document again: no new revision');
  t.ok(put.json.version, 'PUT keeps answering the version');
});

t.test('two writers racing with the same If-Match: exactly one wins, the other gets 412', async (t) => {
  for (let round = 0; round < 4; round++) {
    const { revision } = await running(port);
    const tag = `"${revision}"`;
    const [x, y] = await Promise.all([
      patchConfig(port, { apps: { [`race-x${round}`]: { dynos: [] } } }, { 'if-match': tag }),
      patchConfig(port, { apps: { [`race-y${round}`]: { dynos: [] } } }, { 'if-match': tag }),
    ]);
    t.same([x.status, y.status].sort(), [200, 412], `round ${round}: ${x.status} ${y.status}`);
    const winner = x.status === 200 ? x : y;
    t.equal(winner.json.revision, revision + 1);
    const apps = (await running(port)).doc.apps as Record<string, unknown>;
    t.equal(Object.hasOwn(apps, `race-x${round}`), x.status === 200, 'only the winner changed the document');
    t.equal(Object.hasOwn(apps, `race-y${round}`), y.status === 200);
  }
});

t.test('bad changes: 400 with every problem, 415, 400 for a non-object; nothing changes', async (t) => {
  const before = await running(port);
  const bad = await patchConfig(port, {
    apps: { web: { dynos: ['not a dyno'] }, api: null },
    sites: { 'www.example.com': { routes: [{ path: 'relative', app: 'ghost' }] } },
    colour: 'blue',
  });
  t.equal(bad.status, 400);
  t.equal(bad.json.error, 'E_CONFIG');
  const all = (bad.json.problems ?? []).join('\n');
  for (const field of ['apps.web.dynos[0]', 'sites.www.example.com.routes[0].path', 'sites.www.example.com.routes[0].app', 'colour']) {
    t.ok(bad.json.problems?.some((p) => p.startsWith(field)), `names ${field}: ${all}`);
  }
  for (const [what, text] of [['an array', '[{"apps": {}}]'], ['a string', '"x"'], ['null', 'null'], ['a number', '7']]) {
    const r = await patchConfig(port, text);
    t.equal(r.status, 400, what);
    t.match(r.json.problems?.[0], /must be a JSON object/, what);
  }
  const notJson = await patchConfig(port, '{"apps": ');
  t.equal(notJson.status, 400);
  t.match(notJson.json.problems?.[0], /not valid JSON/);
  for (const type of ['application/json', 'application/json-patch+json', 'text/plain', undefined]) {
    const r = await admin(port, 'PATCH', '/config', { body: '{"apps": {}}', headers: type ? { 'content-type': type } : {} });
    t.equal(r.status, 415, `content type ${type ?? '(none)'}`);
    t.equal(r.headers['accept-patch'], MERGE_PATCH);
  }
  const charset = await admin(port, 'PATCH', '/config', { body: '{}', headers: { 'content-type': `${MERGE_PATCH}; charset=utf-8` } });
  t.equal(charset.status, 200, 'parameters of the media type are fine (an empty patch changes nothing)');
  const after = await running(port);
  t.equal(after.revision, before.revision);
  t.same(after.doc, before.doc);
  t.equal(await servedBy('www.example.com'), 'b', 'the running table still serves');
});

t.test('revisions: newest first, with source and digest; rollback restores a site\'s routes', async (t) => {
  const list = await revisions(port);
  t.equal(list.status, 200);
  t.match(String(list.headers['x-revisions-bytes']), /^[1-9][0-9]*$/, 'the memory estimate in a header');
  const revs = list.json;
  const { revision } = await running(port);
  t.equal(revs[0].revision, revision, 'newest first');
  t.same(revs.map((r) => r.revision), [...revs.map((r) => r.revision)].sort((x, y) => y - x));
  t.equal(revs[revs.length - 1].revision, 1);
  t.equal(revs[revs.length - 1].source, 'file');
  t.ok(revs.slice(0, -1).every((r) => r.source === 'patch'), 'the others are patches');
  for (const r of revs) {
    t.match(r.sha256, /^[0-9a-f]{64}$/);
    t.ok(!Number.isNaN(Date.parse(r.time)) && r.time.endsWith('Z'), `ISO time ${r.time}`);
  }

  t.equal(await servedBy('www.example.com'), 'b', 'the site routes to api since revision 2');
  const back = await rollback(port, { revision: 1 });
  t.equal(back.status, 200, back.body);
  t.equal(back.json.revision, revision + 1, 'a rollback is a new revision');
  t.equal(await servedBy('www.example.com'), 'a', 'revision 1\'s route again');
  t.equal(await servedBy('www.example.com'), 'a');
  t.same((await running(port)).doc, initial, 'revision 1\'s document');
  const after = (await revisions(port)).json;
  t.same({ ...after[0], time: '' }, { revision: revision + 1, time: '', source: 'rollback', sha256: revs[revs.length - 1].sha256, restored: 1 },
    'the same document has the same digest');

  t.equal((await rollback(port, { revision: 999 })).status, 404);
  t.equal((await rollback(port, { revision: 999 })).json.error, 'E_NO_REVISION');
  for (const body of ['{}', '{"revision": "2"}', '{"revision": 0}', '[2]', 'nope']) t.equal((await rollback(port, body)).status, 400, body);
  t.equal((await rollback(port, { revision: 2 }, { 'if-match': '"1"' })).status, 412, 'rollback honours If-Match');
});

t.test('history holds 20: older revisions drop off and cannot be rolled back to', async (t) => {
  const start = (await running(port)).revision;
  for (let i = 0; i < 21; i++) {
    const r = await patchConfig(port, { apps: { web: { maintenance: i % 2 === 0 } } });
    t.equal(r.status, 200);
  }
  const last = start + 21;
  const revs = (await revisions(port)).json;
  t.equal(revs.length, 20);
  t.equal(revs[0].revision, last);
  t.equal(revs[19].revision, last - 19);
  t.equal((await rollback(port, { revision: last - 20 })).status, 404, 'the 21st newest is gone');
  t.equal((await rollback(port, { revision: 1 })).status, 404);
  t.equal((await rollback(port, { revision: last - 19 })).status, 200, 'the oldest held one is there');
});

t.test('metrics and log: the revision gauge, applies by source and result, one line per apply', async (t) => {
  const { revision } = await running(port);
  const m = await scrape(port);
  t.equal(m.get('edgeplane_router_config_revision'), revision);
  t.ok((m.get('edgeplane_router_config_applies_total', { source: 'patch', result: 'applied' }) ?? 0) >= 25);
  t.ok((m.get('edgeplane_router_config_applies_total', { source: 'patch', result: 'stale' }) ?? 0) >= 5);
  t.ok((m.get('edgeplane_router_config_applies_total', { source: 'patch', result: 'refused' }) ?? 0) >= 6);
  t.equal(m.get('edgeplane_router_config_applies_total', { source: 'rollback', result: 'missing' }), 4);
  t.equal(m.get('edgeplane_router_config_applies_total', { source: 'rollback', result: 'applied' }), 2);
  t.equal(m.get('edgeplane_router_config_revisions_held'), 20);
  t.ok((m.get('edgeplane_router_config_revisions_bytes') ?? 0) > 0);
  t.equal(m.get('edgeplane_router_config_reloads_total', { result: 'applied', trigger: 'patch' }),
    m.get('edgeplane_router_config_applies_total', { source: 'patch', result: 'applied' }), 'the reload counter counts patches too');
  const last = await waitForLog(router, (e) => e.msg === 'config applied' && e.revision === revision, `the log line of revision ${revision}`);
  t.equal(last.reason, 'POST /config/rollback');
  t.equal(last.source, 'rollback');
  t.ok(typeof last.ms === 'number');
  const applied = logEntries(router).filter((e) => e.msg === 'config applied');
  t.same(applied.map((e) => e.revision), Array.from({ length: revision - 1 }, (_, i) => i + 2), 'one line per applied revision, in order');
  const patchLine = applied.find((e) => e.source === 'patch');
  t.same((patchLine?.workers as { mode?: string })?.mode, 'delta', 'a patch sends the workers only the change');
});
