import type { AppConfig, RouterConfig, SiteConfig } from '../config/schema.js';
import type { FilterDef } from '../config/filter-schema.js';
import type { DocumentDiff, RecordChange } from '../config/document-diff.js';
import type { AppRoute, HostEntry, RouteTable } from './route-table.js';
import { normaliseHost } from './route-table.js';
import { configuredSingletonHeaders } from './singleton-headers.js';
import {
  appEntry, appHost, compileApp, compileRouteTable, compileSite, connectMsOf, dynosOf, linkCanary,
  type BareAppRoute, type CompileOptions,
} from './compile.js';

/**
 * A change to a worker's config, entry by entry (the main thread's DocumentDiff, with the new
 * entries): what a worker needs to recompile only what changed. `null` removes an entry.
 */
export interface ConfigDelta {
  readonly apps: Readonly<Record<string, AppConfig | null>>;
  readonly sites: Readonly<Record<string, SiteConfig | null>>;
  /** the whole `filters` record, when it changed */
  readonly filters?: Readonly<Record<string, FilterDef>>;
}

/** A table compiled and not yet in use: commit() makes it the compiler's current one. */
export interface PreparedTable {
  readonly table: RouteTable;
  /** app routes of the current table the new one no longer uses (close their filters after the swap) */
  readonly retired: readonly AppRoute[];
  /** app routes made for the new table (close their filters when it is discarded) */
  readonly created: readonly AppRoute[];
  commit(): void;
}

type Options = Omit<CompileOptions, 'version' | 'canarySlots'>;
type Slots = Readonly<Record<string, number>>;

/** Who may own each host: site keys and app names by host, in document order, and sites by the apps they route to. */
interface HostIndex {
  readonly siteKeys: Map<string, string[]>;
  readonly appNames: Map<string, string[]>;
  readonly sitesByApp: Map<string, Set<string>>;
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

function drop<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (!list) return;
  const i = list.lastIndexOf(v);
  if (i !== -1) list.splice(i, 1);
  if (list.length === 0) m.delete(k);
}

function setOwn(o: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

function routeApps(site: SiteConfig): Set<string> {
  return new Set(site.routes.map((r) => r.app));
}

/**
 * A worker's route tables, whole or by change. full() compiles a document as compileRouteTable
 * does; delta() compiles only what a change touched and shares everything else with the
 * current table: the changed apps (their dynos come from the registry as always), the apps
 * whose filters or canary changed, the production apps of a changed canary app, the changed
 * sites, and the sites and app hosts routing to a rebuilt app. An app route that is not
 * rebuilt stays the same object, with its balancer position, filter chain (and whatever the
 * filters hold, e.g. rate-limit buckets) and canary slot. The result equals a full compile of
 * the new document (a property test compares them: test/router/routing/table-compiler.test.ts).
 *
 * The compiler keeps its own copy of the document (the worker's, never shared) and updates it
 * in place on commit(), with an index of which site keys and app names own each host.
 */
export class TableCompiler {
  private config!: RouterConfig;
  private table!: RouteTable;
  private slots: Slots = {};
  private index!: HostIndex;

  constructor(private readonly opts: Options) {}

  get current(): RouteTable {
    return this.table;
  }

  /** The whole document (owned by the compiler from now on). */
  full(config: RouterConfig, version: string, slots: Slots): PreparedTable {
    const table = compileRouteTable(config, { ...this.opts, version, canarySlots: slots });
    const index = indexOf(config);
    const old = this.table;
    return {
      table,
      retired: old ? [...old.apps.values()] : [],
      created: [...table.apps.values()],
      commit: () => {
        this.config = config;
        this.table = table;
        this.slots = slots;
        this.index = index;
      },
    };
  }

  /** A change to the current document: only what it touched is compiled. */
  delta(delta: ConfigDelta, version: string, slots: Slots): PreparedTable {
    const config = this.config;
    const prev = this.table;
    const configSites = config.sites ?? {};
    const appCfg = (n: string): AppConfig | null => Object.hasOwn(delta.apps, n) ? delta.apps[n] : Object.hasOwn(config.apps, n) ? config.apps[n] : null;
    const siteCfg = (k: string): SiteConfig | null => Object.hasOwn(delta.sites, k) ? delta.sites[k] : Object.hasOwn(configSites, k) ? configSites[k] : null;
    const filterDefs = delta.filters ?? config.filters ?? {};
    const opts: CompileOptions = { ...this.opts, version, canarySlots: slots };
    const connectMs = connectMsOf(config);
    const domain = normaliseHost(config.domain);

    const removedApps = Object.keys(delta.apps).filter((n) => delta.apps[n] === null && Object.hasOwn(config.apps, n));
    const addedApps = Object.keys(delta.apps).filter((n) => delta.apps[n] !== null && !Object.hasOwn(config.apps, n));
    const nextApps = [...Object.keys(config.apps).filter((n) => appCfg(n) !== null), ...addedApps];

    // the apps to rebuild: changed ones, those using a changed filter, those whose canary slot
    // moved, then the production apps of a rebuilt or removed canary app
    const rebuild = new Set(Object.keys(delta.apps).filter((n) => delta.apps[n] !== null));
    if (delta.filters !== undefined) {
      const old = config.filters ?? {};
      const changed = new Set([...Object.keys(old), ...Object.keys(delta.filters)]
        .filter((f) => JSON.stringify(Object.hasOwn(old, f) ? old[f] : null) !== JSON.stringify(Object.hasOwn(delta.filters!, f) ? delta.filters![f] : null)));
      for (const n of nextApps) if (appCfg(n)!.filters?.some((ref) => changed.has(ref.filter))) rebuild.add(n);
    }
    for (const n of new Set([...Object.keys(this.slots), ...Object.keys(slots)])) {
      if (this.slots[n] !== slots[n] && appCfg(n) !== null) rebuild.add(n);
    }
    const gone = new Set(removedApps);
    for (const n of nextApps) {
      const canary = appCfg(n)!.canary;
      if (canary && (rebuild.has(canary.app) || gone.has(canary.app))) rebuild.add(n);
    }

    const apps = new Map(prev.apps);
    for (const n of removedApps) apps.delete(n);
    const bare: BareAppRoute[] = [];
    for (const n of rebuild) {
      const route = compileApp(n, appCfg(n)!, connectMs, filterDefs, opts, config.paths);
      bare.push(route);
      apps.set(n, route as AppRoute);
    }
    for (const route of bare) linkCanary(route, appCfg(route.name)!, apps, opts);
    for (const route of bare) Object.freeze(route);
    const created = bare as AppRoute[];
    const retired = [...rebuild, ...removedApps].map((n) => prev.apps.get(n)).filter((r): r is AppRoute => r !== undefined);

    // the hosts to recompute: rebuilt and removed apps' hosts, changed sites, sites routing to a rebuilt app
    const touched = new Set<string>();
    const sitesToCompile = new Set(Object.keys(delta.sites));
    for (const n of [...rebuild, ...removedApps]) {
      touched.add(appHost(n, domain));
      for (const k of this.index.sitesByApp.get(n) ?? []) sitesToCompile.add(k);
    }
    for (const k of sitesToCompile) touched.add(normaliseHost(k));
    const addedSitesByHost = new Map<string, string[]>();
    for (const k of Object.keys(delta.sites)) if (delta.sites[k] !== null && !Object.hasOwn(configSites, k)) push(addedSitesByHost, normaliseHost(k), k);
    const addedAppsByHost = new Map<string, string[]>();
    for (const n of addedApps) push(addedAppsByHost, appHost(n, domain), n);

    const hosts = new Map(prev.hosts);
    for (const h of touched) {
      // the owner a full compile would pick: the last site key naming the host, else the last app
      const siteKeys = [...(this.index.siteKeys.get(h) ?? []).filter((k) => siteCfg(k) !== null), ...(addedSitesByHost.get(h) ?? [])];
      const appNames = [...(this.index.appNames.get(h) ?? []).filter((n) => !gone.has(n)), ...(addedAppsByHost.get(h) ?? [])];
      let entry: HostEntry | undefined;
      if (siteKeys.length > 0) entry = compileSite(siteCfg(siteKeys[siteKeys.length - 1])!, apps);
      else if (appNames.length > 0) entry = appEntry(apps.get(appNames[appNames.length - 1])!);
      if (entry) hosts.set(h, entry);
      else hosts.delete(h);
    }

    const table: RouteTable = Object.freeze({
      version, hosts, apps, timeouts: prev.timeouts, maxBodyBytes: prev.maxBodyBytes, dynos: dynosOf(apps.values()),
      // top-level `paths` is not entry-wise (a change of it compiles the whole document); the
      // singleton headers follow the filter definitions
      paths: prev.paths, singletonHeaders: delta.filters !== undefined ? configuredSingletonHeaders({ ...config, filters: delta.filters }) : prev.singletonHeaders,
    });
    return { table, retired, created, commit: () => this.commitDelta(delta, table, slots, domain) };
  }

  /** The document and the index take the change in place (the prepared table already has it). */
  private commitDelta(delta: ConfigDelta, table: RouteTable, slots: Slots, domain: string): void {
    const config = this.config as { apps: Record<string, unknown>; sites?: Record<string, unknown>; filters?: unknown };
    const index = this.index;
    for (const [n, app] of Object.entries(delta.apps)) {
      const had = Object.hasOwn(config.apps, n);
      if (app === null) {
        if (had) {
          delete config.apps[n];
          drop(index.appNames, appHost(n, domain), n);
        }
      } else {
        if (!had) push(index.appNames, appHost(n, domain), n);
        setOwn(config.apps, n, app);
      }
    }
    if (Object.keys(delta.sites).length > 0) config.sites ??= {};
    const sites = config.sites as Record<string, SiteConfig> | undefined;
    for (const [k, site] of Object.entries(delta.sites)) {
      const before = sites && Object.hasOwn(sites, k) ? sites[k] : null;
      if (before !== null) for (const a of routeApps(before)) index.sitesByApp.get(a)?.delete(k);
      if (site === null) {
        if (before !== null) {
          delete sites![k];
          drop(index.siteKeys, normaliseHost(k), k);
        }
        continue;
      }
      if (before === null) push(index.siteKeys, normaliseHost(k), k);
      setOwn(sites!, k, site);
      for (const a of routeApps(site)) {
        let set = index.sitesByApp.get(a);
        if (!set) index.sitesByApp.set(a, set = new Set());
        set.add(k);
      }
    }
    if (delta.filters !== undefined) config.filters = delta.filters;
    this.table = table;
    this.slots = slots;
  }
}

function indexOf(config: RouterConfig): HostIndex {
  const domain = normaliseHost(config.domain);
  const index: HostIndex = { siteKeys: new Map(), appNames: new Map(), sitesByApp: new Map() };
  for (const n of Object.keys(config.apps)) push(index.appNames, appHost(n, domain), n);
  for (const [k, site] of Object.entries(config.sites ?? {})) {
    push(index.siteKeys, normaliseHost(k), k);
    for (const a of routeApps(site)) {
      let set = index.sitesByApp.get(a);
      if (!set) index.sitesByApp.set(a, set = new Set());
      set.add(k);
    }
  }
  return index;
}

/** The delta a worker needs for an entry-wise change (isEntryWise) to `config`, the new document. */
export function deltaOf(diff: DocumentDiff, config: RouterConfig): ConfigDelta {
  const pick = <T>(record: Readonly<Record<string, T>> | undefined, change: RecordChange | null): Record<string, T | null> => {
    const out: Record<string, T | null> = {};
    if (change === null) return out;
    for (const k of change.changed) setOwn(out, k, record![k]);
    for (const k of change.removed) setOwn(out, k, null);
    return out;
  };
  const filters = diff.records.filters;
  const filtersChanged = filters !== null && (filters.changed.length > 0 || filters.removed.length > 0);
  return {
    apps: pick(config.apps, diff.records.apps),
    sites: pick(config.sites, diff.records.sites),
    ...(filtersChanged ? { filters: config.filters ?? {} } : {}),
  };
}
