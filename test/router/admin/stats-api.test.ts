import t from 'tap';
import { request } from 'node:http';
import { baseConfig, deadAddress, startDyno, startRouter, writeConfig, type Dyno, type RunningRouter } from '../../support/router-harness.js';
import { admin, putConfig } from '../support/admin-client.js';
import { getJson, openStream, pollUntil } from './support/stats-client.js';

// GET /stats and /stats/stream on a real router with 2 worker threads: exact counts merged from
// both workers, the stream's events, dyno ejection, config revisions and reload results.

/** A dyno answering the status named in the path: /status/404 -> 404. */
function statusDyno(): Promise<Dyno> {
  return startDyno((req, res) => {
    const m = /^\/status\/(\d{3})/.exec(req.url ?? '');
    res.statusCode = m ? Number(m[1]) : 200;
    res.end('ok');
  });
}

/** One request on its own connection (so that both workers get some), answered in full. */
function get(port: number, host: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

let dyno: Dyno;
let router: RunningRouter;
let dead: string;
const config = (extra: Record<string, unknown> = {}) => baseConfig({
  workers: 2,
  apps: {
    exact: { dynos: [dyno.address] },
    other: { dynos: [dyno.address] },
    flaky: { dynos: [dead, dyno.address] },
    ...extra,
  },
});

t.before(async () => {
  dyno = await statusDyno();
  dead = await deadAddress();
  router = await startRouter(writeConfig(config()));
});
t.teardown(async () => {
  await router?.stop();
  await dyno?.close();
});

t.test('exact counts: 7 requests (5 x 200, 1 x 404, 1 x 503) over 2 workers', async (t) => {
  const paths = ['/a', '/b', '/status/404', '/c', '/status/503', '/d', '/e'];
  const statuses = await Promise.all(paths.map((p) => get(router.ports.http, 'exact.example.io', p)));
  t.same(statuses.sort(), [200, 200, 200, 200, 200, 404, 503]);
  const stats = await pollUntil(() => getJson(router.ports.admin, '/stats?app=exact'), (r) => r.json.apps[0]?.window?.requests >= 7, 15000, '7 requests counted');
  t.equal(stats.status, 200);
  t.equal(stats.headers['content-type'], 'application/json');
  // one second more: nothing else comes in
  const second = stats.json.second;
  const later = await pollUntil(() => getJson(router.ports.admin, '/stats?app=exact'), (r) => r.json.second > second, 10000, 'the next second');
  const app = later.json.apps[0];
  t.equal(later.json.apps.length, 1, '?app= answers that app only');
  t.equal(app.name, 'exact');
  t.equal(app.window.requests, 7);
  t.same(app.window.classes, { '1xx': 0, '2xx': 5, '3xx': 0, '4xx': 1, '5xx': 1 });
  t.type(app.window.p50Ms, 'number');
  t.ok(app.window.p99Ms >= app.window.p50Ms, 'p99 >= p50');
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  t.equal(app.series.requests.length, 60, '60 one-second buckets');
  t.equal(sum(app.series.requests), 7, 'the buckets add up to the same 7');
  t.equal(sum(app.series['2xx']), 5);
  t.equal(sum(app.series['4xx']), 1);
  t.equal(sum(app.series['5xx']), 1);
  t.equal(later.json.timeline.length, 60);
  t.equal(later.json.workers.configured, 2);

  const top = await getJson(router.ports.admin, '/stats');
  t.equal(top.json.apps[0].name, 'exact', 'the busiest app first');
  t.same(top.json.apps.map((a: { name: string }) => a.name).sort(), ['exact', 'flaky', 'other'], 'then the configured apps without traffic');
  t.equal(top.json.counts.configured, 3);
});

t.test('bad queries', async (t) => {
  const unknown = await getJson(router.ports.admin, '/stats?app=nope');
  t.equal(unknown.status, 404);
  t.equal(unknown.json.error, 'E_NO_APP');
  t.match(await getJson(router.ports.admin, '/stats?app=%2Fetc'), { status: 400, json: { error: 'E_DASHBOARD_QUERY' } });
  t.equal((await getJson(router.ports.admin, '/stats?limit=0')).status, 400);
  t.equal((await admin(router.ports.admin, 'POST', '/stats')).status, 405);
  t.equal((await getJson(router.ports.admin, '/stats/stream?app=nope')).status, 404);
  t.equal((await getJson(router.ports.admin, '/dashboard/logs?app=exact')).json.error, 'E_NO_TAIL', 'no tail without dashboard.logshuttle');
});

t.test('the stream: a snapshot with 60 seconds, then a tick every second carrying new requests', async (t) => {
  const stream = await openStream(router.ports.admin, '/stats/stream');
  t.teardown(() => stream.close());
  t.equal(stream.status, 200);
  t.match(stream.contentType, /^text\/event-stream/);
  const snapshot = await stream.next((e) => e.event === 'snapshot', 10000, 'snapshot');
  t.equal(snapshot.data.timeline.length, 60);
  t.ok(snapshot.data.apps.every((a: { series?: unknown }) => a.series !== undefined), 'with series');
  const first = await stream.next((e) => e.event === 'tick', 10000, 'a tick');
  t.equal(first.data.timeline, undefined, 'a tick has no series');
  t.ok(first.data.apps.every((a: { series?: unknown }) => a.series === undefined));
  await Promise.all([1, 2, 3].map(() => get(router.ports.http, 'other.example.io', '/status/302')));
  const seen = await stream.next((e) => e.event === 'tick' && e.data.apps.some((a: any) => a.name === 'other' && a.window?.classes['3xx'] === 3), 10000, "the 3 requests of 'other'");
  t.ok(seen.data.second > first.data.second, 'a later second');
  t.ok(stream.events.filter((e) => e.event === 'snapshot').length === 1, 'one snapshot');
});

t.test('dynos: one refusing connections shows ejected', async (t) => {
  const app = await pollUntil(async () => {
    await get(router.ports.http, 'flaky.example.io', '/');
    return (await getJson(router.ports.admin, '/stats?app=flaky')).json.apps[0];
  }, (a) => a.dynos.ejected === 1, 20000, 'the dead dyno ejected');
  t.equal(app.dynos.total, 2);
  const deadOne = app.dynos.list.find((d: { address: string }) => d.address === dead);
  t.match(deadOne, { ejected: true });
  t.ok(deadOne.workers >= 1 && deadOne.forMs > 0, 'by at least one worker, for a while');
  t.match(app.dynos.list.find((d: { address: string }) => d.address === dyno.address), { ejected: false, workers: 0 });
});

t.test('config: the running revision and the last reloads with their result', async (t) => {
  const before = await getJson(router.ports.admin, '/stats?limit=1');
  t.equal(before.json.config.revision, 1);
  t.same(before.json.config.reloads, []);
  const put = await putConfig(router.ports.admin, config({ added: { dynos: [] } }));
  t.equal(put.status, 200);
  const bad = await putConfig(router.ports.admin, { ...config(), apps: 3 });
  t.equal(bad.status, 400);
  const after = await getJson(router.ports.admin, '/stats?limit=1');
  t.equal(after.json.config.revision, 2);
  t.equal(after.json.config.source, 'put');
  t.match(after.json.config.reloads, [
    { trigger: 'put', source: 'put', result: 'refused', revision: 2 },
    { trigger: 'put', source: 'put', result: 'applied', revision: 2 },
  ]);
  t.type(after.json.config.reloads[1].ms, 'number');
  t.equal(after.json.counts.configured, 4);
});
