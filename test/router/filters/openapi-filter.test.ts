import t from 'tap';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket, WebSocketServer } from 'ws';
import { baseConfig, runRouterOnce } from '../../support/router-harness.js';
import { call, problem, recordingDyno, startEdgeRouter, type Reply } from './support/edge-rig.js';
import { API31_JSON, API_YAML, BAD_SPECS, USER_YAML } from './support/openapi-specs.js';

// openapi through a real router process: path templates and parameters, query and headers,
// JSON bodies (checked before the dyno gets a byte, then sent unchanged), the cap, unknown
// operations, 3.0 YAML with an external $ref and 3.1 JSON, WebSocket upgrades, hostile bodies,
// and specs that are config errors (naming the file and the JSON pointer, never hanging).

const detail = (r: Reply): string => problem(r).detail;

// only bounds a hang: the machine is shared, every wait has its own deadline
t.setTimeout(600_000);

t.test('openapi', async (t) => {
  const dyno = await recordingDyno();
  t.teardown(() => dyno.close());
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  const upgrades: IncomingHttpHeaders[] = [];
  wss.on('connection', (_ws, req) => upgrades.push(req.headers));
  await once(wss, 'listening');
  t.teardown(() => {
    for (const c of wss.clients) c.terminate();
    return new Promise<void>((r) => wss.close(() => r()));
  });
  const router = await startEdgeRouter(baseConfig({
    workers: 2,
    apps: {
      api: { dynos: [dyno.address], filters: [{ filter: 'schema' }] },
      lax: { dynos: [dyno.address], filters: [{ filter: 'schema-params-only' }] },
      v31: { dynos: [dyno.address], filters: [{ filter: 'schema31' }] },
      live: { dynos: [`127.0.0.1:${(wss.address() as AddressInfo).port}`], filters: [{ filter: 'schema' }] },
    },
    filters: {
      schema: { type: 'openapi', spec: 'specs/api.yaml', validate_body: true, max_body_bytes: 4096 },
      'schema-params-only': { type: 'openapi', spec: 'specs/api.yaml' },
      schema31: { type: 'openapi', spec: 'specs/api31.json', validate_body: true },
    },
  }), { 'specs/api.yaml': API_YAML, 'specs/schemas/user.yaml': USER_YAML, 'specs/api31.json': API31_JSON });
  t.teardown(() => router.stop());
  const port = router.ports.http;
  const get = (path: string, headers: Record<string, string> = {}, host = 'api.example.io'): Promise<Reply> => call(port, { host, path, headers });
  const post = (path: string, body: string | Buffer, o: { host?: string; type?: string; chunked?: boolean } = {}): Promise<Reply> =>
    call(port, { host: o.host ?? 'api.example.io', path, body, chunked: o.chunked, headers: { 'content-type': o.type ?? 'application/json' } });

  await t.test('path templates and parameters', async (t) => {
    t.equal((await get('/users/42?fields=name')).status, 200, 'a valid request passes');
    t.equal(dyno.seen.at(-1)!.url, '/users/42?fields=name');
    t.equal((await get('/users/me')).status, 200, 'a literal path wins over a template (me is not an integer)');
    const r = await get('/users/abc?fields=name', { 'x-request-id': 'oa-path-1' });
    t.equal(r.status, 400, 'a path parameter of the wrong type');
    t.match(r.headers['content-type'], /^application\/problem\+json/);
    t.same({ status: problem(r).status, code: problem(r).code }, { status: 400, code: 'openapi_validation_failed' });
    t.match(detail(r), /^path parameter "id" must be integer/, 'the first problem in detail');
    t.equal(r.headers['x-request-id'], 'oa-path-1');
    t.match(await router.waitForLine((l) => l.includes('request_id=oa-path-1')), /^at=info code=openapi_validation_failed method=GET path=\/users\/abc\?fields=name /);
    t.match(detail(await get('/users/0?fields=x')), /path parameter "id" must be >= 1/);
    t.equal((await get('/files/report.json')).status, 200, 'a segment with two templates');
    t.match(detail(await get('/files/report.pdf')), /path parameter "ext" must be equal to one of the allowed values/);
    t.match(detail(await get('/files/r.json')), /path parameter "name" must NOT have fewer than 2 characters/);
  });

  await t.test('query and header parameters', async (t) => {
    const r = await get('/users/42');
    t.equal(r.status, 400, 'a missing required query parameter');
    t.equal(detail(r), 'query parameter "fields" is required');
    t.equal((await get('/users/42?fields=a', { 'x-trace': 'deadbeef' })).status, 200, 'a valid header (declared on the path item)');
    t.match(detail(await get('/users/42?fields=a', { 'x-trace': 'nope' })), /^header "x-trace" must match pattern/);
    t.equal((await get('/search?tags=a&tags=b&limit=5')).status, 200, 'an exploded array and an integer');
    t.match(detail(await get('/search?tags=a&tags=b&tags=c')), /query parameter "tags" must NOT have more than 2 items/);
    t.match(detail(await get('/search?limit=0')), /query parameter "limit" must be > 0/, 'a 3.0 boolean exclusiveMinimum');
    t.match(detail(await get('/search?limit=x')), /query parameter "limit" must be integer/);
  });

  await t.test('unknown operations: 404 no_such_operation', async (t) => {
    const before = dyno.seen.length;
    for (const [method, path] of [['GET', '/nope'], ['DELETE', '/users/1'], ['GET', '/users/1/extra'], ['PUT', '/users']]) {
      const r = await call(port, { host: 'api.example.io', path, method });
      t.equal(r.status, 404, `${method} ${path}: 404`);
      t.same({ status: problem(r).status, code: problem(r).code }, { status: 404, code: 'no_such_operation' });
    }
    t.equal(dyno.seen.length, before, 'none reached the dyno');
  });

  await t.test('JSON bodies: checked first, then sent unchanged', async (t) => {
    const body = Buffer.from(JSON.stringify({ name: 'ada', age: null, blob: 'é'.repeat(1000) }));
    let r = await post('/users', body);
    t.equal(r.status, 200, 'a valid body passes');
    t.ok(dyno.seen.at(-1)!.body.equals(body), 'the dyno got the body byte for byte');
    r = await post('/users', body, { chunked: true });
    t.equal(r.status, 200, 'chunked too');
    t.ok(dyno.seen.at(-1)!.body.equals(body), 'byte for byte');
    const before = dyno.seen.length;
    t.equal(detail(await post('/users', '{"name": 3}')), 'request body at /name must be string', 'a wrong type');
    t.equal(detail(await post('/users', '{"name": "x", "admin": true}')), 'request body must NOT have additional properties ("admin")');
    t.equal(detail(await post('/users', '{}')), "request body must have required property 'name'");
    t.match(detail(await post('/users', '{"name": ')), /^request body is not valid JSON/);
    t.equal(detail(await call(port, { host: 'api.example.io', path: '/users', method: 'POST' })), 'request body is required');
    t.match(detail(await post('/users', 'name=x', { type: 'application/x-www-form-urlencoded' })), /content type "application\/x-www-form-urlencoded" is not one of application\/json/);
    t.equal(dyno.seen.length, before, 'no refused body reached the dyno');
    t.equal((await post('/users', '{"name": 3}', { host: 'lax.example.io' })).status, 200, 'without validate_body the body is not checked');
    t.equal((await post('/tree', '[[[]],[]]')).status, 200, 'a recursive schema');
    t.match(detail(await post('/tree', '[[1]]')), /^request body at \/0\/0 must be array/);
  });

  await t.test('a body over max_body_bytes: 413 openapi_body_too_large, by Content-Length or while streaming', async (t) => {
    const before = dyno.seen.length;
    const big = JSON.stringify({ name: 'x', blob: 'a'.repeat(5000) });
    let r = await post('/users', big);
    t.equal(r.status, 413, 'declared over the cap');
    t.same({ status: problem(r).status, code: problem(r).code }, { status: 413, code: 'openapi_body_too_large' });
    r = await post('/users', big, { chunked: true });
    t.equal(r.status, 413, 'chunked over the cap');
    t.equal(problem(r).code, 'openapi_body_too_large');
    t.equal(dyno.seen.length, before, 'the dyno got none of it');
    const fits = JSON.stringify({ name: 'x', blob: 'a'.repeat(4000) });
    t.equal((await post('/users', fits, { chunked: true })).status, 200, 'a body just under the cap passes');
  });

  await t.test('OpenAPI 3.1 (JSON): type lists', async (t) => {
    t.equal((await post('/things', '{"label": null}', { host: 'v31.example.io' })).status, 200);
    t.equal((await post('/things', '{"label": "x"}', { host: 'v31.example.io' })).status, 200);
    t.match(detail(await post('/things', '{"label": 1}', { host: 'v31.example.io' })), /^request body at \/label must be string,null/);
  });

  await t.test('a WebSocket upgrade is an operation like any other', async (t) => {
    const refused = new WebSocket(`ws://127.0.0.1:${port}/nope`, { headers: { host: 'live.example.io' }, perMessageDeflate: false });
    refused.on('error', () => undefined);
    const [, res] = (await once(refused, 'unexpected-response')) as [unknown, { statusCode: number }];
    t.equal(res.statusCode, 404, 'an upgrade on a path the spec lacks: 404');
    refused.terminate();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/feed`, { headers: { host: 'live.example.io' }, perMessageDeflate: false });
    t.teardown(() => ws.terminate());
    await once(ws, 'open');
    t.equal(upgrades.length, 1, 'GET /feed is in the spec: upgraded');
    ws.close();
  });

  await t.test('hostile: 100,000 nested arrays; 2,000 nested arrays under the cap', async (t) => {
    const before = dyno.seen.length;
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    let r = await post('/things', deep, { host: 'v31.example.io' });
    t.equal(r.status, 400, '100,000 nested arrays (200 KB, under the 1 MiB default cap): 400, no stack overflow');
    t.equal(detail(r), 'request body is nested deeper than 128 levels');
    r = await post('/tree', '['.repeat(2000) + ']'.repeat(2000));
    t.equal(r.status, 400, 'against a recursive schema too');
    t.equal(detail(r), 'request body is nested deeper than 128 levels');
    r = await post('/tree', '['.repeat(100) + ']'.repeat(100));
    t.equal(r.status, 200, '100 levels validate against the recursive schema');
    r = await post('/things', '{"label": "' + '['.repeat(5000) + '"}', { host: 'v31.example.io' });
    t.equal(r.status, 200, 'brackets inside strings do not count');
    t.equal(dyno.seen.length, before + 2, 'only the valid ones reached the dyno');
    t.equal((await get('/users/1?fields=a')).status, 200, 'the router is fine afterwards');
  });
});

t.test('specs that are config errors: named by file and JSON pointer, never a hang', async (t) => {
  for (const bad of BAD_SPECS) {
    const dir = mkdtempSync(join(tmpdir(), 'edgeplane-badspec-'));
    for (const [name, text] of Object.entries(bad.files)) writeFileSync(join(dir, name), text);
    const file = join(dir, 'router.json');
    writeFileSync(file, JSON.stringify(baseConfig({
      apps: { api: { dynos: [], filters: [{ filter: 'schema' }] } },
      filters: { schema: { type: 'openapi', spec: 'spec.yaml', validate_body: true } },
    })));
    const run = await runRouterOnce(['--config', file], 60_000);
    t.equal(run.code, 2, `${bad.name}: exit 2`);
    for (const re of bad.expect) t.match(run.stderr, re, `${bad.name}: names ${re}`);
  }
});
