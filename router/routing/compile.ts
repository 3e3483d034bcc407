import type { RouterConfig } from '../config/schema.js';
import { DEFAULTS } from '../config/schema.js';
import type { AppFilterRef, FilterDef } from '../config/filter-schema.js';
import type { Filter } from '../filters/filter.js';
import { RoundRobin } from '../upstream/round-robin.js';
import type { Dyno } from '../upstream/dyno.js';
import type { DynoRegistry } from '../upstream/dyno-registry.js';
import { normalisePath } from './normalise-path.js';
import type { AppRoute, HostEntry, RouteTable, SiteRoute } from './route-table.js';
import { lowerAscii, normaliseHost } from './route-table.js';
import { resolvePathOptions } from './path-options.js';
import { configuredSingletonHeaders } from './singleton-headers.js';

export interface CompileOptions {
  version: string;
  dynos: DynoRegistry;
  /** builds an app's ordered filter chain (the FilterFactory); none when absent */
  buildFilters?: (refs: readonly AppFilterRef[], defs: Readonly<Record<string, FilterDef>>) => readonly Filter[];
  /** canary board slot per production app name */
  canarySlots?: Readonly<Record<string, number>>;
}

const NO_FILTERS: readonly Filter[] = Object.freeze([]);

/** Compiles a validated config into the immutable table the request path reads. */
export function compileRouteTable(config: RouterConfig, opts: CompileOptions): RouteTable {
  const connectMs = config.timeouts?.connectMs ?? DEFAULTS.connectMs;
  const inUse = new Set<Dyno>();
  const filterDefs = config.filters ?? {};

  // first pass: apps without canaries (a canary references another app route)
  const bare = new Map<string, Omit<AppRoute, 'canary'> & { canary: AppRoute['canary'] }>();
  for (const [name, app] of Object.entries(config.apps)) {
    const dynos = app.dynos.map((addr) => {
      const d = opts.dynos.get(addr, connectMs);
      inUse.add(d);
      return d;
    });
    const refs = app.filters ?? [];
    bare.set(name, {
      name,
      balancer: new RoundRobin(dynos),
      filters: refs.length > 0 && opts.buildFilters ? opts.buildFilters(refs, filterDefs) : NO_FILTERS,
      maintenance: app.maintenance === true,
      internal: app.internal === true,
      canary: null,
      paths: resolvePathOptions(config.paths, app.paths),
    });
  }
  for (const [name, app] of Object.entries(config.apps)) {
    if (!app.canary) continue;
    const route = bare.get(name)!;
    route.canary = Object.freeze({
      app: bare.get(app.canary.app)!,
      weight: app.canary.weight,
      slot: opts.canarySlots?.[name] ?? -1,
    });
  }
  const apps = new Map<string, AppRoute>();
  for (const [name, r] of bare) apps.set(name, Object.freeze(r));

  const hosts = new Map<string, HostEntry>();
  const domain = normaliseHost(config.domain);
  for (const [name, app] of apps) {
    hosts.set(`${name.toLowerCase()}.${domain}`, Object.freeze({ app, routes: null, internal: app.internal }));
  }
  for (const [host, site] of Object.entries(config.sites ?? {})) {
    const routes: SiteRoute[] = site.routes.map((r) => {
      let prefix = lowerAscii(normalisePath(r.path));
      while (prefix.endsWith('/')) prefix = prefix.slice(0, -1);
      // the target is normalised too: the dyno receives a normalised path (DESIGN.md)
      return Object.freeze({ prefix, target: normalisePath(r.target ?? r.path), app: apps.get(r.app)! });
    });
    routes.sort((a, b) => b.prefix.length - a.prefix.length);
    // a site is internal when it says so (its routes' apps are reached through it)
    hosts.set(normaliseHost(host), Object.freeze({ app: null, routes: Object.freeze(routes), internal: site.internal === true }));
  }

  return Object.freeze({
    version: opts.version,
    hosts,
    apps,
    timeouts: Object.freeze({
      connectMs,
      firstByteMs: config.timeouts?.firstByteMs ?? DEFAULTS.firstByteMs,
      idleMs: config.timeouts?.idleMs ?? DEFAULTS.idleMs,
    }),
    maxBodyBytes: config.limits?.maxBodyBytes ?? DEFAULTS.maxBodyBytes,
    dynos: inUse,
    paths: resolvePathOptions(config.paths),
    singletonHeaders: configuredSingletonHeaders(config),
  });
}
