import t from 'tap';
import fc from 'fast-check';
import { fileURLToPath } from 'node:url';
import { parseRouterConfigText } from '../../router/config/load.js';
import { compileRouteTable } from '../../router/routing/compile.js';
import { DynoRegistry } from '../../router/upstream/dyno-registry.js';
import { ConfigError } from '../../shared/errors.js';
import { refPrefix } from './path-reference.js';
import { fuzz } from './fuzz-params.js';

const TLS_DIR = fileURLToPath(new URL('../fixtures/tls/', import.meta.url));
type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Path = (string | number)[];

/** `apps.api-prod.dynos[0]`, as ConfigError names fields */
function fieldName(path: Path): string {
  if (path.length === 0) return '(document)';
  // as shared/config-file.ts prints them: indexes in brackets, plain keys after dots, other keys quoted
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]`
    : /^[A-Za-z0-9_$.*:@-]+$/.test(p) ? (i === 0 ? p : `.${p}`)
      : i === 0 ? JSON.stringify(p) : `[${JSON.stringify(p)}]`)).join('');
}

/** The loader either accepts or throws ConfigError whose every problem is `field: reason`; nothing else. */
function outcome(load: () => unknown): ConfigError | null {
  try {
    load();
    return null;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw new Error(`threw ${(err as Error)?.constructor?.name}: ${(err as Error)?.stack ?? err}`);
    if (err.code !== 'E_CONFIG' || err.problems.length === 0) throw new Error(`ConfigError without problems: ${err.message}`);
    for (const p of err.problems) {
      // (a key "" prints as an empty field name: reported against shared/config-file.ts)
      if (!/^.*?: \S/s.test(p)) throw new Error(`problem does not name a field and a reason: ${JSON.stringify(p)}`);
      if (!err.message.includes(p)) throw new Error('message does not list every problem');
    }
    return err;
  }
}

// ---------------------------------------------------------------- valid router documents

const appName = fc.oneof(fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,12}$/), fc.constantFrom('api-prod', 'constructor', 'toString', 'A1'));
const filterName = fc.oneof(fc.stringMatching(/^[a-z][a-z0-9_-]{0,8}$/), fc.constantFrom('constructor', 'auth'));
const dyno = fc.oneof(
  fc.tuple(fc.constantFrom('127.0.0.1', 'dyno-1.internal', '[::1]', '10.0.0.7'), fc.integer({ min: 1, max: 65535 })).map(([h, p]) => `${h}:${p}`),
);
const cleanPath = fc.array(fc.constantFrom('api', 'v3', 'Health', '%41b', 'x%2Fy', '.', '..', 'users', '~u'), { maxLength: 3 }).map((s) => '/' + s.join('/'));
const corsDef = fc.record({
  type: fc.constant('cors'),
  allow_origins: fc.uniqueArray(fc.constantFrom('https://www.example.com', 'http://localhost:3000', 'https://A.example.io:8443'), { minLength: 1, maxLength: 3 }),
  allow_methods: fc.uniqueArray(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH')),
  allow_headers: fc.uniqueArray(fc.constantFrom('authorization', 'content-type', 'x-api-key')),
  expose_headers: fc.uniqueArray(fc.constantFrom('x-request-id', 'etag')),
  max_age: fc.integer({ min: 0, max: 2147483647 }),
  allow_credentials: fc.boolean(),
}, { requiredKeys: ['type', 'allow_origins'] });
const jwtDef = fc.record({
  type: fc.constant('jwt'),
  jwks_uri: fc.constantFrom('https://idp.example.com/.well-known/jwks.json', 'http://127.0.0.1:9999/jwks'),
  issuer: fc.constantFrom('https://idp.example.com/', 'me'),
  audiences: fc.uniqueArray(fc.constantFrom('api', 'ui')),
  algorithms: fc.uniqueArray(fc.constantFrom('RS256', 'ES256', 'EdDSA'), { minLength: 1 }),
  claims_headers: fc.constantFrom({}, { sub: 'x-user' }, { sub: 'x-user', email: 'x-email' }),
}, { requiredKeys: ['type', 'jwks_uri', 'issuer'] });

interface AppPlan {
  name: string;
  dynos: string[];
  filterPicks: number[];
  scope: { excludes?: string[]; includes?: string[] };
  canary: { pick: number; weight: number; abort?: Record<string, Json> } | null;
  internal?: boolean;
  maintenance?: boolean;
}

const appPlan = (name: string): fc.Arbitrary<AppPlan> => fc.record({
  name: fc.constant(name),
  dynos: fc.array(dyno, { maxLength: 3 }),
  filterPicks: fc.array(fc.nat(), { maxLength: 3 }),
  scope: fc.record({ excludes: fc.array(cleanPath, { maxLength: 2 }), includes: fc.array(cleanPath, { maxLength: 2 }) }, { requiredKeys: [] }),
  canary: fc.option(fc.record({
    pick: fc.nat(),
    weight: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.double({ min: 0, max: 100, noNaN: true })),
    abort: fc.record({
      minRequests: fc.integer({ min: 1, max: 10000 }),
      confidence: fc.double({ min: 0.5, max: 1, noNaN: true, minExcluded: true, maxExcluded: true }),
      statuses: fc.constantFrom('5xx', '4xx+5xx'),
    }, { requiredKeys: [] }),
  }, { requiredKeys: ['pick', 'weight'] })),
  internal: fc.boolean(),
  maintenance: fc.boolean(),
}, { requiredKeys: ['name', 'dynos', 'filterPicks', 'scope', 'canary'] });

const routerDoc: fc.Arbitrary<Record<string, Json>> = fc.record({
  apps: fc.uniqueArray(appName, { minLength: 1, maxLength: 5 }).chain((names) => fc.tuple(...names.map(appPlan))),
  filters: fc.uniqueArray(fc.tuple(filterName, fc.oneof(corsDef, jwtDef)), { maxLength: 3, selector: ([n]) => n }),
  sites: fc.uniqueArray(fc.tuple(fc.constantFrom('www.example.com', 'API.example.com', 'x', 'localhost'), fc.array(fc.tuple(cleanPath, fc.nat(), fc.option(cleanPath, { nil: undefined })), { minLength: 1, maxLength: 4 }), fc.boolean()), { maxLength: 2, selector: ([h]) => h }),
  extras: fc.record({
    $schema: fc.constant('./router.schema.json'),
    workers: fc.integer({ min: 1, max: 256 }),
    logshuttle: fc.constantFrom('tcp://127.0.0.1:5140', 'unix:/run/shuttle.sock'),
    timeouts: fc.record({ connectMs: fc.integer({ min: 1, max: 60000 }), firstByteMs: fc.integer({ min: 1 }), idleMs: fc.integer({ min: 1 }) }, { requiredKeys: [] }),
    limits: fc.record({ maxBodyBytes: fc.integer({ min: 0 }) }, { requiredKeys: [] }),
    shutdownMs: fc.integer({ min: 0, max: 600000 }),
  }, { requiredKeys: [] }),
  listen: fc.record({
    internal: fc.constant({ host: '127.0.0.2', port: 8081 }),
    admin: fc.record({ host: fc.constantFrom('127.0.0.1', '0.0.0.0', '::'), port: fc.integer({ min: 0, max: 65535 }) }),
  }, { requiredKeys: [] }),
  tls: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
}).map(({ apps, filters, sites, extras, listen, tls }) => {
  const names = apps.map((a) => a.name);
  const hasCanary = new Set<string>();
  const isTarget = new Set<string>();
  const doc: Record<string, Json> = {
    domain: 'example.io',
    listen: { http: { host: '0.0.0.0', port: 8080 }, ...listen, ...(tls ? { https: { host: '0.0.0.0', port: 8443 } } : {}) },
    ...extras,
    apps: Object.fromEntries(apps.map((a) => {
      const app: Record<string, Json> = { dynos: a.dynos };
      const refs: Json[] = [];
      let cors = 0;
      for (const pick of a.filterPicks) {
        if (filters.length === 0) break;
        const [fname, def] = filters[pick % filters.length];
        if (def.type === 'cors' && ++cors > 1) continue;
        refs.push({ filter: fname, ...a.scope });
      }
      if (refs.length > 0) app.filters = refs;
      if (a.canary) {
        const target = names[a.canary.pick % names.length];
        // a canary names another app, which has no canary of its own
        if (target !== a.name && !hasCanary.has(target) && !isTarget.has(a.name)) {
          hasCanary.add(a.name);
          isTarget.add(target);
          app.canary = { app: target, weight: a.canary.weight, ...(a.canary.abort ? { abort: a.canary.abort } : {}) };
        }
      }
      if (a.internal !== undefined) app.internal = a.internal;
      if (a.maintenance !== undefined) app.maintenance = a.maintenance;
      return [a.name, app];
    })),
  };
  if (filters.length > 0) doc.filters = Object.fromEntries(filters) as Record<string, Json>;
  if (sites.length > 0) {
    doc.sites = Object.fromEntries(sites.map(([host, routes, internal]) => {
      const seen = new Set<string>();
      const unique = routes.filter(([p]) => !seen.has(refPrefix(p)) && seen.add(refPrefix(p)));
      return [host, { routes: unique.map(([path, pick, target]) => ({ path, app: names[pick % names.length], ...(target ? { target } : {}) })), ...(internal ? { internal } : {}) }];
    }));
  }
  if (tls) doc.certificates = [{ hosts: ['*.example.io'], cert: 'wildcard-example-io.pem', key: 'wildcard-example-io.key' }];
  return doc;
});

const loadRouter = (doc: Json): unknown => parseRouterConfigText(JSON.stringify(doc), TLS_DIR);

t.test('valid router documents always load (and compile)', async (t) => {
  await fuzz(t, 'valid router documents', fc.property(routerDoc, (doc) => {
    const err = outcome(() => {
      const loaded = parseRouterConfigText(JSON.stringify(doc), TLS_DIR);
      const dynos = new DynoRegistry();
      compileRouteTable(loaded.config, { version: loaded.version, dynos });
      void dynos.closeAll();
    });
    if (err) throw new Error(`valid document refused: ${err.message}\n${JSON.stringify(doc)}`);
  }), 400);
});

// ---------------------------------------------------------------- mutations

/** every node of a JSON value with its path */
function nodes(v: Json, path: Path = []): { path: Path; value: Json }[] {
  const out = [{ path, value: v }];
  if (Array.isArray(v)) v.forEach((c, i) => out.push(...nodes(c, [...path, i])));
  else if (v !== null && typeof v === 'object') for (const [k, c] of Object.entries(v)) out.push(...nodes(c, [...path, k]));
  return out;
}

function setAt(doc: Json, path: Path, value: Json | undefined): Json {
  if (path.length === 0) return value ?? null;
  const copy: Json = structuredClone(doc);
  let node = copy as Record<string | number, Json>;
  for (const p of path.slice(0, -1)) node = node[p] as Record<string | number, Json>;
  const last = path[path.length - 1];
  if (value === undefined) {
    if (Array.isArray(node)) node.splice(last as number, 1);
    else delete node[last];
  } else {
    // an own property even for "__proto__", as JSON.parse makes it
    Object.defineProperty(node, last, { value, enumerable: true, writable: true, configurable: true });
  }
  return copy;
}

type Mutation = [pick: number, how: 'replace' | 'delete' | 'add-key', value: Json, key: string];
const mutation: fc.Arbitrary<Mutation> = fc.tuple(fc.nat(), fc.constantFrom('replace', 'delete', 'add-key'), fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>,
  fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('__proto__', 'constructor', 'toString', 'sticky', 'http', 'dynos', 'app', '')));

function mutate(doc: Json, muts: readonly Mutation[]): Json {
  let d = doc;
  for (const [pick, how, value, key] of muts) {
    const all = nodes(d);
    const { path, value: node } = all[pick % all.length];
    if (how === 'replace') d = setAt(d, path, value);
    else if (how === 'delete') d = setAt(d, path, undefined);
    else if (node !== null && typeof node === 'object' && !Array.isArray(node)) d = setAt(d, [...path, key], value);
  }
  return d;
}

t.test('any JSON value, and any mutation of a valid router document, loads or throws ConfigError naming fields', async (t) => {
  await fuzz(t, 'arbitrary JSON', fc.property(fc.jsonValue() as fc.Arbitrary<Json>, (v) => { outcome(() => loadRouter(v)); }), 3000);
  await fuzz(t, 'mutated documents', fc.property(routerDoc, fc.array(mutation, { minLength: 1, maxLength: 4 }), (doc, muts) => {
    outcome(() => loadRouter(mutate(doc, muts)));
  }), 800);
  // text that is not JSON at all
  await fuzz(t, 'arbitrary text', fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => { outcome(() => parseRouterConfigText(s, TLS_DIR)); }), 2000);
});

/** objects whose keys are fixed by the schema (records of names like apps, sites, filters are not) */
function fixedShape(path: Path): boolean {
  const s = path.map((p) => (typeof p === 'number' ? '#' : p));
  const key = s.join('.');
  if (key === '' || key === 'listen' || key === 'timeouts' || key === 'limits') return true;
  if (s.length === 2 && s[0] === 'listen') return true;
  if (s.length === 2 && (s[0] === 'apps' || s[0] === 'sites' || s[0] === 'filters' || s[0] === 'certificates')) return true;
  if (s.length === 3 && s[0] === 'apps' && s[2] === 'canary') return true;
  if (s.length === 4 && s[0] === 'apps' && s[2] === 'canary' && s[3] === 'abort') return true;
  if (s.length === 4 && s[0] === 'apps' && s[2] === 'filters') return true;
  if (s.length === 4 && s[0] === 'sites' && s[2] === 'routes') return true;
  return false;
}

t.test('an unknown key anywhere in a router document is an error naming it', async (t) => {
  const unknownKey = fc.oneof(fc.stringMatching(/^[a-z_]{1,10}$/), fc.constantFrom('sticky', 'Dynos', 'constructor', 'toString'));
  await fuzz(t, 'unknown keys', fc.property(routerDoc, fc.nat(), unknownKey, fc.jsonValue({ maxDepth: 1 }) as fc.Arbitrary<Json>, (doc, pick, key, value) => {
    const candidates = nodes(doc).filter((n) => fixedShape(n.path) && n.value !== null && typeof n.value === 'object' && !Array.isArray(n.value));
    const { path, value: node } = candidates[pick % candidates.length];
    fc.pre(!Object.hasOwn(node as object, key) && !['$schema', 'workers', 'logshuttle', 'timeouts', 'limits', 'shutdownMs', 'certificates', 'sites', 'filters',
      'https', 'internal', 'admin', 'filters', 'canary', 'maintenance', 'abort', 'minRequests', 'confidence', 'statuses', 'excludes', 'includes', 'target',
      'connectMs', 'firstByteMs', 'idleMs', 'maxBodyBytes', 'audiences', 'algorithms', 'claims_headers', 'allow_methods', 'allow_headers', 'expose_headers',
      'max_age', 'allow_credentials'].includes(key));
    const err = outcome(() => loadRouter(setAt(doc, [...path, key], value)));
    const want = `${fieldName([...path, key])}: unknown key`;
    if (!err || !err.problems.includes(want)) throw new Error(`adding ${fieldName([...path, key])}: ${err ? err.problems.join('; ') : 'accepted'}`);
  }), 500);
  t.match(outcome(() => loadRouter({ domain: 'x', listen: { http: { host: 'h', port: 1 } }, apps: { a: { dynos: [] }, b: { dynos: [], canary: { app: 'a', weight: 5, sticky: true } } } }))?.problems,
    ['apps.b.canary.sticky: unknown key'], 'there is no sticky canary mode');
});

t.test('references name own keys only: "toString" or "constructor" is no app', async (t) => {
  const base = { domain: 'x', listen: { http: { host: 'h', port: 1 } }, apps: { a: { dynos: [] } } };
  for (const name of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) {
    const route = outcome(() => loadRouter({ ...base, sites: { s: { routes: [{ path: '/', app: name }] } } }));
    t.ok(route?.problems.includes(`sites.s.routes[0].app: no app named "${name}"`), `route to ${name}`);
    const canary = outcome(() => loadRouter({ ...base, apps: { a: { dynos: [], canary: { app: name, weight: 5 } } } }));
    t.ok(canary?.problems.some((p) => p.startsWith('apps.a.canary.app: ')), `canary ${name}`);
  }
});


t.test('route paths and targets are plain paths (no query, spaces or broken escapes reach the dyno)', async (t) => {
  const err = outcome(() => loadRouter({ domain: 'x', listen: { http: { host: 'h', port: 1 } }, apps: { a: { dynos: [] } },
    sites: { s: { routes: [{ path: '/a?b', app: 'a', target: '/x\r\nX: y' }, { path: '/%zz', app: 'a' }] } } }));
  t.same(err?.problems, [
    'sites.s.routes[0].path: must be a path without query or fragment',
    'sites.s.routes[0].target: must not contain spaces or control characters',
    'sites.s.routes[1].path: has a malformed percent-escape',
  ]);
});
