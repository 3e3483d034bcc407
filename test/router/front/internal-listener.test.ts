import t from 'tap';
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { ROOT, baseConfig, echoDyno, startRouter, writeConfig, type Dyno, type RunningRouter } from '../../support/router-harness.js';
import { get } from '../support/http-get.js';

// The internal listener (DESIGN.md): apps and sites with `internal: true` are served only on
// listen.internal and get 404 on the public listeners (http and https); public ones get 404 on
// the internal listener. Host matching ignores case, a trailing dot and the port.

const FIX = join(ROOT, 'test/fixtures/tls');
const CA = readFileSync(join(FIX, 'ca.pem'));
let dyno: Dyno;
let router: RunningRouter;

t.before(async () => {
  dyno = await echoDyno('d');
  router = await startRouter(writeConfig(baseConfig({
    workers: 2,
    listen: {
      http: { host: '127.0.0.1', port: 0 },
      https: { host: '127.0.0.1', port: 0 },
      internal: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
    },
    certificates: [{ hosts: ['*.example.io', 'www.example.com'], cert: join(FIX, 'wildcard-example-io.pem'), key: join(FIX, 'wildcard-example-io.key') }],
    apps: { pub: { dynos: [dyno.address] }, priv: { dynos: [dyno.address], internal: true } },
    sites: {
      'www.example.com': { routes: [{ path: '/', app: 'pub' }] },
      'admin.corp.test': { internal: true, routes: [{ path: '/', app: 'priv' }] },
    },
  })));
});
t.teardown(async () => {
  await router?.stop();
  await dyno?.close();
});

/** A GET over TLS (chain and name verified: SNI pub.example.io) with any Host header. */
function httpsGet(port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, servername: 'pub.example.io', ca: CA, path: '/', headers: { host }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

const spell = (host: string): string[] => [host, host.toUpperCase(), `${host}.`, `${host}:8443`, `${host[0].toUpperCase()}${host.slice(1)}.:80`];
const INTERNAL = [...spell('priv.example.io'), ...spell('admin.corp.test')];
const PUBLIC = [...spell('pub.example.io'), ...spell('www.example.com')];

t.test('internal apps and sites: only on the internal listener', async (t) => {
  for (const host of INTERNAL) {
    t.equal((await get(router.ports.internal, host)).status, 200, `internal listener, Host: ${host}`);
    t.equal((await get(router.ports.http, host)).status, 404, `public http, Host: ${host}`);
    t.equal(await httpsGet(router.ports.https, host), 404, `public https, Host: ${host}`);
  }
});

t.test('public apps and sites: 404 on the internal listener', async (t) => {
  for (const host of PUBLIC) {
    t.equal((await get(router.ports.http, host)).status, 200, `public http, Host: ${host}`);
    t.equal(await httpsGet(router.ports.https, host), 200, `public https, Host: ${host}`);
    t.equal((await get(router.ports.internal, host)).status, 404, `internal listener, Host: ${host}`);
  }
});

t.test('the internal listener forwards its own port and protocol', async (t) => {
  const r = await get(router.ports.internal, 'admin.corp.test', '/x?y=1');
  const seen = JSON.parse(r.body) as { url: string; headers: Record<string, string> };
  t.equal(seen.url, '/x?y=1');
  t.equal(seen.headers['x-forwarded-port'], String(router.ports.internal));
  t.equal(seen.headers['x-forwarded-proto'], 'http');
  t.equal(seen.headers['x-forwarded-host'], 'admin.corp.test');
  t.equal((await get(router.ports.internal, 'nobody.example.io')).status, 404, 'unknown hosts: 404 there too');
});
