import t from 'tap';
import { pino } from 'pino';
import { FilterFactory } from '../../../router/filters/filter-factory.js';
import type { FilterDef } from '../../../router/config/filter-schema.js';
import type { FilterAnswer } from '../../../router/filters/filter.js';
import { JwksServer } from './support/jwks-server.js';
import { TestRequest, run } from './support/filter-request.js';

const logger = pino({ level: 'silent' });
const SITE = 'https://www.example.com';

const defs: Record<string, FilterDef> = {
  'web-cors': { type: 'cors', allow_origins: [SITE, 'http://127.0.0.1:3000'], allow_methods: ['GET', 'POST', 'DELETE'],
    allow_headers: ['Authorization', 'content-type'], expose_headers: ['x-total-count'], max_age: 600, allow_credentials: true },
  'open-cors': { type: 'cors', allow_origins: ['*'] },
};

function header(headers: readonly [string, string][] | undefined, name: string): string | undefined {
  const found = (headers ?? []).filter(([k]) => k.toLowerCase() === name);
  return found.length === 0 ? undefined : found.map(([, v]) => v).join(', ');
}

function preflight(origin: string, method: string, requestHeaders?: string): TestRequest {
  const h: Record<string, string> = { origin, 'access-control-request-method': method };
  if (requestHeaders !== undefined) h['access-control-request-headers'] = requestHeaders;
  return new TestRequest('OPTIONS', '/users', h);
}

t.test('preflight from an allowed origin: answered 204 with every CORS header', async (t) => {
  const factory = new FilterFactory({ logger });
  t.teardown(() => factory.close());
  const chain = factory.chain([{ filter: 'web-cors' }], defs);
  const r = preflight(SITE, 'DELETE', 'authorization,content-type');
  const a = chain[0].apply(r) as FilterAnswer;
  t.equal(a.status, 204);
  t.equal(header(a.headers, 'access-control-allow-origin'), SITE, 'the exact origin, never *');
  t.equal(header(a.headers, 'access-control-allow-methods'), 'GET, POST, DELETE');
  t.equal(header(a.headers, 'access-control-allow-headers'), 'authorization, content-type');
  t.equal(header(a.headers, 'access-control-max-age'), '600');
  t.equal(header(a.headers, 'access-control-allow-credentials'), 'true');
  t.match(header(a.headers, 'vary'), /\bOrigin\b/);
  t.equal(a.body ?? '', '', 'no body');
  t.equal(header(a.headers, 'access-control-allow-origin'), SITE);
  t.same(r.responseHeaders, [], 'nothing added twice through responseHeaders');
});

t.test('preflight refused: disallowed origin, method or header gets no allow-origin', async (t) => {
  const factory = new FilterFactory({ logger });
  t.teardown(() => factory.close());
  const chain = factory.chain([{ filter: 'web-cors' }], defs);
  const cases: [string, TestRequest][] = [
    ['other origin', preflight('https://evil.example.net', 'GET')],
    ['origin with another port', preflight('https://www.example.com:8443', 'GET')],
    ['origin with another scheme', preflight('http://www.example.com', 'GET')],
    ['method not listed', preflight(SITE, 'PUT')],
    ['header not listed', preflight(SITE, 'POST', 'content-type, x-secret')],
  ];
  for (const [what, r] of cases) {
    const a = (await run(chain, r)) as FilterAnswer;
    t.equal(a?.status, 403, `${what}: answered by the router`);
    t.equal(header(a.headers, 'access-control-allow-origin'), undefined, `${what}: no allow-origin`);
    t.equal(header(r.responseHeaders, 'access-control-allow-origin'), undefined, `${what}: none added either`);
    t.match(header(a.headers, 'vary'), /\bOrigin\b/, `${what}: Vary: Origin`);
  }
});

t.test('actual requests: allow-origin only for an allowed origin; Vary: Origin always', async (t) => {
  const factory = new FilterFactory({ logger });
  t.teardown(() => factory.close());
  const chain = factory.chain([{ filter: 'web-cors' }], defs);
  const allowed = new TestRequest('POST', '/users', { origin: SITE });
  t.equal(chain[0].apply(allowed), undefined, 'the request goes on');
  t.same(allowed.responseHeaders, [['vary', 'Origin'], ['access-control-allow-origin', SITE], ['access-control-allow-credentials', 'true'],
    ['access-control-expose-headers', 'x-total-count']]);
  const upper = new TestRequest('GET', '/users', { origin: 'HTTP://127.0.0.1:3000' });
  t.equal(chain[0].apply(upper), undefined);
  t.equal(header(upper.responseHeaders, 'access-control-allow-origin'), 'HTTP://127.0.0.1:3000', 'origins compare case-insensitively, echoed as sent');
  for (const [what, r] of [
    ['disallowed origin', new TestRequest('GET', '/users', { origin: 'https://evil.example.net' })],
    ['no origin', new TestRequest('GET', '/users')],
    ['OPTIONS without request method (not a preflight)', new TestRequest('OPTIONS', '/users', { origin: 'https://evil.example.net' })],
  ] as const) {
    t.equal(chain[0].apply(r), undefined, `${what}: goes on`);
    t.same(r.responseHeaders, [['vary', 'Origin']], `${what}: only Vary: Origin`);
  }
});

t.test('allow_origins "*" (no credentials) echoes the origin and omits credentials', async (t) => {
  const factory = new FilterFactory({ logger });
  t.teardown(() => factory.close());
  const chain = factory.chain([{ filter: 'open-cors' }], defs);
  const a = chain[0].apply(preflight('https://anything.test', 'POST')) as FilterAnswer;
  t.equal(a.status, 204);
  t.equal(header(a.headers, 'access-control-allow-origin'), 'https://anything.test');
  t.equal(header(a.headers, 'access-control-allow-methods'), 'GET, HEAD, POST', 'default methods: the safelisted ones');
  t.equal(header(a.headers, 'access-control-allow-credentials'), undefined);
  t.equal(header(a.headers, 'access-control-max-age'), undefined);
  t.equal((chain[0].apply(preflight('https://anything.test', 'PATCH')) as FilterAnswer).status, 403, 'PATCH not in the defaults');
});

t.test('CORS runs before JWT whatever the list order: a preflight needs no token and no key server', async (t) => {
  const server = await new JwksServer().start();
  t.teardown(() => server.stop());
  await server.stop(); // the key server is unreachable: a JWT check would answer 503
  const factory = new FilterFactory({ logger });
  t.teardown(() => factory.close());
  const d = { ...defs, auth: { type: 'jwt', jwks_uri: server.uri, issuer: 'https://idp.test/' } as FilterDef };
  const chain = factory.chain([{ filter: 'auth' }, { filter: 'web-cors' }], d);
  t.same(chain.map((f) => f.type), ['cors', 'jwt']);
  const a = (await run(chain, preflight(SITE, 'POST', 'authorization'))) as FilterAnswer;
  t.equal(a.status, 204, 'preflight answered');
  t.equal(header(a.headers, 'access-control-allow-origin'), SITE);
  // an actual request without a token: refused by JWT, with the CORS headers so the page can read the 401/503
  const r = new TestRequest('GET', '/users', { origin: SITE });
  const refused = (await run(chain, r)) as FilterAnswer;
  t.equal(refused.status, 401, 'no token: 401 even with the key server down');
  t.equal(header(r.responseHeaders, 'access-control-allow-origin'), SITE, 'CORS headers ride along on the refusal');
});
