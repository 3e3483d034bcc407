import { readFile } from 'node:fs/promises';
import { mergeFilterCounts, renderFilterCounts, type FilterCountEntry } from '../filters/filter-counters.js';
import { latencyBucket } from './latency-histogram.js';
import { CLASS_COUNT, SECOND_STRIDE, type EjectedDyno, type WorkerSecond } from './worker-second.js';
import { renderBusMetricsText, sumBusStats, type BusStatsSnapshot } from '../../shared/bus/bus-metrics.js';

/**
 * Per-worker request counters, kept as plain arrays (a Map lookup and a few increments per
 * request, no label hashing) and sent to the main thread as a snapshot when /metrics is read.
 * Besides, each app counts the current second into a preallocated typed array (status class
 * and a log-spaced latency histogram) that the main thread collects once a second for the
 * dashboard (takeSecond); a request allocates nothing.
 */
export const LATENCY_BUCKETS = Object.freeze([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]);
export const STATUS_CLASSES = Object.freeze(['1xx', '2xx', '3xx', '4xx', '5xx']);

export interface AppStatsSnapshot {
  /** requests by status class, index = first digit - 1 */
  classes: number[];
  /** cumulative-free bucket counts (index i counts durations <= LATENCY_BUCKETS[i]); last = +Inf */
  buckets: number[];
  sumSeconds: number;
  count: number;
  /** upstream errors by H code */
  codes: Record<string, number>;
}

export interface WorkerStatsSnapshot {
  apps: Record<string, AppStatsSnapshot>;
  /** requests the front refused before routing them (head checks, repeated headers, path options), by code */
  refused?: Record<string, number>;
  inFlight: number;
  websockets: number;
  ejectedDynos: number;
  dynos: number;
  /**
   * open client TCP connections by listener name (HTTP keep-alive and WebSocket alike), measured
   * for the whole process by one worker (see countOpenConnections); null when not measured
   */
  connections: Record<string, number> | null;
  /** the edge filters' passed/refused counts (filters/filter-counters.ts) */
  filters?: FilterCountEntry[];
  /** the worker's bus client (null without `bus`): summed over workers, rendered as edgeplane_router_bus_* */
  bus?: BusStatsSnapshot | null;
}

function emptyApp(): AppStatsSnapshot {
  return { classes: [0, 0, 0, 0, 0], buckets: new Array<number>(LATENCY_BUCKETS.length + 1).fill(0), sumSeconds: 0, count: 0, codes: {} };
}

interface AppCounters {
  readonly name: string;
  readonly total: AppStatsSnapshot;
  /** the current second: SECOND_STRIDE counters (worker-second.ts) */
  readonly second: Uint32Array;
  /** listed in `touched` (counted something this second) */
  touched: boolean;
}

export class WorkerStats {
  private readonly apps = new Map<string, AppCounters>();
  /** apps that counted something since the last takeSecond() */
  private readonly touched: AppCounters[] = [];
  private readonly refused: Record<string, number> = {};

  /** A request refused by the front (router/front/refusal-line.ts), by its code. */
  refuse(code: string): void {
    this.refused[code] = (this.refused[code] ?? 0) + 1;
  }

  record(app: string, status: number, code: string | null, ms: number): void {
    let e = this.apps.get(app);
    if (e === undefined) {
      e = { name: app, total: emptyApp(), second: new Uint32Array(SECOND_STRIDE), touched: false };
      this.apps.set(app, e);
    }
    const s = e.total;
    const cls = Math.floor(status / 100) - 1;
    if (cls >= 0 && cls < 5) s.classes[cls]++;
    if (!e.touched) {
      e.touched = true;
      this.touched.push(e);
    }
    if (cls >= 0 && cls < CLASS_COUNT) e.second[cls]++;
    e.second[CLASS_COUNT + latencyBucket(ms)]++;
    const seconds = ms / 1000;
    let b = 0;
    while (b < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[b]) b++;
    s.buckets[b]++;
    s.sumSeconds += seconds;
    s.count++;
    if (code !== null) s.codes[code] = (s.codes[code] ?? 0) + 1;
  }

  snapshot(extra: Omit<WorkerStatsSnapshot, 'apps' | 'refused'>): WorkerStatsSnapshot {
    const apps: Record<string, AppStatsSnapshot> = {};
    for (const [name, e] of this.apps) apps[name] = e.total;
    return { apps, refused: { ...this.refused }, ...extra };
  }

  /** The apps' counts since the last call (then zeroed), for the main thread's once-a-second collection. */
  takeSecond(extra: { ejected: readonly EjectedDyno[]; inFlight: number; websockets: number }): WorkerSecond {
    const n = this.touched.length;
    const apps = new Array<string>(n);
    const counts = new Uint32Array(n * SECOND_STRIDE);
    for (let i = 0; i < n; i++) {
      const e = this.touched[i];
      apps[i] = e.name;
      counts.set(e.second, i * SECOND_STRIDE);
      e.second.fill(0);
      e.touched = false;
    }
    this.touched.length = 0;
    return { apps, counts, ...extra };
  }
}

/** Sums the snapshots of every worker. */
export function mergeStats(snaps: readonly WorkerStatsSnapshot[]): WorkerStatsSnapshot {
  const out: WorkerStatsSnapshot = { apps: {}, refused: {}, inFlight: 0, websockets: 0, ejectedDynos: 0, dynos: 0, connections: null,
    filters: mergeFilterCounts(snaps.map((s) => s.filters)) };
  for (const s of snaps) {
    for (const [code, v] of Object.entries(s.refused ?? {})) out.refused![code] = (out.refused![code] ?? 0) + v;
    // a process-wide measure: taken once (by one worker), never summed
    if (out.connections === null && s.connections) out.connections = s.connections;
    out.inFlight += s.inFlight;
    out.websockets += s.websockets;
    out.ejectedDynos += s.ejectedDynos;
    out.dynos = Math.max(out.dynos, s.dynos);
    out.bus = sumBusStats([out.bus, s.bus]);
    for (const [app, a] of Object.entries(s.apps)) {
      const m = (out.apps[app] ??= emptyApp());
      a.classes.forEach((v, i) => (m.classes[i] += v));
      a.buckets.forEach((v, i) => (m.buckets[i] += v));
      m.sumSeconds += a.sumSeconds;
      m.count += a.count;
      for (const [c, v] of Object.entries(a.codes)) m.codes[c] = (m.codes[c] ?? 0) + v;
    }
  }
  return out;
}

function label(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Prometheus text for the merged request metrics. */
export function renderStats(s: WorkerStatsSnapshot): string {
  const out: string[] = [];
  out.push('# HELP edgeplane_router_requests_total Requests answered, by app and status class.');
  out.push('# TYPE edgeplane_router_requests_total counter');
  for (const [app, a] of Object.entries(s.apps)) {
    a.classes.forEach((v, i) => out.push(`edgeplane_router_requests_total{app="${label(app)}",status="${STATUS_CLASSES[i]}"} ${v}`));
  }
  out.push('# HELP edgeplane_router_request_duration_seconds Time from request to the end of the response.');
  out.push('# TYPE edgeplane_router_request_duration_seconds histogram');
  for (const [app, a] of Object.entries(s.apps)) {
    let cum = 0;
    LATENCY_BUCKETS.forEach((le, i) => {
      cum += a.buckets[i];
      out.push(`edgeplane_router_request_duration_seconds_bucket{app="${label(app)}",le="${le}"} ${cum}`);
    });
    cum += a.buckets[LATENCY_BUCKETS.length];
    out.push(`edgeplane_router_request_duration_seconds_bucket{app="${label(app)}",le="+Inf"} ${cum}`);
    out.push(`edgeplane_router_request_duration_seconds_sum{app="${label(app)}"} ${a.sumSeconds}`);
    out.push(`edgeplane_router_request_duration_seconds_count{app="${label(app)}"} ${a.count}`);
  }
  out.push('# HELP edgeplane_router_upstream_errors_total Failed requests by app and Heroku code.');
  out.push('# TYPE edgeplane_router_upstream_errors_total counter');
  for (const [app, a] of Object.entries(s.apps)) {
    for (const [code, v] of Object.entries(a.codes)) out.push(`edgeplane_router_upstream_errors_total{app="${label(app)}",code="${code}"} ${v}`);
  }
  out.push('# HELP edgeplane_router_refused_total Requests refused before routing (head checks, repeated headers, path options), by code.');
  out.push('# TYPE edgeplane_router_refused_total counter');
  for (const [code, v] of Object.entries(s.refused ?? {})) out.push(`edgeplane_router_refused_total{code="${label(code)}"} ${v}`);
  out.push('# HELP edgeplane_router_requests_in_flight Requests being served now.');
  out.push('# TYPE edgeplane_router_requests_in_flight gauge');
  out.push(`edgeplane_router_requests_in_flight ${s.inFlight}`);
  out.push('# HELP edgeplane_router_websockets_open WebSockets open now.');
  out.push('# TYPE edgeplane_router_websockets_open gauge');
  out.push(`edgeplane_router_websockets_open ${s.websockets}`);
  if (s.connections !== null) {
    out.push('# HELP edgeplane_router_connections_open Client TCP connections open now, by listener (HTTP keep-alive and WebSocket).');
    out.push('# TYPE edgeplane_router_connections_open gauge');
    for (const [listener, v] of Object.entries(s.connections)) out.push(`edgeplane_router_connections_open{listener="${label(listener)}"} ${v}`);
  }
  out.push('# HELP edgeplane_router_dynos_ejected Dyno pools out of rotation now, summed over workers.');
  out.push('# TYPE edgeplane_router_dynos_ejected gauge');
  out.push(`edgeplane_router_dynos_ejected ${s.ejectedDynos}`);
  return out.join('\n') + '\n' + renderFilterCounts(s.filters ?? []) + (s.bus ? renderBusMetricsText('edgeplane_router', s.bus) : '');
}

/** TCP states of a socket the router still holds open: ESTABLISHED, CLOSE_WAIT (the client sent FIN). */
const OPEN_STATES = new Set(['01', '08']);

/**
 * Client connections open on the given local ports, by name, read from the kernel's socket
 * tables (/proc/net/tcp and tcp6). uWS 20.30 has no per-connection hook for HTTP (no open/close
 * event, no socket identity on a response, no remote port), so the router cannot count them
 * itself. Counts sockets in ESTABLISHED or CLOSE_WAIT whose local port is a listener's and that
 * were accepted (inode not 0: sockets still in the accept queue are not the router's yet).
 * The tables cover the network namespace: in a pod, this router; on a shared host, another
 * process bound to the same port with SO_REUSEPORT would be counted too.
 * Resolves null where /proc/net is not readable (not Linux).
 */
export async function countOpenConnections(ports: Readonly<Record<string, number>>): Promise<Record<string, number> | null> {
  const byPort = new Map<number, string>();
  const out: Record<string, number> = {};
  for (const [name, port] of Object.entries(ports)) {
    byPort.set(port, name);
    out[name] = 0;
  }
  let readable = false;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = await readFile(file, 'latin1');
    } catch {
      continue;
    }
    readable = true;
    let at = text.indexOf('\n') + 1; // skip the header
    while (at > 0 && at < text.length) {
      const eol = text.indexOf('\n', at);
      const line = text.slice(at, eol < 0 ? text.length : eol);
      at = eol < 0 ? -1 : eol + 1;
      // "  sl  local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ..."
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || !OPEN_STATES.has(f[3]) || f[9] === '0') continue;
      const local = f[1];
      const name = byPort.get(parseInt(local.slice(local.lastIndexOf(':') + 1), 16));
      if (name !== undefined) out[name]++;
    }
  }
  return readable ? out : null;
}
