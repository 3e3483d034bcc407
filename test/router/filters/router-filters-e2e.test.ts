import t from 'tap';
import { JwksServer } from './support/jwks-server.js';
import { AUDIENCE, ISSUER, makeKey, mint } from './support/tokens.js';
import { EchoDyno, RouterProcess, freePort, send, type Reply } from './support/router-process.js';

// End to end through the real router process (node dist/router/main.js --config FILE), one
// worker, a real JWKS server and a real node:http dyno on loopback.

const PAGE = 'https://www.example.com';

t.test('JWT and CORS filters through the router', async (t) => {
  const jwks = await new JwksServer().start();
  t.teardown(() => jwks.stop());
  const rsa = await makeKey('RS256');
  const ec = await makeKey('ES256');
  jwks.keys = [rsa.jwk, ec.jwk];
  const dyno = await new EchoDyno().start();
  t.teardown(() => dyno.stop());
  const deadKeys = `http://127.0.0.1:${await freePort()}/.well-known/jwks.json`;
  const router = new RouterProcess();
  t.teardown(() => router.stop());
  await router.start({
    domain: 'localtest',
    workers: 1,
    listen: { http: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } },
    apps: {
      api: { dynos: [dyno.address], filters: [{ filter: 'auth', excludes: ['/health'] }, { filter: 'web-cors' }] },
      keyless: { dynos: [dyno.address], filters: [{ filter: 'auth-down' }] },
      claims: { dynos: [dyno.address], filters: [{ filter: 'auth-claims' }] },
    },
    sites: { 'www.localtest': { routes: [{ path: '/v3/api', app: 'api', target: '/' }] } },
    filters: {
      auth: { type: 'jwt', jwks_uri: jwks.uri, issuer: ISSUER, audiences: [AUDIENCE] },
      'auth-down': { type: 'jwt', jwks_uri: deadKeys, issuer: ISSUER },
      'auth-claims': { type: 'jwt', jwks_uri: jwks.uri, issuer: ISSUER, claims_headers: { sub: 'X-Auth-Subject' } },
      'web-cors': { type: 'cors', allow_origins: [PAGE], allow_methods: ['GET', 'POST'], allow_headers: ['authorization', 'content-type'],
        expose_headers: ['x-total-count'], max_age: 600, allow_credentials: true },
    },
  });
  const api = (path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> => send(router.port, 'api.localtest', path, { headers, method });
  const auth = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
  const seen = (r: Reply): { url: string; headers: Record<string, string> } => JSON.parse(r.body) as { url: string; headers: Record<string, string> };

  await t.test('tokens', async (t) => {
    for (const key of [rsa, ec]) {
      const token = await mint(key);
      const ok = await api('/users?page=2', auth(token));
      t.equal(ok.status, 200, `${key.alg}: a valid token reaches the dyno`);
      t.equal(seen(ok).headers.authorization, `Bearer ${token}`, `${key.alg}: Authorization reaches the dyno unchanged`);
      t.equal(seen(ok).url, '/users?page=2');
    }
    const before = dyno.seen.length;
    const none = await api('/users');
    t.equal(none.status, 401, 'no token: 401');
    t.equal(none.headers['www-authenticate'], 'Bearer error="invalid_token"');
    const now = Math.floor(Date.now() / 1000);
    const expired = await api('/users', auth(await mint(rsa, { exp: now - 30, iat: now - 90 })));
    t.equal(expired.status, 401, 'expired: 401');
    t.equal(expired.headers['www-authenticate'], 'Bearer error="invalid_token"');
    const issuer = await api('/users', auth(await mint(ec, { iss: 'https://other.test/' })));
    t.equal(issuer.status, 401, 'wrong issuer: 401');
    const stranger = await api('/users', auth(await mint(await makeKey('ES256'))));
    t.equal(stranger.status, 401, 'key not in the JWKS: 401');
    const audience = await api('/users', auth(await mint(rsa, { aud: 'billing' })));
    t.equal(audience.status, 403, 'wrong audience: 403');
    t.equal(audience.headers['www-authenticate'], 'Bearer error="insufficient_scope"');
    t.equal(dyno.seen.length, before, 'no refused request reached the dyno');

    const down = await send(router.port, 'keyless.localtest', '/x', { headers: auth(await mint(rsa)) });
    t.equal(down.status, 503, 'key server unreachable and no cached key: 503, not 401');
    t.equal(down.headers['www-authenticate'], undefined);
    t.equal(dyno.seen.length, before, 'not proxied either');

    const claims = await send(router.port, 'claims.localtest', '/me', { headers: auth(await mint(ec, { sub: 'alice' })) });
    t.equal(claims.status, 200);
    t.equal(seen(claims).headers['x-auth-subject'], 'alice', 'claims_headers: the verified sub reaches the dyno');
  });

  await t.test('paths: excludes on the normalised, rewritten path; no spelling skips the filter', async (t) => {
    for (const p of ['/health', '/health/live', '/HEALTH', '/x/../health', '/%68ealth']) {
      t.equal((await api(p)).status, 200, `${p} is excluded (no token needed)`);
    }
    for (const p of ['/health/../private', '/health/%2e%2e/private', '/health/%2E%2E/private', '//health/..//private', '/health/./../private', '/health%2F..%2Fprivate', '/health%2f%2e%2e%2fprivate',
      '/healthz', '/private']) {
      const r = await api(p);
      t.equal(r.status, 401, `${p} needs a token`);
    }
    const viaSite = await send(router.port, 'www.localtest', '/v3/api/health');
    t.equal(viaSite.status, 200, 'www.localtest/v3/api/health is /health for the app: excluded');
    t.equal(seen(viaSite).url, '/health', 'the dyno receives the rewritten path');
    t.equal((await send(router.port, 'www.localtest', '/v3/api/private')).status, 401, 'the filter applies through the site route');
    t.equal((await send(router.port, 'www.localtest', '/v3/api/health/../private')).status, 401, 'and through the site no spelling skips it');
    t.equal((await send(router.port, 'www.localtest', '/V3/API/Health')).status, 200, 'case-insensitive like routing');
  });

  await t.test('CORS headers', async (t) => {
    const before = dyno.seen.length;
    const pre = await api('/users', { origin: PAGE, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' }, 'OPTIONS');
    t.equal(pre.status, 204, 'preflight answered by the router, no token needed');
    t.equal(pre.headers['access-control-allow-origin'], PAGE);
    t.equal(pre.headers['access-control-allow-methods'], 'GET, POST');
    t.equal(pre.headers['access-control-allow-headers'], 'authorization, content-type');
    t.equal(pre.headers['access-control-max-age'], '600');
    t.equal(pre.headers['access-control-allow-credentials'], 'true');
    const bad = await api('/users', { origin: 'https://evil.example.net', 'access-control-request-method': 'POST' }, 'OPTIONS');
    t.equal(bad.headers['access-control-allow-origin'], undefined, 'disallowed origin: no allow-origin');
    const badMethod = await api('/users', { origin: PAGE, 'access-control-request-method': 'DELETE' }, 'OPTIONS');
    t.equal(badMethod.headers['access-control-allow-origin'], undefined, 'disallowed method: no allow-origin');
    t.equal(dyno.seen.length, before, 'preflights never reach the dyno');

    const actual = await api('/users', { origin: PAGE, ...auth(await mint(ec)) });
    t.equal(actual.status, 200);
    t.equal(actual.headers['access-control-allow-origin'], PAGE);
    t.equal(actual.headers['access-control-expose-headers'], 'x-total-count');
    t.equal(actual.headers['access-control-allow-credentials'], 'true');
    t.match(actual.headers.vary, /Origin/, 'Vary: Origin');
    const refused = await api('/users', { origin: PAGE });
    t.equal(refused.status, 401);
    t.equal(refused.headers['access-control-allow-origin'], PAGE, 'a 401 carries the CORS headers (the page can read it)');
    const other = await api('/users', { origin: 'https://evil.example.net', ...auth(await mint(ec)) });
    t.equal(other.status, 200);
    t.equal(other.headers['access-control-allow-origin'], undefined, 'another origin gets no allow-origin');
    t.match(other.headers.vary, /Origin/, 'but Vary: Origin');
    const noOrigin = await api('/health');
    t.match(noOrigin.headers.vary, /Origin/, 'Vary: Origin without an Origin too');
  });
  t.ok(jwks.hits >= 1 && jwks.hits <= 3, `the key server was asked ${jwks.hits} time(s) for the whole run`);
});
