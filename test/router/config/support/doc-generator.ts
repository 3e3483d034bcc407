import fc from 'fast-check';

/**
 * Router documents and merge patches for the property tests of partial apply: small, with the
 * awkward cases a partial apply must get right: app names that differ only in case (the same
 * host), a site named like an app's host, two site keys naming one host, canaries, shared
 * filter definitions, routes to apps that a patch removes.
 */

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type Doc = Record<string, Json>;

const APP_NAMES = ['web', 'Web', 'api', 'api-canary', 'ui', 'worker', '1'];
const SITE_HOSTS = ['www.example.com', 'WWW.example.com.', 'web.example.io', 'shop.example.com', 'api.example.io', 'x'];
const FILTER_NAMES = ['cors-a', 'cors-b', 'cors-c'];
const DYNOS = ['127.0.0.1:5001', '127.0.0.1:5002', '127.0.0.1:5003', '[::1]:5004'];
const PATHS = ['/', '/api', '/API/v2', '/static', '/a/./b', '/x%2Fy'];

const corsDef = fc.record({
  type: fc.constant('cors'),
  allow_origins: fc.uniqueArray(fc.constantFrom('https://www.example.com', 'http://localhost:3000'), { minLength: 1, maxLength: 2 }),
  max_age: fc.integer({ min: 0, max: 1000 }),
}) as fc.Arbitrary<Json>;

/** An app entry; `names` are the apps it may name as its canary. */
function app(names: string[], canaryOdds = 0.2): fc.Arbitrary<Json> {
  return fc.record({
    dynos: fc.uniqueArray(fc.constantFrom(...DYNOS), { maxLength: 2 }),
    filters: fc.uniqueArray(fc.constantFrom(...FILTER_NAMES), { maxLength: 1 }).map((fs) => fs.map((f) => ({ filter: f }))),
    canary: fc.oneof(
      { weight: Math.round(100 * (1 - canaryOdds)), arbitrary: fc.constant(undefined) },
      { weight: Math.round(100 * canaryOdds), arbitrary: fc.record({ app: fc.constantFrom(...names), weight: fc.integer({ min: 0, max: 100 }) }) },
    ),
      internal: fc.option(fc.boolean(), { nil: undefined }),
    maintenance: fc.option(fc.boolean(), { nil: undefined }),
  }, { requiredKeys: ['dynos'] }).map((a) => JSON.parse(JSON.stringify(a)) as Json);
}

function site(names: string[]): fc.Arbitrary<Json> {
  return fc.record({
    routes: fc.uniqueArray(fc.record({ path: fc.constantFrom(...PATHS), app: fc.constantFrom(...names), target: fc.option(fc.constantFrom('/', '/v1', '/b/../c'), { nil: undefined }) }),
      { minLength: 1, maxLength: 3, selector: (r) => r.path.toLowerCase().replace(/\/+$/, '') }),
    internal: fc.option(fc.boolean(), { nil: undefined }),
  }).map((s) => JSON.parse(JSON.stringify(s)) as Json);
}

/**
 * A base document (not always valid: canaries may pair badly; callers keep the valid ones).
 * Apps and sites come in a random order, so record order varies too.
 */
export const baseDoc: fc.Arbitrary<Doc> = fc.uniqueArray(fc.constantFrom(...APP_NAMES), { minLength: 2, maxLength: APP_NAMES.length }).chain((names) =>
  fc.record({
    apps: fc.tuple(...names.map(() => app(names))),
    sites: fc.uniqueArray(fc.constantFrom(...SITE_HOSTS), { maxLength: 4 }).chain((hosts) => fc.tuple(fc.constant(hosts), fc.tuple(...hosts.map(() => site(names))))),
    filters: fc.uniqueArray(fc.constantFrom(...FILTER_NAMES), { minLength: 3, maxLength: 3 }).chain((fs) => fc.tuple(fc.constant(fs), fc.tuple(...fs.map(() => corsDef)))),
  }).map(({ apps, sites, filters }) => ({
    domain: 'example.io',
    listen: { http: { host: '127.0.0.1', port: 8080 } },
    apps: Object.fromEntries(names.map((n, i) => [n, apps[i]])),
    sites: Object.fromEntries(sites[0].map((h, i) => [h, sites[1][i]])),
    filters: Object.fromEntries(filters[0].map((f, i) => [f, filters[1][i]])),
  }) as Doc));

/** A merge patch: a few entries of apps, sites and filters set, changed or removed; sometimes another key. */
export const patch: fc.Arbitrary<Doc> = fc.record({
  apps: fc.dictionary(fc.constantFrom(...APP_NAMES, 'new-app'), fc.oneof(
    { weight: 2, arbitrary: app([...APP_NAMES, 'new-app'], 0.4) },
    { weight: 1, arbitrary: fc.constant(null) },
    { weight: 2, arbitrary: fc.record({ maintenance: fc.boolean() }) as fc.Arbitrary<Json> },
    { weight: 1, arbitrary: fc.record({ canary: fc.constant(null) }) as fc.Arbitrary<Json> },
    { weight: 1, arbitrary: fc.record({ dynos: fc.uniqueArray(fc.constantFrom(...DYNOS), { maxLength: 3 }) }) as fc.Arbitrary<Json> },
  ), { maxKeys: 3 }),
  sites: fc.dictionary(fc.constantFrom(...SITE_HOSTS, 'new.example.com'), fc.oneof(
    { weight: 2, arbitrary: site([...APP_NAMES, 'new-app']) },
    { weight: 1, arbitrary: fc.constant(null) },
  ), { maxKeys: 2 }),
  filters: fc.dictionary(fc.constantFrom(...FILTER_NAMES), fc.oneof(corsDef, fc.constant(null)), { maxKeys: 1 }),
  other: fc.oneof({ weight: 9, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: fc.record({ timeouts: fc.record({ connectMs: fc.integer({ min: 1, max: 9000 }) }) }) }),
}, { requiredKeys: ['other'] }).map(({ other, ...p }) => ({ ...p, ...other }) as Doc);

/** Deep copy (generated values may share objects; the code under test freezes what it keeps). */
export function copy<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}
