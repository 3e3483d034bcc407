import { parentPort, workerData } from 'node:worker_threads';
import { EdgeplaneError } from '../../shared/errors.js';
import { createLogger } from '../../shared/logger.js';
import type { RouterConfig } from '../config/schema.js';
import type { RouteTable } from '../routing/route-table.js';
import { FilterFactory } from '../filters/filter-factory.js';
import { isFilterCode } from '../filters/filter-codes.js';
import { DynoRegistry } from '../upstream/dyno-registry.js';
import { InFlight } from '../upstream/in-flight.js';
import { WorkerStats, countOpenConnections, type WorkerStatsSnapshot } from '../metrics/worker-stats.js';
import type { WorkerSecond } from '../metrics/worker-second.js';
import type { CanaryAbortEvent } from '../canary/canary-view.js';
import type { BoardDescription } from '../canary/board-layout.js';
import { formatCanaryAbortLine } from '../canary/abort-line.js';
import type { FrontHost } from '../front/request-front.js';
import type { RequestContext } from '../front/request-context.js';
import { Listeners } from '../front/listeners.js';
import { WebSocketRegistry } from '../websocket/websocket-registry.js';
import type { LogCode } from '../access-log/access-line.js';
import { StdoutAccessLog, type AccessLogSink } from '../access-log/access-log-sink.js';
import { pickAccessLogSink } from '../access-log/pick-sink.js';
import type { ToWorker, FromWorker, ListenerName, WorkerStart } from './worker-messages.js';
import { TableSwitch } from './table-switch.js';
import { AcmeWorkerState, type AcmeWorkerUpdate } from '../acme/acme-worker-state.js';
import type { CertificateSpec } from '../front/tls-names.js';

/**
 * One router worker thread: its own uWS apps on the shared ports (SO_REUSEPORT), its own
 * dyno pools, and the current route table, replaced when a new config arrives (all workers
 * at once, compiling only what changed: table-switch.ts).
 * Each listener serves plain requests and WebSocket upgrades through one front (front/listeners.ts).
 */
class RouterWorker implements FrontHost {
  readonly accessLog: AccessLogSink;
  private readonly dynos = new DynoRegistry();
  private readonly logger = createLogger('router-worker');
  /** lives across reloads: JWKS and verified-token caches survive a config swap; rate-limit buckets are the process's */
  private readonly filters: FilterFactory;
  /** issued ACME certificates (served after the config's), http-01 answers */
  private readonly acme: AcmeWorkerState;
  /** the config certificates the HTTPS listener was last given (issued ones are added to these) */
  private tls: { certs: readonly CertificateSpec[]; baseDir: string };
  private readonly listeners: Listeners;
  /** open WebSockets of this worker: 1012 when their dyno leaves the config, 1001 on stop */
  readonly webSockets = new WebSocketRegistry();
  /** HTTP exchanges in flight: what graceful stop waits for */
  readonly inFlight = new InFlight();
  /** the current route table and the next one */
  private readonly tables: TableSwitch;
  private readonly stats = new WorkerStats();
  /** graceful stop in progress (ContextHost.stopping: responses carry Connection: close) */
  stopping = false;

  /** this thread's stdout lines: the access log when it is stdout alone, else one made for refusals */
  private stdoutLog: StdoutAccessLog | null = null;

  constructor(private readonly start: WorkerStart) {
    this.acme = new AcmeWorkerState(start.acme);
    this.tls = { certs: start.config.certificates ?? [], baseDir: start.baseDir };
    this.listeners = new Listeners(this, {
      state: this.acme,
      onMissingName: (name) => {
        if (this.acme.shouldReport(name)) post({ type: 'sni-miss', name });
      },
    });
    this.filters = new FilterFactory({ logger: this.logger, rateLimits: start.rateLimits });
    this.filters.baseDir = start.baseDir;
    this.accessLog = pickAccessLogSink(start.config, start.logStdout === true, start.baseDir, this.logger);
    if (this.accessLog instanceof StdoutAccessLog) this.stdoutLog = this.accessLog;
    this.tables = new TableSwitch({
      logger: this.logger,
      tlsApply: (config, baseDir) => {
        this.listeners.applyCertificates(this.acme.merged(config.certificates ?? []), baseDir);
        this.tls = { certs: config.certificates ?? [], baseDir };
      },
      afterSwap: (table) => this.afterSwap(table),
      onCanaryAbort: this.onCanaryAbort,
    }, { dynos: this.dynos, buildFilters: (refs, defs) => this.filters.chain(refs, defs) },
    start.switchWord ? new Int32Array(start.switchWord) : null, start);
  }

  /** the table a request starting now uses (a request keeps it to its end) */
  get table(): RouteTable {
    return this.tables.table;
  }

  /** This thread's record() tipped the test: weight 0 already holds everywhere (shared flag). */
  private readonly onCanaryAbort = (e: CanaryAbortEvent): void => {
    const line = formatCanaryAbortLine(e);
    const now = Date.now();
    this.accessLog.write(e.prodApp, line, now);
    this.accessLog.write(e.canaryApp, line, now);
    this.logger.warn({ app: e.prodApp, canary: e.canaryApp, counts: e.counts }, 'canary aborted');
  };

  pickCanary(ctx: RequestContext): boolean {
    const slot = ctx.app!.canary!.slot;
    if (slot < 0) return false;
    ctx.canarySlot = slot;
    return this.tables.canary.pick(slot);
  }

  /** A new config in one step (a worker brought to the running config). */
  applyConfig(config: RouterConfig, version: string, baseDir: string, board: BoardDescription): void {
    this.useBaseDir(baseDir);
    this.tables.applyNow(config, version, baseDir, board);
  }

  /** Relative paths in filter definitions (openapi specs) resolve against the directory of the config being compiled. */
  useBaseDir(baseDir: string): void {
    this.filters.baseDir = baseDir;
  }

  /** Config changes, in two steps (the pool's prepare / commit / abort). */
  get switch(): TableSwitch {
    return this.tables;
  }

  private afterSwap(table: RouteTable): void {
    this.dynos.retainOnly(table.dynos);
    // WebSockets hold their own dyno connection and table: a reload leaves them open, except
    // those whose dyno is gone from the config (1012 Service Restart: clients reconnect)
    const closed = this.webSockets.closeRemoved(table);
    if (closed > 0) this.logger.info({ closed, version: table.version }, 'WebSockets to removed dynos closed (1012)');
  }

  /** Every routed request's outcome, HTTP or WebSocket handshake (101 when upgraded). */
  recordOutcome(ctx: RequestContext, status: number, code: LogCode | null, totalMs: number): void {
    // a filter's refusal is counted by the filter (edgeplane_router_filter_refusals_total), not as an upstream error
    this.stats.record(ctx.app!.name, status, code === null || isFilterCode(code) ? null : code, totalMs);
    if (ctx.canarySlot >= 0) this.tables.canary.record(ctx.canarySlot, ctx.canary ? 'canary' : 'production', status, code !== null && code !== 'H27');
  }

  /**
   * A request the front refused before routing (FrontHost.recordRefusal): counted, and its line
   * written to the router's stdout (no app's stream: the app is not known, or not trusted yet).
   */
  recordRefusal(code: string, line: string): void {
    this.stats.refuse(code);
    (this.stdoutLog ??= new StdoutAccessLog()).write('', line);
  }

  /** Request counters and gauges; worker 0 also measures the process's open client connections. */
  async statsSnapshot(): Promise<WorkerStatsSnapshot> {
    const connections = this.start.index === 0 && !this.stopping ? await countOpenConnections(this.listeners.ports) : null;
    const now = performance.now();
    return this.stats.snapshot({ inFlight: this.inFlight.size, websockets: this.webSockets.size, ejectedDynos: this.dynos.ejectedCount(now),
      dynos: this.dynos.size, connections, bus: this.accessLog.busStats?.() ?? null, filters: this.filters.counters.snapshot() });
  }

  /** The dashboard's once-a-second counts (metrics/worker-second.ts). */
  takeSecond(): WorkerSecond {
    return this.stats.takeSecond({ ejected: this.dynos.ejected(performance.now()), inFlight: this.inFlight.size, websockets: this.webSockets.size });
  }

  listenAll(): Promise<Partial<Record<ListenerName, number>>> {
    const start = this.start;
    return this.listeners.listenAll(start.config.listen, start.ports, this.acme.merged(start.config.certificates ?? []), start.baseDir);
  }

  /** ACME state from the main thread: new issued certificates go to the HTTPS listener at once. */
  acmeUpdate(update: AcmeWorkerUpdate): void {
    if (this.acme.update(update)) this.listeners.applyCertificates(this.acme.merged(this.tls.certs), this.tls.baseDir);
  }

  /**
   * Graceful stop (DESIGN.md "SIGTERM"): listeners closed at once (new connections refused),
   * WebSockets closed with 1001 at once, in-flight requests finish within the deadline; then
   * every client connection is closed (idle keep-alive ones, and requests past the deadline,
   * which are cut) and the worker's resources are released.
   */
  async stop(deadlineMs: number): Promise<void> {
    this.stopping = true;
    this.listeners.stopListening();
    const wsClosed = this.webSockets.closeAll(1001, 'router stopping');
    if (!(await this.inFlight.drained(deadlineMs))) {
      this.logger.warn({ inFlight: this.inFlight.size, deadlineMs }, 'shutdown deadline passed: cutting requests in flight');
    }
    // while the connections are still open: 503 where nothing was sent yet, logged code=shutdown (README, Graceful stop)
    this.inFlight.cutAll();
    // after the WebSocket closing handshakes (a forced close could overtake a client's close frame)
    await wsClosed;
    this.listeners.close();
    this.filters.close();
    await this.accessLog.close?.();
    // a stdout sink made for refusals alone is not part of accessLog
    if (this.stdoutLog !== null && this.stdoutLog !== this.accessLog) await this.stdoutLog.close();
    await Promise.race([this.dynos.closeAll(), new Promise((r) => setTimeout(r, 1000))]);
  }

  get log() {
    return this.logger;
  }
}

function post(msg: FromWorker): void {
  parentPort!.postMessage(msg);
}

const worker = new RouterWorker(workerData as WorkerStart);
worker.listenAll().then(
  (ports) => post({ type: 'ready', ports }),
  (err: Error) => post({ type: 'fatal', message: err.message, code: err instanceof EdgeplaneError ? err.code : undefined }),
);

parentPort!.on('message', (msg: ToWorker) => {
  switch (msg.type) {
    case 'config':
      try {
        worker.applyConfig(msg.config, msg.version, msg.baseDir, msg.canary);
        post({ type: 'applied', version: msg.version });
      } catch (err) {
        worker.log.error({ err }, 'config could not be applied');
        post({ type: 'apply-failed', version: msg.version, message: (err as Error).message });
      }
      break;
    case 'prepare': {
      const t0 = performance.now();
      try {
        worker.useBaseDir(msg.baseDir);
        worker.switch.prepare(msg.seq, msg.version, msg.baseDir, msg.canary, msg.delta ? { delta: msg.delta } : { config: msg.config! });
        post({ type: 'prepared', seq: msg.seq, version: msg.version, ms: performance.now() - t0 });
      } catch (err) {
        worker.log.error({ err }, 'config could not be applied');
        post({ type: 'apply-failed', version: msg.version, seq: msg.seq, message: (err as Error).message });
      }
      break;
    }
    case 'commit':
      worker.switch.commit(msg.seq);
      break;
    case 'abort':
      worker.switch.abort(msg.seq);
      break;
    case 'stats':
      void worker.statsSnapshot().then((snapshot) => post({ type: 'stats', id: msg.id, snapshot }));
      break;
    case 'second':
      post({ type: 'second', tick: msg.tick, second: worker.takeSecond() });
      break;
    case 'stop':
      void worker.stop(msg.deadlineMs).then(() => post({ type: 'stopped' }));
      break;
    case 'acme':
      try {
        worker.acmeUpdate(msg.update);
      } catch (err) {
        worker.log.error({ err }, 'acme: issued certificates could not be applied');
      }
      post({ type: 'acme-set', id: msg.id });
      break;
  }
});
