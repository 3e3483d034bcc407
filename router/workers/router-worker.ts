import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../../shared/logger.js';
import type { RouterConfig } from '../config/schema.js';
import type { RouteTable } from '../routing/route-table.js';
import { compileRouteTable } from '../routing/compile.js';
import { FilterFactory } from '../filters/filter-factory.js';
import { DynoRegistry } from '../upstream/dyno-registry.js';
import { InFlight } from '../upstream/in-flight.js';
import { WorkerStats, countOpenConnections, type WorkerStatsSnapshot } from '../metrics/worker-stats.js';
import { CanaryView, type CanaryAbortEvent } from '../canary/canary-view.js';
import type { BoardDescription } from '../canary/board-layout.js';
import { formatCanaryAbortLine } from '../canary/abort-line.js';
import type { FrontHost } from '../front/request-front.js';
import type { RequestContext } from '../front/request-context.js';
import { Listeners } from '../front/listeners.js';
import { WebSocketRegistry } from '../websocket/websocket-registry.js';
import type { LogCode } from '../access-log/access-line.js';
import { StdoutAccessLog, type AccessLogSink } from '../access-log/access-log-sink.js';
import { ShuttleShipper } from '../access-log/shuttle-shipper.js';
import { TeeSink } from '../access-log/tee-sink.js';
import type { ToWorker, FromWorker, ListenerName, WorkerStart } from './worker-messages.js';

/**
 * One router worker thread: its own uWS apps on the shared ports (SO_REUSEPORT), its own
 * dyno pools, and the current route table, replaced whole when a new config arrives.
 * Each listener serves plain requests and WebSocket upgrades through one front (front/listeners.ts).
 */
class RouterWorker implements FrontHost {
  table: RouteTable;
  readonly accessLog: AccessLogSink;
  private readonly dynos = new DynoRegistry();
  private readonly logger = createLogger('router-worker');
  /** lives across reloads: JWKS and verified-token caches survive a config swap */
  private readonly filters = new FilterFactory({ logger: this.logger });
  private readonly listeners = new Listeners(this);
  /** open WebSockets of this worker: 1012 when their dyno leaves the config, 1001 on stop */
  readonly webSockets = new WebSocketRegistry();
  /** HTTP exchanges in flight: what graceful stop waits for */
  readonly inFlight = new InFlight();
  private canary!: CanaryView;
  private readonly stats = new WorkerStats();
  /** graceful stop in progress (ContextHost.stopping: responses carry Connection: close) */
  stopping = false;

  /** this thread's stdout lines (access lines without a shuttle or with --log-stdout; refusals always) */
  private stdoutLog: StdoutAccessLog | null = null;

  constructor(private readonly start: WorkerStart) {
    const shuttle = start.config.logshuttle;
    if (!shuttle || start.logStdout) this.stdoutLog = new StdoutAccessLog();
    this.accessLog = !shuttle ? this.stdoutLog!
      : start.logStdout ? new TeeSink([new ShuttleShipper(shuttle, this.logger), this.stdoutLog!])
        : new ShuttleShipper(shuttle, this.logger);
    this.table = this.compile(start.config, start.version, start.canary);
  }

  private compile(config: RouterConfig, version: string, board: BoardDescription): RouteTable {
    const view = new CanaryView(board, { onAbort: this.onCanaryAbort });
    const canarySlots: Record<string, number> = {};
    for (const e of board.canaries) canarySlots[e.prodApp] = e.slot;
    const table = compileRouteTable(config, { version, dynos: this.dynos, canarySlots, buildFilters: (refs, defs) => this.filters.chain(refs, defs) });
    this.canary = view;
    return table;
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
    return this.canary.pick(slot);
  }

  /** A new config: compile off the request path, then swap in one step. */
  applyConfig(config: RouterConfig, version: string, baseDir: string, board: BoardDescription): void {
    this.listeners.applyCertificates(config.certificates ?? [], baseDir);
    const old = this.table;
    const table = this.compile(config, version, board);
    this.table = table;
    this.dynos.retainOnly(table.dynos);
    // WebSockets hold their own dyno connection and table: a reload leaves them open, except
    // those whose dyno is gone from the config (1012 Service Restart: clients reconnect)
    const closed = this.webSockets.closeRemoved(table);
    if (closed > 0) this.logger.info({ closed, version }, 'WebSockets to removed dynos closed (1012)');
    // after the swap: caches shared with the new table stay warm (they are reference counted)
    for (const app of old.apps.values()) for (const f of app.filters) f.close?.();
  }

  /** Every routed request's outcome, HTTP or WebSocket handshake (101 when upgraded). */
  recordOutcome(ctx: RequestContext, status: number, code: LogCode | null, totalMs: number): void {
    this.stats.record(ctx.app!.name, status, code, totalMs);
    if (ctx.canarySlot >= 0) this.canary.record(ctx.canarySlot, ctx.canary ? 'canary' : 'production', status, code !== null && code !== 'H27');
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
      dynos: this.dynos.size, connections });
  }

  listenAll(): Promise<Partial<Record<ListenerName, number>>> {
    const start = this.start;
    return this.listeners.listenAll(start.config.listen, start.ports, start.config.certificates ?? [], start.baseDir);
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
    // a stdout sink made for refusals alone (a shuttle without --log-stdout) is not part of accessLog
    if (this.stdoutLog !== null && this.start.config.logshuttle && !this.start.logStdout) await this.stdoutLog.close();
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
  (err: Error) => post({ type: 'fatal', message: err.message }),
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
    case 'stats':
      void worker.statsSnapshot().then((snapshot) => post({ type: 'stats', id: msg.id, snapshot }));
      break;
    case 'stop':
      void worker.stop(msg.deadlineMs).then(() => post({ type: 'stopped' }));
      break;
  }
});
