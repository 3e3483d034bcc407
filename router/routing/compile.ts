import type { AppConfig, PathsConfig, RouterConfig, SiteConfig } from '../config/schema.js';
import { DEFAULTS } from '../config/schema.js';
import type { AppFilterRef, FilterDef } from '../config/filter-schema.js';
import type { Filter } from '../filters/filter.js';
import { RoundRobin } from '../upstream/round-robin.js';
import type { Dyno } from '../upstream/dyno.js';
import type { DynoRegistry } from '../upstream/dyno-registry.js';
import { normalisePath } from './normalise-path.js';
import type { AppRoute, HostEntry, RouteTable, RouteTimeouts, SiteRoute } from './route-table.js';
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

/** An app route before its canary is linked (a canary references another app's route). */
export type BareAppRoute = Omit<AppRoute, 'canary'> & { canary: AppRoute['canary'] };

/** The host an app answers at: `<app>.<domain>` (the domain already normalised). */
export function appHost(name: string, domain: string): string {
  return `${name.toLowerCase()}.${domain}`;
}

export function connectMsOf(config: RouterConfig): number {
  return config.timeouts?.connectMs ?? DEFAULTS.connectMs;
}

/** One app's route without its canary; its dynos come from the registry (kept across reloads). */
export function compileApp(name: string, app: AppConfig, connectMs: number, filterDefs: Readonly<Record<string, FilterDef>>, opts: CompileOptions,
  topPaths?: PathsConfig): BareAppRoute {
  const dynos = app.dynos.map((addr) => opts.dynos.get(addr, connectMs));
  const refs = app.filters ?? [];
  return {
    name,
    balancer: new RoundRobin(dynos),
    filters: refs.length > 0 && opts.buildFilters ? opts.buildFilters(refs, filterDefs) : NO_FILTERS,
    maintenance: app.maintenance === true,
    internal: app.internal === true,
    canary: null,
    // the top-level path options with the app's own keys over them (path-options.ts)
    paths: resolvePathOptions(topPaths, app.paths),
  };
}

/** Links an app route to its canary's route (looked up in `apps`). */
export function linkCanary(route: BareAppRoute, app: AppConfig, apps: ReadonlyMap<string, AppRoute>, opts: CompileOptions): void {
  if (!app.canary) return;
  route.canary = Object.freeze({
    app: apps.get(app.canary.app)!,
    weight: app.canary.weight,
    slot: opts.canarySlots?.[route.name] ?? -1,
  });
}

/** The host entry of `<app>.<domain>`: the whole path goes to the app. */
export function appEntry(app: AppRoute): HostEntry {
  return Object.freeze({ app, routes: null, internal: app.internal });
}

/** A site's host entry: its routes, longest prefix first. */
export function compileSite(site: SiteConfig, apps: ReadonlyMap<string, AppRoute>): HostEntry {
  const routes: SiteRoute[] = site.routes.map((r) => {
    let prefix = lowerAscii(normalisePath(r.path));
    while (prefix.endsWith('/')) prefix = prefix.slice(0, -1);
    // the target is normalised too: the dyno receives a normalised path (DESIGN.md)
    return Object.freeze({ prefix, target: normalisePath(r.target ?? r.path), app: apps.get(r.app)! });
  });
  routes.sort((a, b) => b.prefix.length - a.prefix.length);
  // a site is internal when it says so (its routes' apps are reached through it)
  return Object.freeze({ app: null, routes: Object.freeze(routes), internal: site.internal === true });
}

/** The dynos a set of app routes uses (the registry closes the others). */
export function dynosOf(apps: Iterable<AppRoute>): Set<Dyno> {
  const inUse = new Set<Dyno>();
  for (const app of apps) for (const d of app.balancer.dynos) inUse.add(d);
  return inUse;
}

export function timeoutsOf(config: RouterConfig): RouteTimeouts {
  return Object.freeze({
    connectMs: connectMsOf(config),
    firstByteMs: config.timeouts?.firstByteMs ?? DEFAULTS.firstByteMs,
    idleMs: config.timeouts?.idleMs ?? DEFAULTS.idleMs,
  });
}

/** Compiles a validated config into the immutable table the request path reads. */
export function compileRouteTable(config: RouterConfig, opts: CompileOptions): RouteTable {
  const connectMs = connectMsOf(config);
  const filterDefs = config.filters ?? {};

  // first pass: apps without canaries (a canary references another app route)
  const bare = new Map<string, BareAppRoute>();
  for (const [name, app] of Object.entries(config.apps)) bare.set(name, compileApp(name, app, connectMs, filterDefs, opts, config.paths));
  for (const [name, app] of Object.entries(config.apps)) linkCanary(bare.get(name)!, app, bare, opts);
  const apps = new Map<string, AppRoute>();
  for (const [name, r] of bare) apps.set(name, Object.freeze(r));

  // app hosts first, then sites: a site named like an app host wins, and of two keys naming the same host the last
  const hosts = new Map<string, HostEntry>();
  const domain = normaliseHost(config.domain);
  for (const [name, app] of apps) hosts.set(appHost(name, domain), appEntry(app));
  for (const [host, site] of Object.entries(config.sites ?? {})) hosts.set(normaliseHost(host), compileSite(site, apps));

  return Object.freeze({
    version: opts.version,
    hosts,
    apps,
    timeouts: timeoutsOf(config),
    maxBodyBytes: config.limits?.maxBodyBytes ?? DEFAULTS.maxBodyBytes,
    dynos: dynosOf(apps.values()),
    paths: resolvePathOptions(config.paths),
    singletonHeaders: configuredSingletonHeaders(config),
  });
}
