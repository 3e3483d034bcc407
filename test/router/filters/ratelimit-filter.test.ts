import t from 'tap';
import { createHash } from 'node:crypto';
import { Agent } from 'node:http';
import { baseConfig, until } from '../../support/router-harness.js';
import { call, inParallel, metric, problem, putConfig, recordingDyno, rssKb, startEdgeRouter, type Reply } from './support/edge-rig.js';

// ratelimit through a real router process with 2 worker threads: exact counts under concurrent
// load (the shared table), the RateLimit headers' arithmetic on passed and refused responses,
// Retry-After, the bucket keys (ip, key, path, header), buckets kept across a reload that does
// not change the filter, and bounded memory under a flood of distinct keys.

// only bounds a hang: the machine is shared, every wait has its own deadline
t.setTimeout(600_000);

const sha = (key: string): string => createHash('sha256').update(key, 'utf8').digest('hex');
const HOUR = 3_600_000;

function config(dyno: string, limitOfReload = 3): Record<string, unknown> {
  return baseConfig({
    workers: 2,
    apps: {
      burst: { dynos: [dyno], filters: [{ filter: 'hundred' }] },
      arith: { dynos: [dyno], filters: [{ filter: 'five-per-10min' }] },
      keyed: { dynos: [dyno], filters: [{ filter: 'keys', excludes: ['/public'] }, { filter: 'two-per-key' }] },
      paths: { dynos: [dyno], filters: [{ filter: 'one-per-path' }] },
      // a refusal by keyauth before the limiter, and a path the limiter leaves out
      marked: { dynos: [dyno], filters: [{ filter: 'keys' }, { filter: 'three-per-ip', excludes: ['/free'] }] },
      reload: { dynos: [dyno], filters: [{ filter: 'reloadable' }] },
      // five limiters by the same header: every request makes five distinct buckets
      flood: { dynos: [dyno], filters: ['c1', 'c2', 'c3', 'c4', 'c5'].map((filter) => ({ filter })) },
    },
    filters: {
      hundred: { type: 'ratelimit', limit: 100, window_ms: HOUR, by: ['ip'] },
      'five-per-10min': { type: 'ratelimit', limit: 5, window_ms: 600_000, by: ['header:x-client'] },
      keys: { type: 'keyauth', locations: [{ header: 'x-api-key' }], keys: [{ id: 'a', sha256: sha('key-a') }, { id: 'b', sha256: sha('key-b') }] },
      'two-per-key': { type: 'ratelimit', limit: 2, window_ms: HOUR, by: ['key'] },
      'one-per-path': { type: 'ratelimit', limit: 1, window_ms: HOUR, by: ['path'] },
      'three-per-ip': { type: 'ratelimit', limit: 3, window_ms: HOUR, by: ['ip'] },
      reloadable: { type: 'ratelimit', limit: limitOfReload, window_ms: HOUR },
      ...Object.fromEntries(['c1', 'c2', 'c3', 'c4', 'c5'].map((n) => [n, { type: 'ratelimit', limit: 5, window_ms: HOUR, by: ['header:x-client'] }])),
    },
  });
}

const field = (r: Reply, name: string, key: string): number => {
  const m = new RegExp(`;${key}=(\\d+)`).exec(String(r.headers[name] ?? ''));
  return m === null ? NaN : Number(m[1]);
};

t.test('ratelimit', async (t) => {
  const dyno = await recordingDyno();
  t.teardown(() => dyno.close());
  const doc = config(dyno.address);
  const router = await startEdgeRouter(doc);
  t.teardown(() => router.stop());
  const port = router.ports.http;

  await t.test('limit 100 under concurrent load on 2 workers: exactly 100 pass, the rest get 429', async (t) => {
    const replies = await inParallel(Array.from({ length: 300 }, (_, i) => i), 30,
      (i) => call(port, { host: 'burst.example.io', path: `/r/${i}` })); // a new connection each: spread over both workers
    const ok = replies.filter((r) => r.status === 200).length;
    const limited = replies.filter((r) => r.status === 429);
    t.equal(ok, 100, 'exactly the limit passed');
    t.equal(limited.length, 200, 'every other request got 429');
    for (const r of limited.slice(0, 5)) {
      t.equal(problem(r).code, 'rate_limited');
      t.match(String(r.headers['retry-after']), /^[1-9][0-9]*$/, 'Retry-After: whole seconds, at least 1');
    }
    const w0 = await metric(router.adminPort, 'edgeplane_router_worker_requests_total{worker="0"}');
    const w1 = await metric(router.adminPort, 'edgeplane_router_worker_requests_total{worker="1"}');
    t.ok((w0 ?? 0) > 0 && (w1 ?? 0) > 0, `both workers served requests (${w0}, ${w1}): the count is exact across threads`);
    const refused = await metric(router.adminPort, 'edgeplane_router_filter_refusals_total{filter="hundred",type="ratelimit",code="rate_limited"}');
    t.equal(refused, 200, 'refusals counted in /metrics');
  });

  await t.test('headers: q, w, r, t on passed and refused responses; Retry-After', async (t) => {
    const started = Date.now();
    const replies: Reply[] = [];
    for (let i = 0; i < 6; i++) replies.push(await call(port, { host: 'arith.example.io', path: '/x', headers: { 'x-client': 'arith-1' } }));
    const elapsedS = (Date.now() - started) / 1000;
    t.same(replies.map((r) => r.status), [200, 200, 200, 200, 200, 429]);
    for (const r of replies) t.equal(r.headers['ratelimit-policy'], '"five-per-10min";q=5;w=600', 'the policy on every response');
    t.same(replies.map((r) => field(r, 'ratelimit', 'r')), [4, 3, 2, 1, 0, 0], 'remaining counts down to 0 and stays there');
    // 5 tokens over 600 s: one token every 120 s; t = seconds until the bucket is full again
    replies.slice(0, 5).forEach((r, k) => {
      const full = (k + 1) * 120;
      const tval = field(r, 'ratelimit', 't');
      t.ok(tval <= full && tval > full - elapsedS - 1, `after ${k + 1} requests t=${tval} is ${full} less the time passed`);
    });
    const refused = replies[5];
    t.match(String(refused.headers.ratelimit), /^"five-per-10min";r=0;t=\d+$/);
    const retry = Number(refused.headers['retry-after']);
    t.ok(retry <= 120 && retry > 120 - elapsedS - 1, `Retry-After ${retry}: when the next token comes (120 s after the first request)`);
    t.equal(dyno.seen.filter((s) => s.headers['x-client'] === 'arith-1').length, 5, 'the dyno got exactly the passed ones');
    const other = await call(port, { host: 'arith.example.io', path: '/x', headers: { 'x-client': 'arith-2' } });
    t.equal(field(other, 'ratelimit', 'r'), 4, 'another header value: its own bucket');
  });

  await t.test('by key (keyauth id; no key: by ip) and by path', async (t) => {
    const get = (path: string, key?: string): Promise<number> =>
      call(port, { host: 'keyed.example.io', path, headers: key === undefined ? {} : { 'x-api-key': key } }).then((r) => r.status);
    t.same([await get('/x', 'key-a'), await get('/x', 'key-a'), await get('/x', 'key-a')], [200, 200, 429], 'key a: 2, then 429');
    t.same([await get('/y', 'key-b'), await get('/y', 'key-b'), await get('/y', 'key-b')], [200, 200, 429], 'key b has its own bucket');
    t.same([await get('/public/1'), await get('/public/2'), await get('/public/3')], [200, 200, 429], 'without a key: bucketed by ip');
    const path = (p: string): Promise<number> => call(port, { host: 'paths.example.io', path: p }).then((r) => r.status);
    t.same([await path('/a'), await path('/a'), await path('/b'), await path('/a/../b')], [200, 429, 200, 429], 'by path (normalised)');
  });

  await t.test('every response of a rate-limited app carries the headers; only counted requests take a token', async (t) => {
    const get = (path: string, key?: string): Promise<Reply> =>
      call(port, { host: 'marked.example.io', path, headers: key === undefined ? {} : { 'x-api-key': key } });
    const seen: [number, number][] = [];
    for (const [path, key] of [['/x', 'key-a'], ['/x', undefined], ['/free/1', 'key-a'], ['/x', 'key-a']] as const) {
      const r = await get(path, key);
      t.equal(r.headers['ratelimit-policy'], '"three-per-ip";q=3;w=3600', `${path} ${key ?? 'no key'}: the policy`);
      seen.push([r.status, field(r, 'ratelimit', 'r')]);
    }
    t.same(seen, [[200, 2], [401, 2], [200, 2], [200, 1]],
      'a refusal by an earlier filter (401) and a path outside the limiter\'s scope show the bucket without taking a token');
  });

  await t.test('a reload that keeps the filter keeps its buckets; a changed filter starts afresh', async (t) => {
    const get = (): Promise<number> => call(port, { host: 'reload.example.io', path: '/' }).then((r) => r.status);
    t.same([await get(), await get(), await get(), await get()], [200, 200, 200, 429], 'limit 3 spent');
    const same = { ...doc, apps: { ...(doc.apps as object), extra: { dynos: [dyno.address] } } };
    const put = await putConfig(router.adminPort, same);
    t.equal(put.status, 200, `another change applied (${put.body})`);
    await until(async () => (await call(port, { host: 'extra.example.io', path: '/' })).status === 200, 30_000, 'the new config');
    t.equal(await get(), 429, 'after the reload the bucket is still empty');
    const changed = config(dyno.address, 10);
    t.equal((await putConfig(router.adminPort, changed)).status, 200);
    await until(async () => (await call(port, { host: 'extra.example.io', path: '/' })).status === 404, 30_000, 'the changed config');
    t.equal(await get(), 200, 'a filter with another limit has fresh buckets');
  });

  await t.test('hostile: 30,000 distinct bucket keys (6,000 requests x 5 limiters) as fast as the machine sends them; memory stays bounded', async (t) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 32 });
    t.teardown(() => agent.destroy());
    const send = (i: number): Promise<number> =>
      call(port, { host: 'flood.example.io', path: '/', headers: { 'x-client': `c-${i}-${'x'.repeat(64)}` }, agent }).then((r) => r.status);
    await inParallel(Array.from({ length: 1000 }, (_, i) => i), 32, (i) => send(-1 - i)); // warm up
    const before = rssKb(router.proc.pid!);
    const started = Date.now();
    const statuses = await inParallel(Array.from({ length: 6_000 }, (_, i) => i), 64, send);
    const seconds = (Date.now() - started) / 1000;
    const after = rssKb(router.proc.pid!);
    t.comment(`30,000 distinct keys in ${seconds.toFixed(1)} s (${(30_000 / seconds).toFixed(0)}/s); RSS ${before} kB -> ${after} kB`);
    t.ok(statuses.every((s) => s === 200), 'each new key gets a full bucket');
    t.ok(after - before < 48 * 1024, `RSS grew by ${((after - before) / 1024).toFixed(1)} MiB (< 48 MiB): the table has a fixed size`);
    // the first client is still limited: should its group be full, the flood's buckets (1 of 5
    // tokens spent) go before its spent one, whatever the per-process seed put in that group
    const first = await call(port, { host: 'arith.example.io', path: '/x', headers: { 'x-client': 'arith-1' } });
    t.equal(first.status, 429, 'a spent bucket of another filter is still spent after the flood');
  });
});
