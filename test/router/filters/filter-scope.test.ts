import t from 'tap';
import { pino } from 'pino';
import { FilterFactory } from '../../../router/filters/filter-factory.js';
import type { FilterDef } from '../../../router/config/filter-schema.js';
import type { FilterAnswer } from '../../../router/filters/filter.js';
import { JwksServer } from './support/jwks-server.js';
import { ISSUER, makeKey, mint } from './support/tokens.js';
import { TestRequest, bearer, run } from './support/filter-request.js';

const logger = pino({ level: 'silent' });

t.test('excludes and includes: prefixes of the rewritten path, on segment boundaries, case-insensitive', async (t) => {
  const server = await new JwksServer().start();
  t.teardown(() => server.stop());
  const key = await makeKey('ES256');
  server.keys = [key.jwk];
  const factory = new FilterFactory({ logger });
  t.teardown(() => factory.close());
  const defs: Record<string, FilterDef> = { auth: { type: 'jwt', jwks_uri: server.uri, issuer: ISSUER } };
  const status = async (chain: ReturnType<FilterFactory['chain']>, path: string, headers: Record<string, string> = {}): Promise<number> =>
    ((await run(chain, new TestRequest('GET', path, headers))) as FilterAnswer | undefined)?.status ?? 200;

  const ex = factory.chain([{ filter: 'auth', excludes: ['/health', '/Public/Docs/', '/a/./b//c', '/%7Euser'] }], defs);
  for (const p of ['/health', '/health/', '/health/deep/x', '/HEALTH', '/public/docs', '/public/docs/x', '/a/b/c/d', '/~user/x']) {
    t.equal(await status(ex, p), 200, `${p} is excluded`);
  }
  for (const p of ['/', '/healthz', '/healt', '/private', '/public', '/public/docsx', '/x/health', '/a/b', '/api/health']) {
    t.equal(await status(ex, p), 401, `${p} needs a token`);
  }
  t.equal(await status(ex, '/private', bearer(await mint(key))), 200, 'with a token it passes');

  const inc = factory.chain([{ filter: 'auth', includes: ['/admin', '/api/v2'], excludes: ['/api/v2/status'] }], defs);
  for (const p of ['/admin', '/Admin/users', '/api/v2/x']) t.equal(await status(inc, p), 401, `${p} is included`);
  for (const p of ['/', '/adminx', '/api', '/api/v1/x', '/api/v2/status', '/api/v2/status/deep']) t.equal(await status(inc, p), 200, `${p} is not covered`);

  const root = factory.chain([{ filter: 'auth', excludes: ['/'] }], defs);
  t.equal(await status(root, '/anything'), 200, 'excluding / excludes everything');
});

t.test('problems(): semantic errors named by field', async (t) => {
  const factory = new FilterFactory({ logger });
  t.teardown(() => factory.close());
  const defs = {
    ok: { type: 'jwt', jwks_uri: 'https://idp.example.com/.well-known/jwks.json', issuer: 'https://idp.example.com/', audiences: ['api'] },
    badurl: { type: 'jwt', jwks_uri: 'idp.example.com/jwks', issuer: 'x' },
    ftp: { type: 'jwt', jwks_uri: 'ftp://idp.example.com/jwks', issuer: 'x', claims_headers: { sub: 'Authorization', email: 'x auth' } },
    cors: { type: 'cors', allow_origins: ['*', 'https://a.example.com/path', 'not an origin', 'https://b.example.com:8443'],
      allow_credentials: true, allow_methods: ['GET', 'B@D'], allow_headers: ['*'], expose_headers: ['x-ok', 'bad header'] },
    fine: { type: 'cors', allow_origins: ['https://www.example.com', 'http://localhost:3000/'], allow_headers: ['*'] },
  } as Record<string, FilterDef>;
  const problems = factory.problems(defs);
  t.same(problems.filter((p) => p.startsWith('filters.ok.') || p.startsWith('filters.fine.')), [], 'valid definitions have no problems');
  for (const field of [
    'filters.badurl.jwks_uri: ', 'filters.ftp.jwks_uri: ', 'filters.ftp.claims_headers.sub: ', 'filters.ftp.claims_headers.email: ',
    'filters.cors.allow_origins: ', 'filters.cors.allow_origins[1]: ', 'filters.cors.allow_origins[2]: ', 'filters.cors.allow_methods[1]: ',
    'filters.cors.allow_headers[0]: ', 'filters.cors.expose_headers[1]: ',
  ]) t.ok(problems.some((p) => p.startsWith(field)), `reports ${field}`);
  t.equal(problems.filter((p) => p.startsWith('filters.cors.allow_origins[3]')).length, 0, 'an origin with a port is fine');

  const refs = factory.refProblems('api-prod', [{ filter: 'nope' }, { filter: 'fine' }, { filter: 'cors' }, { filter: 'ok', excludes: ['/x?y'] }], defs);
  t.same(refs, [
    'apps.api-prod.filters[0].filter: no filter named "nope" in filters',
    'apps.api-prod.filters[2].filter: an app may have one cors filter',
    'apps.api-prod.filters[3].excludes[0]: must be a path prefix without query or fragment',
  ]);
  t.throws(() => factory.chain([{ filter: 'nope' }], defs), { code: 'E_CONFIG' }, 'chain() refuses an unknown filter');
});
