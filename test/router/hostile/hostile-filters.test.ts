import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { base64url } from 'jose';
import { request } from 'undici';
import { baseConfig, echoDyno, startRouter, writeConfig, type Dyno, type RunningRouter } from '../../support/router-harness.js';
import { JwksServer } from '../filters/support/jwks-server.js';
import { ISSUER, makeKey, mint, type TestKey } from '../filters/support/tokens.js';
import { rawSend } from './support/raw-client.js';

// The JWT filter against hostile tokens and key servers, through the real router process: a
// token with a huge JOSE header is refused without choking (401 under the router's 16 KiB header
// cap, 431 over it, a closed connection past what uWS takes in), and a key server that hangs or
// trickles answers 503 within the key fetch deadline (5 s), never a hang.

/** A key server that accepts requests and never answers (or answers headers and one byte, then stalls). */
async function stallingKeyServer(mode: 'silent' | 'trickle'): Promise<{ uri: string; hits: number; close(): Promise<void> }> {
  const held: ServerResponse[] = [];
  const state = { hits: 0 };
  const server: Server = createServer((_req, res) => {
    state.hits++;
    held.push(res);
    if (mode === 'trickle') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    uri: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    get hits() {
      return state.hits;
    },
    close: () => new Promise<void>((resolve) => {
      for (const r of held) r.destroy();
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

let router: RunningRouter;
let dyno: Dyno;
let jwks: JwksServer;
let silent: Awaited<ReturnType<typeof stallingKeyServer>>;
let trickle: Awaited<ReturnType<typeof stallingKeyServer>>;
let key: TestKey;

t.before(async () => {
  dyno = await echoDyno('jwt-dyno');
  jwks = await new JwksServer().start();
  key = await makeKey('RS256');
  jwks.keys = [key.jwk];
  silent = await stallingKeyServer('silent');
  trickle = await stallingKeyServer('trickle');
  router = await startRouter(writeConfig(baseConfig({
    apps: {
      guarded: { dynos: [dyno.address], filters: [{ filter: 'auth' }] },
      'keys-silent': { dynos: [dyno.address], filters: [{ filter: 'auth-silent' }] },
      'keys-trickle': { dynos: [dyno.address], filters: [{ filter: 'auth-trickle' }] },
    },
    filters: {
      auth: { type: 'jwt', jwks_uri: jwks.uri, issuer: ISSUER },
      'auth-silent': { type: 'jwt', jwks_uri: silent.uri, issuer: ISSUER },
      'auth-trickle': { type: 'jwt', jwks_uri: trickle.uri, issuer: ISSUER },
    },
  })));
});
t.teardown(async () => {
  await router?.stop();
  await dyno?.close();
  await jwks?.stop();
  await silent?.close();
  await trickle?.close();
});

/** A token-shaped value whose JOSE header segment is `bytes` long (signature made up). */
function bigHeaderToken(bytes: number): string {
  const header = base64url.encode(JSON.stringify({ alg: 'RS256', kid: key.kid, pad: 'x'.repeat(Math.ceil(bytes * 3 / 4)) }));
  const payload = base64url.encode(JSON.stringify({ iss: ISSUER, sub: 'user-1', exp: Math.floor(Date.now() / 1000) + 600 }));
  return `${header}.${payload}.${base64url.encode('not a signature')}`;
}

function withToken(host: string, token: string, id: string): string {
  return `GET /private HTTP/1.1\r\nHost: ${host}\r\nX-Request-Id: ${id}\r\nAuthorization: Bearer ${token}\r\n\r\n`;
}

t.test('a JWT with a huge header: refused at once, the key server untouched, the router unbothered', async (t) => {
  const port = router.ports.http;
  const valid = await mint(key);
  const warm = await request(router.url('/private'), { headers: { host: 'guarded.example.io', authorization: `Bearer ${valid}` } });
  t.equal(warm.statusCode, 200, 'a valid token passes (keys fetched)');
  await warm.body.dump();
  const hitsBefore = jwks.hits;
  const dynoBefore = dyno.hits;

  const twelve = await rawSend(port, withToken('guarded.example.io', bigHeaderToken(12 * 1024), 'jwt-12k'));
  t.comment(`12 KiB token header: ${twelve.status} in ${twelve.ms} ms`);
  t.equal(twelve.status, 401, '12 KiB: 401 from the JWT filter');
  t.match(twelve.text, /\r\nwww-authenticate: Bearer error="invalid_token"\r\n/i);
  t.match(await router.waitForLine((l) => l.includes('request_id=jwt-12k ')), / status=401 /, 'logged');

  const forty = await rawSend(port, withToken('guarded.example.io', bigHeaderToken(40 * 1024), 'jwt-40k'), { untilClose: true, timeoutMs: 20000 });
  // One write of 40 KiB is usually one read for uWS (431 from the router); on a loaded machine
  // it can arrive in two reads, more than uWS keeps between reads: closed with no status.
  t.comment(`40 KiB token header: status=${forty.status} closed=${forty.closed}`);
  t.ok(forty.status === 431 || forty.status === 0, '40 KiB: 431 before any filter, or closed by uWS');
  if (forty.status === 431) t.match(forty.text, /\r\n\r\nRequest headers too large\n$/);
  t.ok(forty.closed, '40 KiB: the connection is closed');

  const mega = await rawSend(port, withToken('guarded.example.io', bigHeaderToken(1 << 20), 'jwt-1m'), { timeoutMs: 20000 });
  t.comment(`1 MiB token header: closed=${mega.closed} in ${mega.ms} ms`);
  t.equal(mega.status, 0, '1 MiB: no status');
  t.ok(mega.closed, '1 MiB: uWS closes the connection');

  t.equal(jwks.hits, hitsBefore, 'no key fetch for any of them');
  t.equal(dyno.hits, dynoBefore, 'nothing reached the dyno');
  const after = await request(router.url('/private'), { headers: { host: 'guarded.example.io', authorization: `Bearer ${valid}` } });
  t.equal(after.statusCode, 200, 'valid tokens still pass');
  await after.body.dump();
});

for (const [app, what, server] of [['keys-silent', 'never answers', () => silent], ['keys-trickle', 'sends headers then stalls', () => trickle]] as const) {
  t.test(`a key server that ${what}: 503 within the fetch deadline, never a hang`, async (t) => {
    const token = await mint(key);
    const hitsBefore = server().hits;
    const t0 = Date.now();
    const answers = await Promise.all(Array.from({ length: 5 }, async (_, i) => {
      const res = await request(router.url(`/private/${i}`), {
        headers: { host: `${app}.example.io`, authorization: `Bearer ${token}`, 'x-request-id': `${app}-${i}` },
        headersTimeout: 30000,
      });
      return { status: res.statusCode, retryAfter: res.headers['retry-after'], body: await res.body.text() };
    }));
    t.comment(`5 concurrent requests answered in ${Date.now() - t0} ms`);
    for (const a of answers) {
      t.equal(a.status, 503, 'keys unavailable: 503, never 401');
      t.equal(a.retryAfter, '5');
      t.equal(a.body, 'Service Unavailable: token keys unavailable\n');
    }
    // they share the fetch in flight (a background retry may start one more), never one each
    t.ok(server().hits - hitsBefore <= 2, `key fetches while 5 requests waited: ${server().hits - hitsBefore}`);
    t.ok(server().hits >= 1, 'the key server was asked');
    for (let i = 0; i < 5; i++) t.match(await router.waitForLine((l) => l.includes(`request_id=${app}-${i} `)), / status=503 /);
    const again = await request(router.url('/private'), { headers: { host: `${app}.example.io`, authorization: `Bearer ${token}` }, headersTimeout: 30000 });
    t.equal(again.statusCode, 503, 'and the next one too');
    await again.body.dump();
  });
}
