import t from 'tap';
import fc from 'fast-check';
import pino from 'pino';
import { normalisePath } from '../../router/routing/normalise-path.js';
import { matchRoute, type HostEntry, type RouteTable } from '../../router/routing/route-table.js';
import { compileRouteTable } from '../../router/routing/compile.js';
import { validateRouterConfig } from '../../router/config/load.js';
import { DynoRegistry } from '../../router/upstream/dyno-registry.js';
import { FilterFactory } from '../../router/filters/filter-factory.js';
import { runFilters } from '../../router/filters/run-filters.js';
import type { Filter } from '../../router/filters/filter.js';
import { ConfigError } from '../../shared/errors.js';
import { refCovers, refLower, refMatch, refNormalise, type RefRoute } from './path-reference.js';
import { fuzz } from './fuzz-params.js';

/** segments that mean something to a normaliser: letters in both cases, escapes of every kind */
const CLEAN_SEGMENTS = ['api', 'API', 'Api', 'k', 'K', 'i', 'I', 'ǅ', 'v3', 'V3', 'a', 'b', 'health', 'Health', 'users', '%41pi', '%61PI', 'x%2Fy', 'x%2fy',
  '%2F', '%2f', '%252E', '%252e', '%25', '%7E', '%7e', '~u', '%5F', '%2D', '%30', '%3A', '%3a', ':', '@', '!', '$', '&', "'", '(', ')',
  '*', '+', ',', ';', '=', '%20', '%C3%A9', 'é', 'İ', '\u212A', '..;', 'a.b', '.a', 'a.', '...', 'a%2E', '%2Ea'];
/** stray percent signs: never valid in a configured path, possible in a request */
const DIRTY_SEGMENTS = ['%', '%G1', '%4', '%%32%45', '%%32%45%%32%45', '%%', '100%'];
const DOTS = ['.', '..', '%2E', '%2e', '%2E%2E', '%2e%2e', '.%2E', '%2E.', '.%2e', '%2e.'];

const pathFrom = (tokens: fc.Arbitrary<string>, maxLength: number): fc.Arbitrary<string> =>
  fc.tuple(fc.array(fc.tuple(fc.constantFrom('/', '/', '/', '//', '///'), tokens), { maxLength }), fc.boolean())
    .map(([parts, trailing]) => (parts.length === 0 ? '/' : parts.map(([sep, s]) => sep + s).join('') + (trailing ? '/' : '')));

const requestToken = fc.oneof(
  { arbitrary: fc.constantFrom(...CLEAN_SEGMENTS), weight: 6 },
  { arbitrary: fc.constantFrom(...DOTS), weight: 3 },
  { arbitrary: fc.constantFrom(...DIRTY_SEGMENTS), weight: 1 },
  { arbitrary: fc.constant(''), weight: 1 },
  { arbitrary: fc.string({ unit: fc.constantFrom('a', 'A', '.', '%', '2', 'e', 'E', 'f', 'F', '4', '1', '/', '~'), maxLength: 8 }), weight: 2 },
);
const requestPath = fc.oneof(
  pathFrom(requestToken, 8),
  fc.string({ unit: fc.constantFrom('/', '.', '%', '2', 'e', 'E', 'F', 'f', 'a', 'A', '5', 'C'), maxLength: 24 }).map((s) => '/' + s),
);

t.test('normalisation matches the RFC 3986 reference, is idempotent and canonical', async (t) => {
  await fuzz(t, 'normalise vs reference', fc.property(requestPath, (p) => {
    const n = normalisePath(p);
    const r = refNormalise(p);
    if (n !== r) throw new Error(`normalisePath(${JSON.stringify(p)}) = ${JSON.stringify(n)}, reference ${JSON.stringify(r)}`);
    if (normalisePath(n) !== n) throw new Error(`not idempotent: ${JSON.stringify(n)} -> ${JSON.stringify(normalisePath(n))}`);
    if (!n.startsWith('/') || /\/\.\.?(\/|$)|\/\//.test(n)) throw new Error(`dot segment or // left in ${JSON.stringify(n)}`);
    for (const m of n.matchAll(/%(.{0,2})/g)) {
      if (!/^[0-9A-F]{2}$/.test(m[1])) throw new Error(`bad escape %${m[1]} in ${JSON.stringify(n)}`);
      if (/[A-Za-z0-9\-._~]/.test(String.fromCharCode(parseInt(m[1], 16)))) throw new Error(`unreserved escape %${m[1]} kept in ${JSON.stringify(n)}`);
    }
  }), 20000);
  // %2F is data: a path with no dot segments keeps its segment count, whatever the escapes
  const plainPath = pathFrom(fc.constantFrom(...CLEAN_SEGMENTS, 'x%2F..', '%2F%2E%2E', '..%2F'), 8);
  await fuzz(t, '%2F is never a separator', fc.property(plainPath, (p) => {
    const inSegments = p.split('/').filter((s) => s !== '').length;
    const out = normalisePath(p);
    const outSegments = out.split('/').filter((s) => s !== '').length;
    if (inSegments !== outSegments) throw new Error(`${JSON.stringify(p)} -> ${JSON.stringify(out)}: ${inSegments} segments became ${outSegments}`);
    const slashes = (s: string): number => (s.match(/%2F/gi) ?? []).length;
    if (slashes(p) !== slashes(out)) throw new Error(`${JSON.stringify(p)} -> ${JSON.stringify(out)}: %2F count changed`);
  }), 5000);
  t.equal(normalisePath('/%%32%45%%32%45/admin'), '/%252E%252E/admin', 'a stray % is encoded: no %2E for the dyno to decode into ..');
});

// ---------------------------------------------------------------- routing and filter scopes

const APPS = ['a0', 'a1', 'a2', 'a3'];
const SITE = 'www.example.com';
const configToken = fc.oneof({ arbitrary: fc.constantFrom(...CLEAN_SEGMENTS), weight: 4 }, { arbitrary: fc.constantFrom(...DOTS), weight: 1 });
const configPath = pathFrom(configToken, 3);
const scopeList = fc.option(fc.array(configPath, { maxLength: 3 }), { nil: undefined });

interface Setup {
  routes: RefRoute[];
  scopes: Record<string, { filtered: boolean; excludes?: string[]; includes?: string[] }>;
}

const setup: fc.Arbitrary<Setup> = fc.record({
  routes: fc.array(fc.record({ path: configPath, app: fc.constantFrom(...APPS), target: fc.option(configPath, { nil: undefined }) }, { requiredKeys: ['path', 'app'] }), { minLength: 1, maxLength: 6 }),
  scopes: fc.record(Object.fromEntries(APPS.map((a) => [a, fc.record({ filtered: fc.boolean(), excludes: scopeList, includes: scopeList }, { requiredKeys: ['filtered'] })]))),
}).map((s) => ({ ...s, routes: s.routes.map((r) => (r.target === undefined ? { path: r.path, app: r.app } : r)) }));

const factory = new FilterFactory({ logger: pino({ level: 'silent' }) });
t.teardown(() => factory.close());

function compile(s: Setup): RouteTable | null {
  const doc = {
    domain: 'example.io',
    listen: { http: { host: '127.0.0.1', port: 0 } },
    apps: Object.fromEntries(APPS.map((a) => {
      const sc = s.scopes[a];
      const ref = { filter: 'cors', ...(sc.excludes ? { excludes: sc.excludes } : {}), ...(sc.includes ? { includes: sc.includes } : {}) };
      return [a, { dynos: [], ...(sc.filtered ? { filters: [ref] } : {}) }];
    })),
    sites: { [SITE]: { routes: s.routes } },
    filters: { cors: { type: 'cors', allow_origins: ['https://x.example'] } },
  };
  try {
    const loaded = validateRouterConfig(doc, 'fuzz', '.');
    return compileRouteTable(loaded.config, { version: loaded.version, dynos: new DynoRegistry(), buildFilters: (refs, defs) => factory.chain(refs, defs) });
  } catch (err) {
    if (err instanceof ConfigError && err.problems.every((p) => /duplicate route/.test(p))) return null; // two spellings of one route
    throw err;
  }
}

/** does the app's (CORS) filter run for this path? It marks the request when it applies */
function filterRuns(filters: readonly Filter[], path: string): boolean {
  let owns: boolean | undefined;
  runFilters(filters, 'GET', path, '', ['origin', 'https://x.example'], '127.0.0.1', { readBody: () => Buffer.alloc(0) }, (_v, req) => { owns = req.ownsCors; });
  if (owns === undefined) throw new Error('filter chain did not finish synchronously');
  return owns;
}

/** a string that toLowerCase folds differently from ASCII-only folding (İ, the Kelvin sign, ǅ) */

function expectSame(s: Setup, table: RouteTable, entry: HostEntry, p: string, routes: readonly RefRoute[] | null): void {
  const got = matchRoute(entry, normalisePath(p));
  const canonical = refNormalise(p);
  const want = routes === null ? { app: APPS[0], path: canonical } : refMatch(routes, canonical);
  const where = `${routes === null ? 'app host' : 'site'} path ${JSON.stringify(p)}`;
  if (want === null || got === null) {
    if (want !== got) throw new Error(`${where}: matched ${got?.app.name ?? 'nothing'}, reference ${want?.app ?? 'nothing'}`);
    return;
  }
  if (got.app.name !== want.app || got.path !== want.path) throw new Error(`${where}: ${got.app.name} ${JSON.stringify(got.path)}, reference ${want.app} ${JSON.stringify(want.path)}`);
  const sc = s.scopes[want.app];
  const runs = filterRuns(table.apps.get(want.app)!.filters, got.path);
  const should = sc.filtered && refCovers(want.path, sc.excludes, sc.includes);
  if (runs !== should) throw new Error(`${where} -> ${want.app} ${JSON.stringify(want.path)}: filter ${runs ? 'runs' : 'skipped'}, reference says ${should ? 'runs' : 'skipped'} (excludes ${JSON.stringify(sc.excludes)}, includes ${JSON.stringify(sc.includes)})`);
}

t.test('every path reaches the route and filter scope the reference gives its canonical form', async (t) => {
  await fuzz(t, 'routes and scopes vs reference', fc.property(setup, fc.array(requestPath, { minLength: 1, maxLength: 8 }), (s, paths) => {
    const table = compile(s);
    fc.pre(table !== null);
    const site = table!.hosts.get(SITE)!;
    const appHost = table!.hosts.get(`${APPS[0]}.example.io`)!;
    for (const p of paths) {
      expectSame(s, table!, site, p, s.routes);
      expectSame(s, table!, appHost, p, null);
    }
  }), 1500);
});

/** Spells a canonical path another way: unreserved characters escaped (either hex case), no-op dot detours, doubled slashes. */
function respell(canonical: string, choices: readonly number[]): string {
  let k = 0;
  const pick = (n: number): number => choices[k++ % choices.length] % n;
  const segments = canonical.split('/').slice(1);
  const detours = ['./', '%2e/', '%2E/', 'zz/../', 'Q%2F/%2E%2E/', 'x/.%2E/', '../'];
  return segments.map((seg, i) => {
    let out = pick(3) === 0 ? '/' : '//';
    if (pick(3) === 0) out += detours[pick(detours.length)].replace(/^\.\.\//, i === 0 ? '../' : './');
    for (let j = 0; j < seg.length; j++) {
      const c = seg[j];
      if (c === '%') { // an escape: keep it, maybe in lower-case hex
        const hex = seg.slice(j + 1, j + 3);
        out += '%' + (pick(2) === 0 ? hex : hex.toLowerCase());
        j += 2;
      } else if (/[A-Za-z0-9\-._~]/.test(c) && pick(3) === 0) {
        const hex = c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0');
        out += '%' + (pick(2) === 0 ? hex : hex.toLowerCase());
      } else {
        out += c;
      }
    }
    return out;
  }).join('');
}

/** Swaps the case of some ASCII letters (outside escapes). */
function recase(path: string, choices: readonly number[]): string {
  let k = 0;
  let out = '';
  for (let j = 0; j < path.length; j++) {
    if (path[j] === '%') {
      out += path.slice(j, j + 3);
      j += 2;
      continue;
    }
    const c = path[j];
    out += /[A-Za-z]/.test(c) && choices[k++ % choices.length] % 2 === 0 ? (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()) : c;
  }
  return out;
}

t.test('no spelling of a path reaches another route or skips a filter scope', async (t) => {
  const choices = fc.array(fc.nat(), { minLength: 1, maxLength: 64 });
  await fuzz(t, 'respellings', fc.property(setup, requestPath, choices, (s, raw, ch) => {
    const table = compile(s);
    fc.pre(table !== null);
    const canonical = refNormalise(raw);
    const spelled = respell(canonical, ch);
    if (normalisePath(spelled) !== canonical) throw new Error(`${JSON.stringify(spelled)} normalises to ${JSON.stringify(normalisePath(spelled))}, not ${JSON.stringify(canonical)}`);
    for (const entry of [table!.hosts.get(SITE)!, table!.hosts.get(`${APPS[0]}.example.io`)!]) {
      const a = matchRoute(entry, normalisePath(canonical));
      const b = matchRoute(entry, normalisePath(spelled));
      if (a?.app !== b?.app || a?.path !== b?.path) throw new Error(`${JSON.stringify(spelled)} routes to ${b?.app.name} ${b?.path}, canonical ${JSON.stringify(canonical)} to ${a?.app.name} ${a?.path}`);
      if (a && b && filterRuns(a.app.filters, a.path) !== filterRuns(b.app.filters, b.path)) throw new Error(`${JSON.stringify(spelled)} changes the filter scope`);
      // letter case: same app and scope, the path differs only in case
      const cased = recase(spelled, ch);
      const c = matchRoute(entry, normalisePath(cased));
      if (a?.app !== c?.app || refLower(a?.path ?? '') !== refLower(c?.path ?? '')) throw new Error(`${JSON.stringify(cased)} routes to ${c?.app.name} ${c?.path}, canonical to ${a?.app.name} ${a?.path}`);
      if (a && c && filterRuns(a.app.filters, a.path) !== filterRuns(c.app.filters, c.path)) throw new Error(`${JSON.stringify(cased)} changes the filter scope`);
    }
  }), 1500);
});

t.test('longest prefix on segment boundaries, case-insensitive, target joined without doubling the slash', async (t) => {
  const table = compile({
    routes: [{ path: '/', app: 'a0' }, { path: '/v3/api', app: 'a1', target: '/api' }, { path: '/v3/API/admin/', app: 'a2', target: '/' }, { path: '/x', app: 'a3', target: '/y/./z/../' }],
    scopes: { a0: { filtered: false }, a1: { filtered: true, excludes: ['/api/health'] }, a2: { filtered: false }, a3: { filtered: false } },
  })!;
  const site = table.hosts.get(SITE)!;
  const cases: [string, string, string][] = [
    ['/v3/api', 'a1', '/api'], ['/v3/api/', 'a1', '/api/'], ['/V3/Api/users', 'a1', '/api/users'], ['/v3/apix', 'a0', '/v3/apix'],
    ['/v3/api/admin', 'a2', '/'], ['/v3/api/Admin/x', 'a2', '/x'], ['/v3/api/adminx', 'a1', '/api/adminx'],
    ['/v3/%61pi/%2e%2E/api/users', 'a1', '/api/users'], ['/x/q', 'a3', '/y/q'], ['/x', 'a3', '/y/'],
  ];
  for (const [p, app, path] of cases) {
    const m = matchRoute(site, normalisePath(p));
    t.same(m && { app: m.app.name, path: m.path }, { app, path }, `${p} -> ${app} ${path}`);
  }
  const scoped = (p: string): boolean => filterRuns(table.apps.get('a1')!.filters, matchRoute(site, normalisePath(p))!.path);
  t.notOk(scoped('/v3/api/health'), 'excluded /api/health');
  t.notOk(scoped('/v3/api/./HEALTH/x'), 'excluded whatever the case and dots');
  t.ok(scoped('/v3/api/healthz'), '/api/healthz is not under /api/health');
});

t.test('filter scopes fold case on ASCII letters only, like routing', async (t) => {
  const table = compile({
    routes: [{ path: '/', app: 'a0' }],
    scopes: { a0: { filtered: true, excludes: ['/\u212A'] }, a1: { filtered: true, includes: ['/\u212A'] }, a2: { filtered: false }, a3: { filtered: false } },
  })!;
  t.ok(filterRuns(table.apps.get('a0')!.filters, '/k'), 'excludes ["/\\u212A"] (Kelvin sign) does not exclude /k');
  t.notOk(filterRuns(table.apps.get('a1')!.filters, '/k'), 'includes ["/\\u212A"] does not include /k');
});
