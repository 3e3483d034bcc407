import t from 'tap';
import { Worker } from 'node:worker_threads';
import { BUCKETS, GROUP_SIZE, createRateLimitMemory, fingerprint, RateLimitTable, type Charge } from '../../../router/filters/rate-limit-table.js';
import { PathMatcher } from '../../../router/filters/openapi/path-matcher.js';
import { MAX_JSON_DEPTH, parseJsonBody } from '../../../router/filters/openapi/json-body.js';
import { findQueryParam, queryPairs, withoutQueryParam } from '../../../router/filters/query-params.js';
import { assertDistFresh } from '../../support/dist-fresh.js';

// The edge filters' parts on their own: the rate-limit table's arithmetic on a given clock,
// its exactness across real threads and its fixed memory, the OpenAPI path trie, the JSON depth
// scan, and the query helpers.

const charge = (table: RateLimitTable, key: string, limit: number, intervalUs: number, now: number): Charge => {
  const fp = [0, 0];
  fingerprint(key, table.seed, fp);
  const out: Charge = { allowed: false, remaining: 0, toFullUs: 0, retryUs: 0 };
  table.charge(fp[0], fp[1], limit, intervalUs, now, out);
  return { ...out };
};

/** `n` keys (`prefix` + a number) that share one group of GROUP_SIZE slots: found by their fingerprints. */
function keysOfOneGroup(table: RateLimitTable, prefix: string, n: number): string[] {
  const groups = BUCKETS / GROUP_SIZE;
  const fp = [0, 0];
  const same: string[] = [];
  let target = -1;
  for (let i = 0; same.length < n; i++) {
    fingerprint(`${prefix}${i}`, table.seed, fp);
    const g = fp[0] % groups;
    if (target === -1) target = g;
    if (g === target) same.push(`${prefix}${i}`);
  }
  return same;
}

t.test('token bucket arithmetic (GCRA) on a given clock', async (t) => {
  const table = new RateLimitTable(createRateLimitMemory(1));
  const T = 1_000_000; // limit 3 per 3 s: one token a second
  const at = 10_000_000;
  t.same(charge(table, 'k', 3, T, at), { allowed: true, remaining: 2, toFullUs: T, retryUs: 0 });
  t.same(charge(table, 'k', 3, T, at), { allowed: true, remaining: 1, toFullUs: 2 * T, retryUs: 0 });
  t.same(charge(table, 'k', 3, T, at), { allowed: true, remaining: 0, toFullUs: 3 * T, retryUs: 0 });
  t.same(charge(table, 'k', 3, T, at), { allowed: false, remaining: 0, toFullUs: 3 * T, retryUs: T }, 'empty: the next token in one interval');
  t.same(charge(table, 'k', 3, T, at + 400_000), { allowed: false, remaining: 0, toFullUs: 2_600_000, retryUs: 600_000 }, 'refill is even, not by window');
  t.same(charge(table, 'k', 3, T, at + T), { allowed: true, remaining: 0, toFullUs: 3 * T, retryUs: 0 }, 'one token back after one interval');
  t.same(charge(table, 'k', 3, T, at + 10 * T), { allowed: true, remaining: 2, toFullUs: T, retryUs: 0 }, 'idle long enough: full again, never more');
  t.same(charge(table, 'other', 3, T, at), { allowed: true, remaining: 2, toFullUs: T, retryUs: 0 }, 'another key, another bucket');
  t.same(charge(table, 'one', 1, 5 * T, at), { allowed: true, remaining: 0, toFullUs: 5 * T, retryUs: 0 }, 'limit 1');
  t.equal(charge(table, 'one', 1, 5 * T, at + 5 * T - 1).allowed, false);
  t.equal(charge(table, 'one', 1, 5 * T, at + 5 * T).allowed, true);
});

t.test('fixed memory: a full (idle) bucket is taken first, else the one closest to full is evicted', async (t) => {
  const table = new RateLimitTable(createRateLimitMemory(7));
  const T = 1_000_000;
  const now = 1_000_000_000;
  const [a, b, c, d, e, f, g, h, newcomer, late] = keysOfOneGroup(table, 'k', GROUP_SIZE + 2);
  // a: one of 3 tokens spent (closest to full); b..h: all 3 spent
  charge(table, a, 3, T, now);
  for (const k of [b, c, d, e, f, g, h]) for (let n = 0; n < 3; n++) charge(table, k, 3, T, now);
  t.equal(charge(table, newcomer, 3, T, now).remaining, 2, 'a new key in a full group gets a fresh bucket');
  t.equal(charge(table, a, 3, T, now).remaining, 2, 'a, the bucket closest to full, was the one evicted (fresh again)');
  for (const k of [b, c, d, e, f, g, h]) t.equal(charge(table, k, 3, T, now).allowed, false, 'the spent buckets were kept');
  // later, b's bucket has refilled (idle): a newcomer takes it rather than evicting a busy one
  const later = now + 10 * T;
  for (const k of [c, d, e, f, g, h, newcomer]) charge(table, k, 3, 100 * T, later);
  charge(table, a, 3, 100 * T, later);
  t.equal(charge(table, late, 3, T, later).remaining, 2, 'the late key found a full bucket');
  for (const k of [c, d, e, f, g, h]) t.equal(charge(table, k, 3, 100 * T, later).remaining, 1, `${k} still has its count`);
});

t.test('eviction weighs each bucket by its own limit: a long window with one token spent goes before a short spent one', async (t) => {
  const table = new RateLimitTable(createRateLimitMemory(11));
  const T = 1_000_000;
  const now = 2_000_000_000;
  const [long, ...rest] = keysOfOneGroup(table, 'w', GROUP_SIZE + 1);
  const newcomer = rest.pop()!;
  // long: 5 per hour (one token each 720 s), one spent: full again in 720 s, 1/5 of its limit spent;
  // the others: 5 per 5 s, all spent: full again in 5 s (nearer in time), all of their limit spent
  charge(table, long, 5, 720 * T, now);
  for (const k of rest) for (let n = 0; n < 5; n++) charge(table, k, 5, T, now);
  t.equal(charge(table, newcomer, 5, T, now).remaining, 4, 'the newcomer got a fresh bucket');
  for (const k of rest) t.equal(charge(table, k, 5, T, now).allowed, false, `${k} is still limited: its spent bucket was kept`);
  t.equal(charge(table, long, 5, 720 * T, now).remaining, 4, 'the long-window bucket, least of its limit spent, was the one evicted');
});

t.test('exact across real threads: two threads charging one bucket concurrently', async (t) => {
  const memory = createRateLimitMemory(3);
  assertDistFresh();
  const url = new URL('../../../dist/router/filters/rate-limit-table.js', import.meta.url); // the built module: threads run plain JS
  const code = `
    const { workerData, parentPort } = require('node:worker_threads');
    import(workerData.url).then(({ RateLimitTable, fingerprint }) => {
      const table = new RateLimitTable(workerData.memory);
      const fp = [0, 0]; fingerprint('shared', table.seed, fp);
      const out = { allowed: false, remaining: 0, toFullUs: 0, retryUs: 0 };
      const flag = new Int32Array(workerData.go);
      Atomics.wait(flag, 0, 0);
      let allowed = 0;
      for (let i = 0; i < 50000; i++) { table.charge(fp[0], fp[1], 30000, 1e9, 5e9, out); if (out.allowed) allowed++; }
      parentPort.postMessage(allowed);
    });`;
  const go = new SharedArrayBuffer(4);
  const workers = [0, 1].map(() => new Worker(code, { eval: true, workerData: { memory, url: url.href, go } }));
  const results = workers.map((w) => new Promise<number>((resolve, reject) => { w.once('message', resolve); w.once('error', reject); }));
  await new Promise((r) => setTimeout(r, 500)); // both threads parked on the flag (the count is exact either way)
  Atomics.store(new Int32Array(go), 0, 1);
  Atomics.notify(new Int32Array(go), 0);
  const [a, b] = await Promise.all(results);
  await Promise.all(workers.map((w) => w.terminate()));
  t.equal(a + b, 30000, `exactly the limit was granted over 100,000 concurrent charges (${a} + ${b})`);
});

t.test('path templates', async (t) => {
  const m = new PathMatcher<string>();
  t.equal(m.add('/users/{id}', 'user'), undefined);
  t.equal(m.add('/users/me', 'me'), undefined);
  t.equal(m.add('/users/{id}/posts/{post}', 'post'), undefined);
  t.equal(m.add('/files/{name}.{ext}', 'file'), undefined);
  t.equal(m.add('/a/{x}/c', 'axc'), undefined);
  t.equal(m.add('/a/b/{y}', 'aby'), undefined);
  t.equal(m.add('/', 'root'), undefined);
  t.match(m.add('/users/{other}', 'dup'), /twice/, 'templates differing only in names clash');
  t.same(m.match('/users/42'), { value: 'user', params: { id: '42' } });
  t.same(m.match('/users/me'), { value: 'me', params: {} }, 'a literal wins');
  t.same(m.match('/users/me/'), { value: 'me', params: {} }, 'a trailing slash is ignored');
  t.same(m.match('/users/a%2Fb/posts/7'), { value: 'post', params: { id: 'a/b', post: '7' } }, 'values percent-decoded');
  t.same(m.match('/files/report.tar.gz'), { value: 'file', params: { name: 'report', ext: 'tar.gz' } });
  t.same(m.match('/a/b/c'), { value: 'aby', params: { y: 'c' } }, 'the literal branch first');
  t.same(m.match('/a/z/c'), { value: 'axc', params: { x: 'z' } }, 'backtracks into the template');
  t.same(m.match('/'), { value: 'root', params: {} });
  t.equal(m.match('/users'), null);
  t.equal(m.match('/Users/1'), null, 'case-sensitive');
  t.equal(m.match('/users/1/posts'), null);
});

t.test('JSON depth is measured before parsing', async (t) => {
  t.same(parseJsonBody(Buffer.from('{"a":[1,{"b":null}]}')), { value: { a: [1, { b: null }] } });
  const ok = '['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH);
  t.ok('value' in parseJsonBody(Buffer.from(ok)), `${MAX_JSON_DEPTH} levels parse`);
  const deep = '['.repeat(MAX_JSON_DEPTH + 1);
  t.same(parseJsonBody(Buffer.from(deep)), { problem: `request body is nested deeper than ${MAX_JSON_DEPTH} levels` });
  t.ok('value' in parseJsonBody(Buffer.from(`"${'['.repeat(1000)}\\"{{{"`)), 'brackets in strings (and escaped quotes) are text');
  t.match(parseJsonBody(Buffer.from('{')), { problem: /not valid JSON/ });
});

t.test('query parameters', async (t) => {
  t.equal(findQueryParam('a=1&api_key=k%2By&b', 'api_key'), 'k+y');
  t.equal(findQueryParam('api%5Fkey=x', 'api_key'), 'x', 'names are decoded too');
  t.equal(findQueryParam('api_key=&api_key=z', 'api_key'), 'z', 'the first non-empty value');
  t.equal(findQueryParam('api_key', 'api_key'), '');
  t.equal(withoutQueryParam('a=1&api_key=k&b=%2F&api%5Fkey=2', 'api_key'), 'a=1&b=%2F');
  t.same(queryPairs('a=1&a=2&b=x+y&&c'), [['a', '1'], ['a', '2'], ['b', 'x y'], ['c', '']]);
});
