import t from 'tap';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { baseConfig } from '../../support/router-harness.js';
import { call, metric, problem, recordingDyno, startEdgeRouter } from './support/edge-rig.js';

// keyauth through a real router process (2 workers) and a recording dyno: every refusal of the
// DESIGN table (status, code, WWW-Authenticate, problem+json, x-request-id, the at=info line),
// the key's three locations, hide_credentials (the key never reaches the dyno), upstream_header
// (a forged one never reaches it either, filtered or not), WebSocket upgrades, hostile keys.

const sha = (key: string): string => createHash('sha256').update(key, 'utf8').digest('hex');
const LIVE = 'sk_live_6d1f0c5e';
const READER = 'sk_read_99aa';
const OLD = 'sk_old_0001';

// only bounds a hang: the machine is shared, every wait has its own deadline
t.setTimeout(600_000);

t.test('keyauth', async (t) => {
  const dyno = await recordingDyno();
  t.teardown(() => dyno.close());
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  const upgrades: IncomingHttpHeaders[] = [];
  wss.on('connection', (ws, req) => {
    upgrades.push(req.headers);
    ws.on('message', (m) => ws.send(m));
  });
  await once(wss, 'listening');
  t.teardown(() => {
    for (const c of wss.clients) c.terminate();
    return new Promise<void>((r) => wss.close(() => r()));
  });
  const wsDyno = `127.0.0.1:${(wss.address() as AddressInfo).port}`;
  const keys = [
    { id: 'key_live_1', sha256: sha(LIVE), permissions: ['read', 'write'], expires: '2999-01-01T00:00:00Z' },
    { id: 'key_read_1', sha256: sha(READER).toUpperCase(), permissions: ['read'] },
    { id: 'key_old_1', sha256: sha(OLD), permissions: ['read', 'write'], expires: '2020-01-01T00:00:00Z' },
  ];
  const router = await startEdgeRouter(baseConfig({
    workers: 2,
    apps: {
      api: { dynos: [dyno.address], filters: [{ filter: 'keys', excludes: ['/health'] }] },
      plain: { dynos: [dyno.address], filters: [{ filter: 'keys-visible' }] },
      live: { dynos: [wsDyno], filters: [{ filter: 'keys' }] },
    },
    sites: { 'www.example.io': { routes: [{ path: '/v1', app: 'api', target: '/' }] } },
    filters: {
      keys: { type: 'keyauth', locations: [{ bearer: true }, { header: 'x-api-key' }, { query: 'api_key' }], keys,
        require: ['write'], upstream_header: 'x-edgeplane-key-id', hide_credentials: true },
      'keys-visible': { type: 'keyauth', locations: [{ header: 'x-api-key' }, { query: 'api_key' }], keys },
    },
  }));
  t.teardown(() => router.stop());
  const port = router.ports.http;
  const get = (path: string, headers: Record<string, string> = {}, host = 'api.example.io') => call(port, { host, path, headers });

  await t.test('the DESIGN table: 401 missing / unknown / expired, 403 without a required permission', async (t) => {
    const cases: { name: string; headers: Record<string, string>; path?: string; status: number; code: string; challenge: boolean }[] = [
      { name: 'no key anywhere', headers: {}, status: 401, code: 'missing_credentials', challenge: true },
      { name: 'an empty bearer', headers: { authorization: 'Bearer ' }, status: 401, code: 'missing_credentials', challenge: true },
      { name: 'Basic credentials are not a key', headers: { authorization: 'Basic dXNlcjpwYXNz' }, status: 401, code: 'missing_credentials', challenge: true },
      { name: 'an unknown key', headers: { 'x-api-key': 'sk_live_6d1f0c5f' }, status: 401, code: 'invalid_key', challenge: true },
      { name: 'an expired key', headers: { authorization: `Bearer ${OLD}` }, status: 401, code: 'invalid_key', challenge: true },
      { name: 'a key without the required permission', headers: { 'x-api-key': READER }, status: 403, code: 'insufficient_permissions', challenge: false },
    ];
    for (const [i, c] of cases.entries()) {
      const id = `keyauth-case-${i}`;
      const before = dyno.seen.length;
      const r = await get('/items', { ...c.headers, 'x-request-id': id });
      t.equal(r.status, c.status, `${c.name}: ${c.status}`);
      t.match(r.headers['content-type'], /^application\/problem\+json/, `${c.name}: problem+json`);
      const p = problem(r);
      t.same({ status: p.status, code: p.code }, { status: c.status, code: c.code }, `${c.name}: status and code in the body`);
      t.type(p.title, 'string');
      t.type(p.detail, 'string');
      t.match(p.type, /\S/);
      t.equal(r.headers['x-request-id'], id, `${c.name}: the request id echoed`);
      if (c.challenge) t.equal(r.headers['www-authenticate'], 'Bearer realm="edgeplane"', `${c.name}: the challenge`);
      else t.equal(r.headers['www-authenticate'], undefined, `${c.name}: no challenge on 403`);
      t.equal(dyno.seen.length, before, `${c.name}: the dyno got nothing`);
      const line = await router.waitForLine((l) => l.includes(`request_id=${id} `));
      t.match(line, new RegExp(`^at=info code=${c.code} method=GET path=/items `), `${c.name}: the access line is at=info with the code`);
      t.match(line, new RegExp(`status=${c.status} `));
    }
  });

  await t.test('a valid key from each location passes; the first location that has one wins', async (t) => {
    for (const [where, headers, path] of [
      ['bearer', { authorization: `Bearer ${LIVE}` }, '/items'],
      ['bearer, scheme in any case', { authorization: `bearer ${LIVE}` }, '/items'],
      ['header', { 'x-api-key': LIVE }, '/items'],
      ['query', {}, `/items?api_key=${LIVE}`],
      ['query, percent-encoded', {}, `/items?api_key=${encodeURIComponent(LIVE).replace('_', '%5F')}`],
    ] as [string, Record<string, string>, string][]) {
      const r = await get(path, headers);
      t.equal(r.status, 200, `${where}: passes`);
      t.equal(dyno.seen.at(-1)!.headers['x-edgeplane-key-id'], 'key_live_1', `${where}: the dyno gets the key id`);
    }
    // bearer is listed first: a valid header key does not rescue an invalid bearer
    const r = await get('/items', { authorization: 'Bearer nope', 'x-api-key': LIVE });
    t.equal(r.status, 401, 'the bearer (first location) is the key, even with a valid x-api-key');
    t.equal(problem(r).code, 'invalid_key');
  });

  await t.test('hide_credentials: the dyno never receives the key', async (t) => {
    await get('/items', { authorization: `Bearer ${LIVE}` });
    let s = dyno.seen.at(-1)!;
    t.equal(s.headers.authorization, undefined, 'bearer: no Authorization header at the dyno');
    await get('/items', { 'x-api-key': LIVE });
    s = dyno.seen.at(-1)!;
    t.equal(s.headers['x-api-key'], undefined, 'header: no x-api-key at the dyno');
    await get(`/items?a=1&api_key=${LIVE}&b=%2F&api_key=again`);
    s = dyno.seen.at(-1)!;
    t.equal(s.url, '/items?a=1&b=%2F', 'query: every api_key parameter removed, the others kept byte for byte');
    const line = await router.waitForLine((l) => l.includes('path=/items?a=1&b=%2F '));
    t.notMatch(line, LIVE, 'nor is the key written to the access line');
    await get(`/items?api_key=${LIVE}`);
    t.equal(dyno.seen.at(-1)!.url, '/items', 'the last parameter gone: no dangling ?');
    for (const seen of dyno.seen) t.notMatch(JSON.stringify(seen.headers) + seen.url, LIVE, 'the key appears nowhere in what the dyno got');
    // without hide_credentials the key goes on (the control)
    await get(`/items?api_key=${LIVE}`, {}, 'plain.example.io');
    t.equal(dyno.seen.at(-1)!.url, `/items?api_key=${LIVE}`, 'without hide_credentials the key reaches the dyno');
  });

  await t.test('a forged upstream_header never reaches the dyno, on filtered and excluded paths, by any route', async (t) => {
    const forged = { 'x-edgeplane-key-id': 'key_admin', 'X-EdgePlane-Key-Id': 'key_admin2' };
    let r = await get('/items', { ...forged, 'x-api-key': LIVE });
    t.equal(r.status, 200);
    t.same(dyno.seen.at(-1)!.headers['x-edgeplane-key-id'], 'key_live_1', 'only the router\'s value (node joins duplicates: one value means one line)');
    for (const [host, path] of [['api.example.io', '/health'], ['www.example.io', '/v1/health/deep']]) {
      r = await get(path, forged, host);
      t.equal(r.status, 200, `${host}${path}: excluded, passes without a key`);
      t.equal(dyno.seen.at(-1)!.headers['x-edgeplane-key-id'], undefined, `${host}${path}: the forged header was removed`);
    }
    r = await get('/v1/items', { 'x-api-key': LIVE }, 'www.example.io');
    t.equal(r.status, 200, 'a site route reaches the filtered app: filtered too');
    r = await get('/v1/items', {}, 'www.example.io');
    t.equal(r.status, 401, 'and refused without a key');
  });

  await t.test('a WebSocket upgrade passes the same filter', async (t) => {
    const refused = new WebSocket(`ws://127.0.0.1:${port}/feed`, { headers: { host: 'live.example.io' }, perMessageDeflate: false });
    refused.on('error', () => undefined);
    const [, res] = (await once(refused, 'unexpected-response')) as [unknown, { statusCode: number; headers: IncomingHttpHeaders }];
    t.equal(res.statusCode, 401, 'an upgrade without a key: 401');
    t.equal(res.headers['www-authenticate'], 'Bearer realm="edgeplane"');
    refused.terminate();
    t.equal(upgrades.length, 0, 'the dyno saw no handshake');
    const ws = new WebSocket(`ws://127.0.0.1:${port}/feed`, {
      headers: { host: 'live.example.io', authorization: `Bearer ${LIVE}`, 'x-edgeplane-key-id': 'forged' }, perMessageDeflate: false,
    });
    t.teardown(() => ws.terminate());
    await once(ws, 'open');
    ws.send('ping');
    const [msg] = (await once(ws, 'message')) as [Buffer];
    t.equal(msg.toString(), 'ping', 'the session works');
    t.equal(upgrades.length, 1);
    t.equal(upgrades[0]['x-edgeplane-key-id'], 'key_live_1', 'the dyno\'s handshake has the key id, not the forged one');
    t.equal(upgrades[0].authorization, undefined, 'and not the key');
    ws.close();
  });

  await t.test('hostile keys: 1 MB in a header or the query, 12 KB keys', async (t) => {
    const before = dyno.seen.length;
    const mb = 'k'.repeat(1024 * 1024);
    const inHeader = await get('/items', { 'x-api-key': mb }).catch((err: Error) => ({ status: -1, body: err.message, headers: {} }));
    t.ok(inHeader.status === 431 || inHeader.status === -1, `a 1 MB header is refused before any filter (${inHeader.status})`);
    const inQuery = await get(`/items?api_key=${mb}`).catch((err: Error) => ({ status: -1, body: err.message, headers: {} }));
    t.ok(inQuery.status === 414 || inQuery.status === 431 || inQuery.status === -1, `a 1 MB query is refused before any filter (${inQuery.status})`);
    const long = await get('/items', { 'x-api-key': 'k'.repeat(12_000) });
    t.equal(long.status, 401, 'a 12 KB key in a header: refused as invalid (longer than any key, not hashed)');
    t.equal(problem(long).code, 'invalid_key');
    const key8k = await get(`/items?api_key=${'k'.repeat(8000)}`);
    t.equal(key8k.status, 401, 'an 8 KB key in the query: refused as invalid');
    t.equal(problem(key8k).code, 'invalid_key');
    t.equal(dyno.seen.length, before, 'none reached the dyno');
    t.equal((await get('/items', { 'x-api-key': LIVE })).status, 200, 'the router is fine afterwards');
  });

  await t.test('counted per filter and code in /metrics', async (t) => {
    const passed = await metric(router.adminPort, 'edgeplane_router_filter_passed_total{filter="keys",type="keyauth"}');
    t.ok(passed !== undefined && passed >= 8, `passes counted (${passed})`);
    for (const code of ['missing_credentials', 'invalid_key', 'insufficient_permissions']) {
      const n = await metric(router.adminPort, `edgeplane_router_filter_refusals_total{filter="keys",type="keyauth",code="${code}"}`);
      t.ok(n !== undefined && n >= 1, `${code} counted (${n})`);
    }
    const upstream = await metric(router.adminPort, 'edgeplane_router_upstream_errors_total{app="api",code="invalid_key"}');
    t.equal(upstream, undefined, 'a refusal is not an upstream error');
  });
});
