import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JwksServer } from './support/jwks-server.js';
import { ISSUER, makeKey, mint } from './support/tokens.js';
import { EchoDyno, RouterProcess, freePort, send } from './support/router-process.js';
import { until } from './support/filter-request.js';
import { assertDistFresh } from '../../support/dist-fresh.js';
import { deadAddress } from '../../support/router-harness.js';

// Config reloads through the admin listener (PUT /config): the filters follow the new config,
// the JWKS and verified-token caches survive it, and bad filter definitions are refused by field.

function putConfig(port: number, doc: object): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/config', method: 'PUT', headers: { 'content-type': 'application/json' }, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(doc));
  });
}

t.test('reloads keep the key and token caches; bad definitions are refused', async (t) => {
  const jwks = await new JwksServer().start();
  t.teardown(() => jwks.stop());
  const key = await makeKey('ES256');
  jwks.keys = [key.jwk];
  const dyno = await new EchoDyno().start();
  t.teardown(() => dyno.stop());
  const router = new RouterProcess();
  t.teardown(() => router.stop());
  const base = {
    domain: 'localtest',
    workers: 1,
    listen: { http: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } },
    apps: { api: { dynos: [dyno.address], filters: [{ filter: 'auth' }] } } as Record<string, object>,
    filters: { auth: { type: 'jwt', jwks_uri: jwks.uri, issuer: ISSUER } } as Record<string, object>,
  };
  await router.start(base);
  const adminPort = router.adminPort;
  const token = await mint(key);
  const get = (host: string, path: string, headers: Record<string, string> = {}): Promise<number> =>
    send(router.port, host, path, { headers }).then((r) => r.status);
  const withToken = { authorization: `Bearer ${token}` };
  t.equal(await get('api.localtest', '/x'), 401);
  t.equal(await get('api.localtest', '/x', withToken), 200);
  const hits = jwks.hits;

  const added = await putConfig(adminPort, { ...base, apps: { ...base.apps, other: { dynos: [dyno.address] } } });
  t.equal(added.status, 200, `a new config is accepted (${added.body})`);
  await until('the new config to serve', async () => (await get('other.localtest', '/')) === 200);
  t.equal(await get('api.localtest', '/x', withToken), 200, 'the token still passes after the reload');
  t.equal(await get('api.localtest', '/y', { authorization: `Bearer ${await mint(key, { sub: 'u2' })}` }), 200, 'a new token too');
  t.equal(await get('api.localtest', '/x'), 401, 'and the filter is still on');
  t.equal(jwks.hits, hits, 'the reload did not refetch the keys');

  const bad = await putConfig(adminPort, {
    ...base,
    apps: { api: { dynos: [dyno.address], filters: [{ filter: 'auth' }, { filter: 'cors' }, { filter: 'ghost' }] } },
    filters: {
      auth: { type: 'jwt', jwks_uri: 'idp.example.com/jwks', issuer: ISSUER },
      cors: { type: 'cors', allow_origins: ['https://www.example.com/app', '*'], allow_credentials: true },
    },
  });
  t.equal(bad.status, 400, 'bad filter definitions: 400');
  const problems = (JSON.parse(bad.body) as { problems: string[] }).problems;
  for (const field of ['filters.auth.jwks_uri: ', 'filters.cors.allow_origins[0]: ', 'filters.cors.allow_origins: ', 'apps.api.filters[2].filter: ']) {
    t.ok(problems.some((p) => p.startsWith(field)), `names ${field}`);
  }
  t.equal(await get('api.localtest', '/x'), 401, 'the running config is untouched');

  const excluded = await putConfig(adminPort, { ...base, apps: { api: { dynos: [dyno.address], filters: [{ filter: 'auth', excludes: ['/open'] }] } } });
  t.equal(excluded.status, 200);
  await until('the exclude to apply', async () => (await get('api.localtest', '/open/x')) === 200);
  t.equal(await get('api.localtest', '/closed'), 401, 'other paths still need a token');

  const removed = await putConfig(adminPort, { ...base, apps: { api: { dynos: [dyno.address] } }, filters: {} });
  t.equal(removed.status, 200);
  await until('the filter to go', async () => (await get('api.localtest', '/closed')) === 200);
  t.pass('without the filter no token is needed');
});

t.test('a config file with a bad filter definition: exit 2, the field named, nothing started', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'edgeplane-filters-bad-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'router.json');
  // a loopback address of this test's own: nothing else can listen there when it checks that nothing does
  const [host, portText] = (await deadAddress()).split(':');
  const port = Number(portText);
  writeFileSync(file, JSON.stringify({
    domain: 'localtest', workers: 1,
    listen: { http: { host, port }, admin: { host: '127.0.0.1', port: await freePort() } },
    apps: { api: { dynos: ['127.0.0.1:1'], filters: [{ filter: 'auth' }] } },
    filters: { auth: { type: 'jwt', jwks_uri: 'ftp://idp.example.com/jwks', issuer: ISSUER, claims_headers: { sub: 'Host' } } },
  }));
  assertDistFresh();
  const main = fileURLToPath(new URL('../../../dist/router/main.js', import.meta.url));
  const child = spawn(process.execPath, [main, '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
  child.stderr.on('data', (c: Buffer) => { out += c.toString(); });
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  t.equal(code, 2, 'exit code 2');
  t.match(out, /filters\.auth\.jwks_uri: /, 'names the jwks_uri');
  t.match(out, /filters\.auth\.claims_headers\.sub: /, 'names the reserved claim header');
  const refused = await new Promise<string>((r) => {
    const c = connect(port, host);
    c.once('connect', () => { c.destroy(); r('connected'); });
    c.once('error', (e: NodeJS.ErrnoException) => r(e.code ?? e.message));
  });
  t.equal(refused, 'ECONNREFUSED', 'nothing listens');
});
