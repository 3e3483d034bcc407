import t, { type Test } from 'tap';
import { pino } from 'pino';
import { FilterFactory } from '../../../router/filters/filter-factory.js';
import type { FilterDef } from '../../../router/config/filter-schema.js';
import type { FilterAnswer } from '../../../router/filters/filter.js';
import { JwksServer } from './support/jwks-server.js';
import { AUDIENCE, ISSUER, makeKey, mint, tamper, unsecured } from './support/tokens.js';
import { TestRequest, bearer, run, until } from './support/filter-request.js';

const logger = pino({ level: 'silent' });

function defs(uri: string, extra: Record<string, unknown> = {}): Record<string, FilterDef> {
  return { auth: { type: 'jwt', jwks_uri: uri, issuer: ISSUER, audiences: [AUDIENCE], ...extra } as FilterDef };
}

function refused(t: Test, v: unknown, status: number, error: string | undefined, what: string): void {
  const a = v as FilterAnswer | undefined;
  t.equal(a?.status, status, `${what}: status ${status}`);
  const www = a?.headers?.find(([k]) => k.toLowerCase() === 'www-authenticate')?.[1];
  if (error === undefined) t.equal(www, undefined, `${what}: no WWW-Authenticate`);
  else t.equal(www, `Bearer error="${error}"`, `${what}: WWW-Authenticate`);
}

for (const alg of ['RS256', 'ES256'] as const) {
  t.test(`${alg}: every token case`, async (t) => {
    const server = await new JwksServer().start();
    t.teardown(() => server.stop());
    const key = await makeKey(alg);
    const other = await makeKey(alg, key.kid); // same kid, different key: a forged signature
    const unknown = await makeKey(alg);
    server.keys = [key.jwk];
    const factory = new FilterFactory({ logger });
    t.teardown(() => factory.close());
    const chain = factory.chain([{ filter: 'auth' }], defs(server.uri));
    t.equal(chain.length, 1);
    t.equal(chain[0].type, 'jwt');
    const req = (headers: Record<string, string>): TestRequest => new TestRequest('GET', '/users', headers);

    const good = await mint(key);
    const okReq = req(bearer(good));
    t.equal(await run(chain, okReq), undefined, 'a valid token passes');
    t.same(okReq.upstreamHeaders, [], 'no headers added without claims_headers');
    t.equal(okReq.header('authorization'), `Bearer ${good}`, 'Authorization is left for the dyno');

    const again = chain[0].apply(req(bearer(good)));
    t.notOk(again instanceof Promise, 'a verified token is answered from the cache, synchronously');
    t.equal(again, undefined);

    refused(t, await run(chain, req({})), 401, 'invalid_token', 'no token');
    refused(t, await run(chain, req({ authorization: 'Basic dXNlcjpwYXNz' })), 401, 'invalid_token', 'basic scheme');
    refused(t, await run(chain, req({ authorization: 'Bearer not.a.jwt' })), 401, 'invalid_token', 'malformed');
    refused(t, await run(chain, req({ authorization: 'Bearer ' })), 401, 'invalid_token', 'empty bearer');
    refused(t, await run(chain, req(bearer(tamper(good)))), 401, 'invalid_token', 'tampered payload');
    refused(t, await run(chain, req(bearer(await mint(other)))), 401, 'invalid_token', 'signed by another key with the same kid');
    refused(t, await run(chain, req(bearer(await mint(unknown)))), 401, 'invalid_token', 'signed by a key not in the JWKS');
    t.equal(await run(chain, req(bearer(await mint(key, {}, { kid: null })))), undefined, 'no kid: the only key of that type is used');
    refused(t, await run(chain, req(bearer(unsecured(key.kid)))), 401, 'invalid_token', 'alg none');
    const now = Math.floor(Date.now() / 1000);
    refused(t, await run(chain, req(bearer(await mint(key, { exp: now - 60, iat: now - 120 })))), 401, 'invalid_token', 'expired');
    refused(t, await run(chain, req(bearer(await mint(key, { nbf: now + 3600 })))), 401, 'invalid_token', 'not yet valid');
    refused(t, await run(chain, req(bearer(await mint(key, { iss: 'https://evil.test/' })))), 401, 'invalid_token', 'wrong issuer');
    refused(t, await run(chain, req(bearer(await mint(key, {}, { noExp: true })))), 401, 'invalid_token', 'no exp');
    refused(t, await run(chain, req(bearer(await mint(key, { aud: 'billing' })))), 403, 'insufficient_scope', 'wrong audience');
    refused(t, await run(chain, req(bearer(await mint(key, { aud: ['billing', 'other'] })))), 403, 'insufficient_scope', 'no wanted audience');
    t.equal(await run(chain, req(bearer(await mint(key, { aud: ['billing', AUDIENCE] })))), undefined, 'one of several audiences');
    t.equal(await run(chain, req({ authorization: `bearer  ${good}` })), undefined, 'scheme is case-insensitive');

    // a wrong-audience token with a bad signature is invalid (401), not a scope problem
    refused(t, await run(chain, req(bearer(tamper(await mint(key, { aud: 'billing' }))))), 401, 'invalid_token', 'tampered wrong audience');
    t.ok(server.hits <= 2, `key server hit at most twice (initial + one unknown-kid refetch), was ${server.hits}`);
  });
}

t.test('keys are fetched once and shared; verified tokens are cached until they expire', async (t) => {
  const server = await new JwksServer().start();
  t.teardown(() => server.stop());
  const rsa = await makeKey('RS256');
  const ec = await makeKey('ES256');
  server.keys = [rsa.jwk, ec.jwk];
  const factory = new FilterFactory({ logger });
  t.teardown(() => factory.close());
  // two apps, two filter names, one jwks_uri
  const d = { ...defs(server.uri), auth2: { type: 'jwt', jwks_uri: server.uri, issuer: ISSUER } as FilterDef };
  const a = factory.chain([{ filter: 'auth' }], d);
  const b = factory.chain([{ filter: 'auth2' }], d);
  const tokens = await Promise.all([mint(rsa), mint(ec), mint(rsa, { sub: 'u2' }), mint(ec, { aud: 'other' })]);
  for (let i = 0; i < 20; i++) {
    for (const tok of tokens.slice(0, 3)) t.equal(await run(a, new TestRequest('GET', '/', bearer(tok))), undefined);
    t.equal(await run(b, new TestRequest('GET', '/', bearer(tokens[3]))), undefined, 'no audiences configured: any audience');
  }
  t.equal(server.hits, 1, 'one JWKS fetch for every filter and token');

  const short = await mint(rsa, {}, { expiresIn: '2s' });
  t.equal(await run(a, new TestRequest('GET', '/', bearer(short))), undefined, 'a token about to expire passes');
  await until('the cached token to expire', async () => {
    const v = (await run(a, new TestRequest('GET', '/', bearer(short)))) as FilterAnswer | undefined;
    return v?.status === 401;
  });
  refused(t, await run(a, new TestRequest('GET', '/', bearer(short))), 401, 'invalid_token', 'after exp, even though it was cached');
});

t.test('a flood of unknown kids does not hammer the key server; a rotated-in key is picked up', async (t) => {
  const server = await new JwksServer().start();
  t.teardown(() => server.stop());
  const key = await makeKey('ES256');
  server.keys = [key.jwk];
  const factory = new FilterFactory({ logger, jwks: { cooldownMs: 60_000 } });
  t.teardown(() => factory.close());
  const chain = factory.chain([{ filter: 'auth' }], defs(server.uri));
  t.equal(await run(chain, new TestRequest('GET', '/', bearer(await mint(key)))), undefined);
  const strangers = await Promise.all(Array.from({ length: 50 }, async (_, i) => mint(key, {}, { kid: `nope-${i}` })));
  const verdicts = await Promise.all(strangers.map((tok) => run(chain, new TestRequest('GET', '/', bearer(tok)))));
  t.ok(verdicts.every((v) => (v as FilterAnswer | undefined)?.status === 401), 'every unknown kid is refused with 401');
  t.ok(server.hits <= 2, `at most one refetch for the whole flood (hits ${server.hits})`);
  const hitsAfterFlood = server.hits;
  for (const tok of strangers.slice(0, 10)) refused(t, await run(chain, new TestRequest('GET', '/', bearer(tok))), 401, 'invalid_token', 'again');
  t.equal(server.hits, hitsAfterFlood, 'no refetch inside the cooldown');

  // rotation: with a short cooldown, a new kid is fetched and accepted
  const factory2 = new FilterFactory({ logger, jwks: { cooldownMs: 50 } });
  t.teardown(() => factory2.close());
  const server2 = await new JwksServer().start();
  t.teardown(() => server2.stop());
  server2.keys = [key.jwk];
  const chain2 = factory2.chain([{ filter: 'auth' }], defs(server2.uri));
  t.equal(await run(chain2, new TestRequest('GET', '/', bearer(await mint(key)))), undefined);
  const fresh = await makeKey('ES256');
  server2.keys = [key.jwk, fresh.jwk];
  const rotated = await mint(fresh);
  await until('the rotated-in key to be fetched', async () => (await run(chain2, new TestRequest('GET', '/', bearer(rotated)))) === undefined);
  t.pass('a token signed by a key added to the JWKS later passes');
});

t.test('key server down: cached keys keep working, otherwise 503 (never 401)', async (t) => {
  const server = await new JwksServer().start();
  t.teardown(() => server.stop());
  const key = await makeKey('ES256');
  server.keys = [key.jwk];
  const factory = new FilterFactory({ logger, jwks: { cooldownMs: 50, retryMs: 50 } });
  t.teardown(() => factory.close());
  const chain = factory.chain([{ filter: 'auth' }], defs(server.uri));
  const cached = await mint(key);
  t.equal(await run(chain, new TestRequest('GET', '/', bearer(cached))), undefined);
  await server.stop();

  t.equal(await run(chain, new TestRequest('GET', '/', bearer(cached))), undefined, 'a verified token still passes');
  t.equal(await run(chain, new TestRequest('GET', '/', bearer(await mint(key, { sub: 'new' })))), undefined,
    'a new token signed by a cached key still passes');
  const stranger = await mint(await makeKey('ES256'));
  await new Promise((r) => setTimeout(r, 60)); // past the cooldown, so the unknown kid triggers a (failing) fetch
  const v = (await run(chain, new TestRequest('GET', '/', bearer(stranger)))) as FilterAnswer;
  t.equal(v?.status, 503, 'a kid that needs the key server: 503');
  t.ok(v.headers?.some(([k]) => k === 'retry-after'), 'with Retry-After');
  t.notOk(v.headers?.some(([k]) => k === 'www-authenticate'), 'and no WWW-Authenticate (the token may be fine)');

  // a filter on a key server that has never answered
  const fresh = new FilterFactory({ logger, jwks: { retryMs: 50 } });
  t.teardown(() => fresh.close());
  const cold = fresh.chain([{ filter: 'auth' }], defs(server.uri));
  const hitsBefore = server.hits;
  const burst = await Promise.all(Array.from({ length: 30 }, async () => run(cold, new TestRequest('GET', '/', bearer(cached)))));
  t.ok(burst.every((x) => (x as FilterAnswer | undefined)?.status === 503), 'no keys ever fetched: every request 503');
  refused(t, await run(cold, new TestRequest('GET', '/', {})), 401, 'invalid_token', 'no token at all is still 401');

  await server.restart();
  await until('the key server to be used again', async () => (await run(cold, new TestRequest('GET', '/', bearer(cached)))) === undefined);
  t.pass('once the key server is back, tokens pass without any new config');
  t.ok(server.hits - hitsBefore >= 1, 'the restarted key server was asked');
});

t.test('a key server answering errors or garbage: 503', async (t) => {
  const server = await new JwksServer().start();
  t.teardown(() => server.stop());
  const key = await makeKey('ES256');
  server.keys = [key.jwk];
  for (const mode of ['error', 'garbage'] as const) {
    server.mode = mode;
    const factory = new FilterFactory({ logger });
    t.teardown(() => factory.close());
    const chain = factory.chain([{ filter: 'auth' }], defs(server.uri));
    const v = (await run(chain, new TestRequest('GET', '/', bearer(await mint(key))))) as FilterAnswer;
    t.equal(v?.status, 503, `key server ${mode}: 503`);
  }
});

t.test('the verified-token cache is bounded by count', async (t) => {
  const server = await new JwksServer().start();
  t.teardown(() => server.stop());
  const key = await makeKey('ES256');
  server.keys = [key.jwk];
  const factory = new FilterFactory({ logger, tokenCache: { max: 2 }, jwks: { cooldownMs: 50 } });
  t.teardown(() => factory.close());
  const chain = factory.chain([{ filter: 'auth' }], defs(server.uri));
  const tokens = await Promise.all([1, 2, 3].map((i) => mint(key, { sub: `u${i}` })));
  for (const tok of tokens) t.equal(await run(chain, new TestRequest('GET', '/', bearer(tok))), undefined);
  // the key is withdrawn and the JWKS refetched: only tokens still in the cache pass now
  server.keys = [(await makeKey('ES256')).jwk];
  const probe = await mint(await makeKey('ES256'));
  await new Promise((r) => setTimeout(r, 60));
  await run(chain, new TestRequest('GET', '/', bearer(probe))); // unknown kid -> refetch of the new set
  t.equal(chain[0].apply(new TestRequest('GET', '/', bearer(tokens[2]))), undefined, 'the newest token is still cached');
  t.equal(chain[0].apply(new TestRequest('GET', '/', bearer(tokens[1]))), undefined, 'and the one before');
  refused(t, await run(chain, new TestRequest('GET', '/', bearer(tokens[0]))), 401, 'invalid_token',
    'the oldest was evicted (cache of 2) and its key is gone');
});

t.test('claims_headers: verified claims go to the dyno; a client cannot send them', async (t) => {
  const server = await new JwksServer().start();
  t.teardown(() => server.stop());
  const key = await makeKey('ES256');
  server.keys = [key.jwk];
  const factory = new FilterFactory({ logger });
  t.teardown(() => factory.close());
  const d = defs(server.uri, { claims_headers: { sub: 'X-Auth-Subject', scope: 'X-Auth-Scope', roles: 'X-Auth-Roles', email: 'X-Auth-Email' } });
  t.same(factory.problems(d), []);
  const chain = factory.chain([{ filter: 'auth' }], d);
  const tok = await mint(key, { sub: 'alice', scope: 'read write', roles: ['admin', 'ops'], email: 'a\r\nX-Evil: 1' });
  for (const pass of ['verified', 'cached']) {
    const r = new TestRequest('GET', '/', bearer(tok));
    t.equal(await run(chain, r), undefined);
    t.same(r.upstreamHeaders, [['x-auth-subject', 'alice'], ['x-auth-scope', 'read write'], ['x-auth-roles', '["admin","ops"]'],
      ['x-auth-email', 'a\\u000d\\u000aX-Evil: 1']], `${pass}: claim headers, control characters escaped`);
  }
  const spoof = (await run(chain, new TestRequest('GET', '/', { ...bearer(tok), 'x-auth-subject': 'root' }))) as FilterAnswer;
  t.equal(spoof?.status, 400, 'a client-sent claim header is refused');
});

t.test('caches survive a config reload; closing the old chain keeps what the new one uses', async (t) => {
  const server = await new JwksServer().start();
  t.teardown(() => server.stop());
  const key = await makeKey('ES256');
  server.keys = [key.jwk];
  const factory = new FilterFactory({ logger });
  t.teardown(() => factory.close());
  const old = factory.chain([{ filter: 'auth' }], defs(server.uri));
  const tok = await mint(key);
  t.equal(await run(old, new TestRequest('GET', '/', bearer(tok))), undefined);
  const next = factory.chain([{ filter: 'auth', excludes: ['/health'] }], defs(server.uri));
  for (const f of old) f.close?.();
  t.equal(next[0].apply(new TestRequest('GET', '/x', bearer(tok))), undefined, 'the token is still cached after the reload');
  t.equal(server.hits, 1, 'no refetch of the keys');
  // another definition on the same jwks_uri shares the keys
  const other = factory.chain([{ filter: 'auth' }], defs(server.uri, { audiences: ['api', 'web'] }));
  t.equal(await run(other, new TestRequest('GET', '/', bearer(tok))), undefined);
  t.equal(server.hits, 1, 'keys shared by jwks_uri');
});

t.test('keys are refreshed in the background while in use, and not once no filter uses them', async (t) => {
  const server = await new JwksServer().start();
  t.teardown(() => server.stop());
  const old = await makeKey('ES256');
  server.keys = [old.jwk];
  // a long cooldown: only the background refresh can pick up a new key
  const factory = new FilterFactory({ logger, jwks: { refreshMs: 100, cooldownMs: 600_000 } });
  t.teardown(() => factory.close());
  const chain = factory.chain([{ filter: 'auth' }], defs(server.uri));
  t.equal(await run(chain, new TestRequest('GET', '/', bearer(await mint(old)))), undefined);
  const next = await makeKey('ES256');
  const rotated = await mint(next);
  refused(t, await run(chain, new TestRequest('GET', '/', bearer(rotated))), 401, 'invalid_token', 'a key the server does not publish yet');
  server.keys = [old.jwk, next.jwk];
  await until('the background refresh to pick up the new key', async () => (await run(chain, new TestRequest('GET', '/', bearer(rotated)))) === undefined);
  t.pass('the new key was fetched without any request asking for it (cooldown not elapsed)');
  t.ok(server.hits >= 2, `refreshed (${server.hits} fetches)`);

  for (const f of chain) f.close?.();
  const hits = server.hits;
  await new Promise((r) => setTimeout(r, 500));
  t.ok(server.hits <= hits + 1, `no more refreshes once unused (${server.hits - hits} after close; one may have been in flight)`);
});
