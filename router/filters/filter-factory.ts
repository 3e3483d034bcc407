import type { Logger } from 'pino';
import { resolve } from 'node:path';
import type { AppFilterRef, CorsFilterDef, FilterDef, JwtFilterDef, OpenApiFilterDef } from '../config/filter-schema.js';
import { ConfigError } from '../../shared/errors.js';
import { FilterCounters } from './filter-counters.js';
import { FirewallFilter, firewallProblems } from './firewall-filter.js';
import { KeyAuthFilter, keyAuthProblems } from './keyauth-filter.js';
import { RateLimitFilter, rateLimitProblems } from './ratelimit-filter.js';
import { createRateLimitMemory, RateLimitTable, type RateLimitMemory } from './rate-limit-table.js';
import { OpenApiFilter } from './openapi-filter.js';
import { compiledSpecFor, OpenApiSpecError } from './openapi/spec-cache.js';
import { CorsFilter, originProblem } from './cors-filter.js';
import type { Filter } from './filter.js';
import { DEFAULT_JWKS_OPTIONS, JwksCache, type JwksOptions } from './jwks-cache.js';
import { JwtFilter } from './jwt-filter.js';
import { DEFAULT_TOKEN_CACHE, JwtVerifier, type TokenCacheOptions } from './jwt-verifier.js';
import { ScopedFilter } from './scoped-filter.js';
import { PathScope, prefixProblem } from './path-scope.js';

export interface FilterFactoryOptions {
  logger: Logger;
  /** JWKS fetching (tests shorten these); defaults DEFAULT_JWKS_OPTIONS */
  jwks?: Partial<JwksOptions>;
  /** verified-token cache per JWT definition; defaults DEFAULT_TOKEN_CACHE */
  tokenCache?: Partial<TokenCacheOptions>;
  /** the process's shared rate-limit buckets (the worker's start data); a table of its own when absent */
  rateLimits?: RateLimitMemory;
}

/**
 * Chain order by type: the firewall first (a denied peer gets nothing else), then CORS (it
 * answers preflights before any credential check), then every other filter in the app's order
 * (a ratelimit `by: key` after the keyauth filter that finds the key).
 */
const TYPE_RANK: Readonly<Record<string, number>> = { firewall: 0, cors: 1 };
const OTHER_RANK = 2;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** headers a claim may not be written to: the router or the HTTP layer owns them */
const RESERVED_HEADERS = new Set(['authorization', 'host', 'connection', 'content-length', 'content-type', 'transfer-encoding',
  'te', 'trailer', 'upgrade', 'keep-alive', 'proxy-authorization', 'proxy-connection', 'cookie', 'via', 'forwarded',
  'x-request-id', 'x-request-start']);

/**
 * Builds the filter chains of the compiled route tables. One per router worker, alive across
 * config reloads: the JWKS caches (by jwks_uri) and verified-token caches (by JWT definition)
 * it holds survive a reload while the new table still uses them.
 */
export class FilterFactory {
  private readonly log: Logger;
  private readonly jwksOpts: JwksOptions;
  private readonly tokenOpts: TokenCacheOptions;
  private readonly jwks = new Map<string, JwksCache>();
  private readonly verifiers = new Map<string, JwtVerifier>();
  /** passed/refused counts of the edge filters, across reloads (for /metrics) */
  readonly counters = new FilterCounters();
  private readonly rateLimits: RateLimitTable;
  /** the directory relative paths of the config being compiled resolve against (openapi `spec`) */
  baseDir = process.cwd();

  constructor(opts: FilterFactoryOptions) {
    this.log = opts.logger;
    this.jwksOpts = { ...DEFAULT_JWKS_OPTIONS, ...opts.jwks };
    this.tokenOpts = { ...DEFAULT_TOKEN_CACHE, ...opts.tokenCache };
    this.rateLimits = new RateLimitTable(opts.rateLimits ?? createRateLimitMemory());
  }

  /** semantic problems of the filter definitions beyond the schema, as `filters.<name>.<field>: reason` */
  problems(defs: Readonly<Record<string, FilterDef>>): string[] {
    return filterProblems(defs, this.baseDir);
  }

  /** problems of one app's filter references (`apps.<app>.filters[i].<field>: reason`) */
  refProblems(app: string, refs: readonly AppFilterRef[], defs: Readonly<Record<string, FilterDef>>): string[] {
    return filterRefProblems(app, refs, defs);
  }

  /** the ordered chain for one app: CORS first, then JWT, each narrowed by its excludes/includes */
  chain(refs: readonly AppFilterRef[], defs: Readonly<Record<string, FilterDef>>): readonly Filter[] {
    const made: { rank: number; index: number; filter: Filter }[] = [];
    refs.forEach((ref, index) => {
      const def = Object.hasOwn(defs, ref.filter) ? defs[ref.filter] : undefined;
      if (def === undefined) throw new ConfigError([`filter "${ref.filter}" is not defined in filters`]);
      const filter = this.build(ref.filter, def);
      const scope = new PathScope(ref.excludes, ref.includes);
      made.push({ rank: TYPE_RANK[def.type] ?? OTHER_RANK, index, filter: scope.everywhere ? filter : new ScopedFilter(filter, scope) });
    });
    made.sort((a, b) => a.rank - b.rank || a.index - b.index);
    return Object.freeze(made.map((m) => m.filter));
  }

  /** stop background refresh timers */
  close(): void {
    for (const cache of this.jwks.values()) cache.close();
    this.jwks.clear();
    this.verifiers.clear();
  }

  private build(name: string, def: FilterDef): Filter {
    switch (def.type) {
      case 'cors': return new CorsFilter(name, def);
      case 'keyauth': return new KeyAuthFilter(name, def, this.counters.for(name, def.type));
      case 'ratelimit': return new RateLimitFilter(name, def, this.rateLimits, this.counters.for(name, def.type));
      case 'firewall': return new FirewallFilter(name, def, this.counters.for(name, def.type));
      case 'openapi': return new OpenApiFilter(name, def, compiledSpecFor(resolve(this.baseDir, def.spec)), this.counters.for(name, def.type));
      case 'jwt': return this.buildJwt(name, def);
    }
  }

  private buildJwt(name: string, def: JwtFilterDef): Filter {
    const key = verifierKey(def);
    let verifier = this.verifiers.get(key);
    if (verifier === undefined) {
      let keys = this.jwks.get(def.jwks_uri);
      if (keys === undefined) {
        keys = new JwksCache(def.jwks_uri, this.jwksOpts, this.log);
        this.jwks.set(def.jwks_uri, keys);
      }
      verifier = new JwtVerifier(def, keys, this.tokenOpts, this.log);
      this.verifiers.set(key, verifier);
    }
    const v = verifier;
    return new JwtFilter(name, v, () => {
      if (this.verifiers.get(key) === v) this.verifiers.delete(key);
    });
  }
}

/**
 * Semantic problems of the filter definitions beyond the schema (no factory needed: config
 * loading). An openapi spec is read (relative to `baseDir`, the config file's directory) and
 * compiled here, so a bad spec is a config error naming its file and JSON pointer.
 */
export function filterProblems(defs: Readonly<Record<string, FilterDef>>, baseDir: string = process.cwd()): string[] {
  const out: string[] = [];
  for (const [name, def] of Object.entries(defs)) {
    const at = (field: string, reason: string): void => { out.push(`filters.${name}.${field}: ${reason}`); };
    switch (def.type) {
      case 'jwt': jwtProblems(def, at); break;
      case 'cors': corsProblems(def, at); break;
      case 'keyauth': keyAuthProblems(def, at, isReservedHeader); break;
      case 'ratelimit': rateLimitProblems(def, at); break;
      case 'firewall': firewallProblems(def, at); break;
      case 'openapi': openApiProblems(def, baseDir, at); break;
    }
  }
  return out;
}

function openApiProblems(def: OpenApiFilterDef, baseDir: string, at: (field: string, reason: string) => void): void {
  try {
    compiledSpecFor(resolve(baseDir, def.spec));
  } catch (err) {
    if (!(err instanceof OpenApiSpecError)) throw err;
    for (const p of err.problems.slice(0, 20)) at('spec', p);
  }
}

/** headers only the router or the HTTP layer may set (claims_headers, keyauth upstream_header) */
function isReservedHeader(h: string): boolean {
  return RESERVED_HEADERS.has(h) || h.startsWith('x-forwarded-') || h.startsWith('access-control-') || h.startsWith('ratelimit');
}

/**
 * problems of one app's filter references: unknown names, a second CORS filter, unusable
 * prefixes, a ratelimit `by: key` with no keyauth filter before it
 */
export function filterRefProblems(app: string, refs: readonly AppFilterRef[], defs: Readonly<Record<string, FilterDef>>): string[] {
  const out: string[] = [];
  let cors = 0;
  let keyauth = false;
  refs.forEach((ref, i) => {
    const at = `apps.${app}.filters[${i}]`;
    const def = Object.hasOwn(defs, ref.filter) ? defs[ref.filter] : undefined;
    if (def === undefined) out.push(`${at}.filter: no filter named "${ref.filter}" in filters`);
    else if (def.type === 'cors' && ++cors === 2) out.push(`${at}.filter: an app may have one cors filter`);
    else if (def.type === 'keyauth') keyauth = true;
    else if (def.type === 'ratelimit' && !keyauth && (def.by ?? []).some((b) => b === 'key')) {
      out.push(`${at}.filter: "${ref.filter}" limits by key: list a keyauth filter before it`);
    }
    for (const key of ['excludes', 'includes'] as const) {
      (ref[key] ?? []).forEach((prefix, j) => {
        const why = prefixProblem(prefix);
        if (why !== undefined) out.push(`${at}.${key}[${j}]: ${why}`);
      });
    }
  });
  return out;
}

function verifierKey(def: JwtFilterDef): string {
  return JSON.stringify([def.jwks_uri, def.issuer, [...(def.audiences ?? [])].sort(), def.algorithms ?? null,
    Object.entries(def.claims_headers ?? {}).sort()]);
}

function jwtProblems(def: JwtFilterDef, at: (field: string, reason: string) => void): void {
  let url: URL | undefined;
  try {
    url = new URL(def.jwks_uri);
  } catch {
    at('jwks_uri', `"${def.jwks_uri}" is not a URL`);
  }
  if (url !== undefined && url.protocol !== 'https:' && url.protocol !== 'http:') at('jwks_uri', 'must be an https (or http) URL');
  if (url !== undefined && url.hash !== '') at('jwks_uri', 'must not have a fragment');
  const seen = new Set<string>();
  for (const [claim, header] of Object.entries(def.claims_headers ?? {})) {
    const h = header.toLowerCase();
    if (!TOKEN.test(header)) at(`claims_headers.${claim}`, `"${header}" is not a valid header name`);
    else if (isReservedHeader(h)) at(`claims_headers.${claim}`, `"${header}" is reserved`);
    else if (seen.has(h)) at(`claims_headers.${claim}`, `"${header}" is used for two claims`);
    seen.add(h);
  }
}

function corsProblems(def: CorsFilterDef, at: (field: string, reason: string) => void): void {
  def.allow_origins.forEach((o, i) => {
    const why = originProblem(o);
    if (why !== undefined) at(`allow_origins[${i}]`, why);
  });
  const credentials = def.allow_credentials === true;
  if (credentials && def.allow_origins.includes('*')) at('allow_origins', '"*" cannot be combined with allow_credentials: true (list the origins)');
  (def.allow_methods ?? []).forEach((m, i) => {
    if (!TOKEN.test(m) || m === '*') at(`allow_methods[${i}]`, `"${m}" is not an HTTP method`);
  });
  for (const key of ['allow_headers', 'expose_headers'] as const) {
    (def[key] ?? []).forEach((h, i) => {
      if (h === '*') {
        if (credentials) at(`${key}[${i}]`, '"*" is not honoured by browsers with allow_credentials: true (list the headers)');
      } else if (!TOKEN.test(h)) at(`${key}[${i}]`, `"${h}" is not a valid header name`);
    });
  }
}
