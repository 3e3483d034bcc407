import t from 'tap';
import { once } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { JwksServer } from './support/jwks-server.js';
import { ISSUER, makeKey, mint } from './support/tokens.js';
import { EchoDyno, RouterProcess, send, type Reply } from './support/router-process.js';

// JWT `claims_headers` through the real router process: the headers it sets from verified claims
// are never taken from the client, on any request of the app, wherever the filter's
// excludes/includes leave it out (there the client's lines are removed, not refused).

const seen = (r: Reply): { url: string; headers: IncomingHttpHeaders } => JSON.parse(r.body) as { url: string; headers: IncomingHttpHeaders };

t.test('claims_headers are stripped from client requests where the JWT filter does not run', async (t) => {
  const jwks = await new JwksServer().start();
  t.teardown(() => jwks.stop());
  const key = await makeKey('ES256');
  jwks.keys = [key.jwk];
  const dyno = await new EchoDyno().start();
  t.teardown(() => dyno.stop());
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  const upgrades: IncomingHttpHeaders[] = [];
  wss.on('connection', (_ws, req) => upgrades.push(req.headers));
  await once(wss, 'listening');
  t.teardown(() => {
    for (const c of wss.clients) c.terminate();
    return new Promise<void>((r) => wss.close(() => r()));
  });
  const wsDyno = `127.0.0.1:${(wss.address() as AddressInfo).port}`;

  const router = new RouterProcess();
  t.teardown(() => router.stop());
  await router.start({
    domain: 'localtest',
    workers: 1,
    listen: { http: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } },
    apps: {
      // excluded paths skip the filter
      api: { dynos: [dyno.address], filters: [{ filter: 'auth', excludes: ['/health'] }] },
      // only /private needs a token
      portal: { dynos: [dyno.address], filters: [{ filter: 'auth', includes: ['/private'] }] },
      live: { dynos: [wsDyno], filters: [{ filter: 'auth', excludes: ['/public'] }] },
      // the same header name, no claims_headers: a plain client header, passed on
      plain: { dynos: [dyno.address], filters: [{ filter: 'auth-plain', excludes: ['/health'] }] },
    },
    sites: { 'www.localtest': { routes: [{ path: '/v1', app: 'api', target: '/' }] } },
    filters: {
      auth: { type: 'jwt', jwks_uri: jwks.uri, issuer: ISSUER, claims_headers: { sub: 'X-Auth-Subject', email: 'X-Auth-Email' } },
      'auth-plain': { type: 'jwt', jwks_uri: jwks.uri, issuer: ISSUER },
    },
  });
  const forged = { 'x-auth-subject': 'admin', 'X-Auth-Email': 'root@example.com' };

  await t.test('excluded and not-included paths: answered, the forged claim headers removed', async (t) => {
    const cases: [string, string][] = [
      ['api.localtest', '/health'],
      ['api.localtest', '/health/live'],
      ['api.localtest', '/HEALTH'],
      ['www.localtest', '/v1/health'],
      ['portal.localtest', '/'],
      ['portal.localtest', '/public/page'],
    ];
    for (const [host, path] of cases) {
      const r = await send(router.port, host, path, { headers: forged });
      t.equal(r.status, 200, `${host}${path}: proxied without a token`);
      const h = seen(r).headers;
      t.equal(h['x-auth-subject'], undefined, `${host}${path}: no X-Auth-Subject reaches the dyno`);
      t.equal(h['x-auth-email'], undefined, `${host}${path}: no X-Auth-Email reaches the dyno`);
    }
  });

  await t.test('where the filter runs: a forged claim header is refused, a verified one is the only one', async (t) => {
    const before = dyno.seen.length;
    const refused = await send(router.port, 'api.localtest', '/users', { headers: forged });
    t.equal(refused.status, 400, 'a client sending a claim header where the filter applies: 400');
    const token = await mint(key, { sub: 'alice' });
    const spoofWithToken = await send(router.port, 'portal.localtest', '/private/x', { headers: { ...forged, authorization: `Bearer ${token}` } });
    t.equal(spoofWithToken.status, 400, 'even with a valid token');
    t.equal(dyno.seen.length, before, 'neither reached the dyno');

    const ok = await send(router.port, 'api.localtest', '/users', { headers: { authorization: `Bearer ${token}` } });
    t.equal(ok.status, 200);
    t.equal(seen(ok).headers['x-auth-subject'], 'alice', 'the verified sub');
    t.equal(seen(ok).headers['x-auth-email'], undefined, 'no email claim: no header');
  });

  await t.test('a WebSocket upgrade on an excluded path: the forged claim headers removed', async (t) => {
    const ws = new WebSocket(`ws://127.0.0.1:${router.port}/public/feed`, { headers: { host: 'live.localtest', ...forged }, perMessageDeflate: false });
    t.teardown(() => ws.terminate());
    await once(ws, 'open');
    t.equal(upgrades.length, 1, 'upgraded through the dyno');
    t.equal(upgrades[0]['x-auth-subject'], undefined, 'no X-Auth-Subject in the dyno\'s handshake');
    t.equal(upgrades[0]['x-auth-email'], undefined, 'no X-Auth-Email in the dyno\'s handshake');
    ws.close();
  });

  await t.test('an app whose JWT filter has no claims_headers: the same header is the client\'s own', async (t) => {
    const r = await send(router.port, 'plain.localtest', '/health', { headers: forged });
    t.equal(r.status, 200);
    t.equal(seen(r).headers['x-auth-subject'], 'admin', 'passed on: nothing claims it');
  });
});
