import type { RouterConfig } from '../config/schema.js';
import { STATUS_CLASSES } from '../metrics/worker-stats.js';
import { WINDOW_SECONDS, type SecondStats } from '../metrics/stats-history.js';
import type { StatsCollector } from './stats-collector.js';
import type { ReloadEntry } from './reload-log.js';
import type { CanaryWithEvidence } from './canary-evidence.js';

/** Apps in a document unless asked otherwise: the busiest first. */
export const TOP_APPS = 50;
/** Dynos listed per app (the count is always complete). */
export const DYNOS_LISTED = 64;
/** Canaries listed (aborted ones first). */
export const CANARIES_LISTED = 100;

/** What the dashboard's documents are made of; implemented by main.ts's wiring. */
export interface DashboardSources {
  readonly collector: StatsCollector;
  /** the running revision (ReloadOwner.current) */
  running(): { revision: number; time: number; source: string; loaded: { version: string; config: RouterConfig } };
  reloads(): ReloadEntry[];
  canaries(): CanaryWithEvidence[];
  /** worker threads configured */
  readonly workers: number;
}

type Classes = Record<string, number>;

export interface SecondView {
  requests: number;
  classes: Classes;
  p50Ms: number | null;
  p99Ms: number | null;
}

export interface DynoView {
  address: string;
  ejected: boolean;
  /** workers holding it out of rotation (ejection is per worker thread) */
  workers: number;
  /** ms until the last of them takes it back */
  forMs: number;
}

export interface AppView {
  name: string;
  /** named in the running config */
  configured: boolean;
  /** has a history (the busiest apps and those asked for); false: its numbers are not kept */
  held: boolean;
  /** ISO time of the first second of its history in the window */
  since: string | null;
  /** the newest second */
  last: SecondView | null;
  /** the whole window summed */
  window: SecondView | null;
  series?: Record<string, (number | null)[]> | null;
  maintenance: boolean;
  /** the app its canary is, when it has one */
  canary: string | null;
  dynos: { total: number; ejected: number; list: DynoView[] };
}

export interface StatsDocument {
  time: string;
  windowSeconds: number;
  intervalMs: number;
  /** epoch ms of each second of the window, oldest first (only with series) */
  timeline?: (number | null)[];
  /** epoch ms of the newest second */
  second: number | null;
  config: { revision: number; version: string; source: string; appliedAt: string; reloads: ReloadEntry[] };
  workers: { configured: number; answering: number };
  inFlight: number;
  websockets: number;
  /** configured apps, apps with a history, apps in this document */
  counts: { configured: number; held: number; shown: number };
  apps: AppView[];
  canaries: CanaryWithEvidence[];
  canariesTotal: number;
  /** a live tail is available (`dashboard.logshuttle` is set) */
  logTail: boolean;
}

/** The app names of a config, in its order (computed once per config document: 10,000 apps are read every second otherwise). */
const appNames = new WeakMap<object, readonly string[]>();
function namesOf(apps: RouterConfig['apps']): readonly string[] {
  let names = appNames.get(apps);
  if (names === undefined) {
    names = Object.freeze(Object.keys(apps));
    appNames.set(apps, names);
  }
  return names;
}

function secondView(s: SecondStats | null): SecondView | null {
  if (s === null) return null;
  const classes: Classes = {};
  STATUS_CLASSES.forEach((c, i) => (classes[c] = s.classes[i]));
  return { requests: s.requests, classes, p50Ms: s.p50Ms, p99Ms: s.p99Ms };
}

export interface DocumentRequest {
  /** exactly these apps (in this order); otherwise the busiest, then configured ones, up to `limit` */
  only?: readonly string[];
  /** added after the busiest (a stream's chosen app) */
  also?: readonly string[];
  limit?: number;
  /** every app's 60 seconds (GET /stats, a stream's first event); without: only the newest second */
  series: boolean;
}

/** The apps a document shows (see DocumentRequest). */
export function chooseApps(src: DashboardSources, req: DocumentRequest): string[] {
  if (req.only) return [...req.only];
  const limit = req.limit ?? TOP_APPS;
  const history = src.collector.history;
  const names = history.busiest(limit);
  const shown = new Set(names);
  // fewer busy apps than the limit: the configured ones follow, in the config's order
  if (names.length < limit) {
    for (const name of namesOf(src.running().loaded.config.apps)) {
      if (names.length >= limit) break;
      if (!shown.has(name)) {
        names.push(name);
        shown.add(name);
      }
    }
  }
  for (const name of req.also ?? []) if (!shown.has(name)) names.push(name);
  return names;
}

/** The JSON of GET /stats and of a stream's events. */
export function statsDocument(src: DashboardSources, req: DocumentRequest): StatsDocument {
  const running = src.running();
  const config = running.loaded.config;
  const { collector } = src;
  const history = collector.history;
  const names = chooseApps(src, req);
  const apps = names.map((name): AppView => {
    const app = config.apps[name];
    const dynos = app?.dynos ?? [];
    let ejected = 0;
    const list: DynoView[] = [];
    for (const address of dynos) {
      const e = collector.ejections.get(address);
      if (e !== undefined) ejected++;
      if (list.length < DYNOS_LISTED) list.push({ address, ejected: e !== undefined, workers: e?.workers ?? 0, forMs: e?.forMs ?? 0 });
    }
    const since = history.since(name);
    const view: AppView = {
      name, configured: app !== undefined, held: history.has(name), since: since === null ? null : new Date(since).toISOString(),
      last: secondView(history.last(name)), window: secondView(history.window(name)),
      maintenance: app?.maintenance === true, canary: app?.canary?.app ?? null,
      dynos: { total: dynos.length, ejected, list },
    };
    if (req.series) {
      const s = history.series(name);
      if (s === null) view.series = null;
      else {
        const series: Record<string, (number | null)[]> = { requests: s.requests };
        STATUS_CLASSES.forEach((c, i) => (series[c] = s.classes[i]));
        series.p50Ms = s.p50Ms;
        series.p99Ms = s.p99Ms;
        view.series = series;
      }
    }
    return view;
  });
  const allCanaries = src.canaries();
  // aborted ones first, then in the config's order
  const canaries = [...allCanaries.filter((c) => c.state === 'aborted'), ...allCanaries.filter((c) => c.state !== 'aborted')].slice(0, CANARIES_LISTED);
  const doc: StatsDocument = {
    time: new Date().toISOString(),
    windowSeconds: WINDOW_SECONDS,
    intervalMs: 1000,
    second: history.lastTime,
    config: {
      revision: running.revision, version: running.loaded.version, source: running.source,
      appliedAt: new Date(running.time).toISOString(), reloads: src.reloads(),
    },
    workers: { configured: src.workers, answering: collector.workersAnswering },
    inFlight: collector.inFlight,
    websockets: collector.websockets,
    counts: { configured: namesOf(config.apps).length, held: history.size, shown: apps.length },
    apps,
    canaries,
    canariesTotal: allCanaries.length,
    logTail: typeof config.dashboard?.logshuttle === 'string',
  };
  if (req.series) doc.timeline = history.timeline();
  return doc;
}
