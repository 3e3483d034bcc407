import { parentPort, workerData } from 'node:worker_threads';
import uWS from 'uWebSockets.js';
import type { TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { createLogger } from '../../shared/logger.js';
import type { RouterConfig } from '../config/schema.js';
import type { RouteTable } from '../routing/route-table.js';
import { compileRouteTable } from '../routing/compile.js';
import { FilterFactory } from '../filters/filter-factory.js';
import { DynoRegistry } from '../upstream/dyno-registry.js';
import { cutExchanges } from '../upstream/in-flight.js';
import type { Exchange } from '../upstream/exchange.js';
import type { HerokuCodeName } from '../front/heroku-codes.js';
import { WorkerStats, countOpenConnections, type WorkerStatsSnapshot } from '../metrics/worker-stats.js';
import { TlsListener } from '../front/tls-listener.js';
import { CanaryView, type CanaryAbortEvent } from '../canary/canary-view.js';
import type { BoardDescription } from '../canary/board-layout.js';
import { formatCanaryAbortLine } from '../canary/abort-line.js';
import { createRequestHandler, type ListenerInfo, type RequestHost } from '../front/request-handler.js';
import { attachWebSocketProxy, WebSocketRegistry, type WebSocketHost } from '../websocket/websocket-proxy.js';
import { StdoutAccessLog, type AccessLogSink } from '../access-log/access-log-sink.js';
import { ShuttleShipper } from '../access-log/shuttle-shipper.js';
import { TeeSink } from '../access-log/tee-sink.js';
import type { ToWorker, FromWorker, ListenerName, WorkerStart } from './worker-messages.js';

/** uWS 20.30 has App.close() (listen sockets and every connection, onAborted run) but not in its typings. */
type ClosableApp = TemplatedApp & { close?: () => void };

/**
 * One router worker thread: its own uWS apps on the shared ports (SO_REUSEPORT), its own
 * dyno pools, and the current route table, replaced whole when a new config arrives.
 * Each listener serves plain requests and WebSocket upgrades (websocket-proxy.ts).
 */
class RouterWorker implements RequestHost, WebSocketHost {
  table: RouteTable;
  readonly accessLog: AccessLogSink;
  private readonly dynos = new DynoRegistry();
  private readonly logger = createLogger('router-worker');
  /** lives across reloads: JWKS and verified-token caches survive a config swap */
  private readonly filters = new FilterFactory({ logger: this.logger });
  private readonly listenSockets: us_listen_socket[] = [];
  /** every listener's app: closed (connections too) once the drain is over */
  private readonly apps: ClosableApp[] = [];
  /** actual ports by listener name (for the open-connections gauge) */
  private ports: Partial<Record<ListenerName, number>> = {};
  /** open WebSockets of this worker: 1012 when their dyno leaves the config, 1001 on stop */
  readonly webSockets = new WebSocketRegistry();
  private inFlight = 0;
  private canary!: CanaryView;
  /** the HTTPS listener across certificate generations (it owns its apps and listen sockets) */
  private tls: TlsListener | null = null;
  private readonly stats = new WorkerStats();
  websockets = 0;
  /** graceful stop in progress (RequestHost.stopping: responses carry Connection: close) */
  stopping = false;
  private stopResolve: (() => void) | null = null;

  constructor(private readonly start: WorkerStart) {
    const shuttle = start.config.logshuttle;
    this.accessLog = !shuttle ? new StdoutAccessLog()
      : start.logStdout ? new TeeSink([new ShuttleShipper(shuttle, this.logger), new StdoutAccessLog()])
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

  pickCanary(ex: Exchange): boolean {
    const slot = ex.app!.canary!.slot;
    if (slot < 0) return false;
    ex.canarySlot = slot;
    return this.canary.pick(slot);
  }

  /** A new config: compile off the request path, then swap in one step. */
  applyConfig(config: RouterConfig, version: string, baseDir: string, board: BoardDescription): void {
    this.tls?.apply(config.certificates ?? [], baseDir);
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

  recordOutcome(ex: Exchange, status: number, code: HerokuCodeName | null, totalMs: number): void {
    this.stats.record(ex.app!.name, status, code, totalMs);
    if (ex.canarySlot >= 0) this.canary.record(ex.canarySlot, ex.canary ? 'canary' : 'production', status, code !== null && code !== 'H27');
  }

  /** Request counters and gauges; worker 0 also measures the process's open client connections. */
  async statsSnapshot(): Promise<WorkerStatsSnapshot> {
    const connections = this.start.index === 0 && !this.stopping ? await countOpenConnections(this.ports) : null;
    const now = performance.now();
    return this.stats.snapshot({ inFlight: this.inFlight, websockets: this.websockets, ejectedDynos: this.dynos.ejectedCount(now),
      dynos: this.dynos.size, connections });
  }

  socketsOpened(): void {
    this.websockets++;
  }

  socketsClosed(): void {
    this.websockets--;
  }

  /** a WebSocket handshake's outcome, counted with the requests (101 when upgraded) */
  recordWebSocket(app: string, status: number, code: HerokuCodeName | null, handshakeMs: number): void {
    this.stats.record(app, status, code, handshakeMs);
  }

  exchangeStarted(_ex: Exchange): void {
    this.inFlight++;
  }

  exchangeDone(ex: Exchange): void {
    if (ex.app === null) return; // never counted (answered before routing)
    this.inFlight--;
    if (this.stopping && this.inFlight === 0) this.stopResolve?.();
  }

  private listen(app: TemplatedApp, name: ListenerName, host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      app.listen(host, port, (socket) => {
        if (!socket) {
          reject(new Error(`cannot listen on ${host}:${port} (${name})`));
          return;
        }
        this.listenSockets.push(socket);
        resolve(uWS.us_socket_local_port(socket as unknown as uWS.us_socket));
      });
    });
  }

  async listenAll(): Promise<Partial<Record<ListenerName, number>>> {
    const l = this.start.config.listen;
    const ports: Partial<Record<ListenerName, number>> = {};
    const want: [ListenerName, { host: string; port: number } | undefined, 'http' | 'https', boolean][] = [
      ['http', l.http, 'http', false],
      ['https', l.https, 'https', false],
      ['internal', l.internal, 'http', true],
    ];
    for (const [name, spec, protocol, internal] of want) {
      if (!spec) continue;
      const port = this.start.ports[name] ?? spec.port;
      const listener: ListenerInfo = { protocol, port: String(port), internal };
      const handler = createRequestHandler(listener, this);
      if (protocol === 'https') {
        // each generation (an SSLApp) gets the HTTP and WebSocket routes for its default
        // certificate and for every SNI name, also on reloads
        this.tls = new TlsListener(handler, (scoped) => attachWebSocketProxy(scoped, listener, this));
        const actual = this.tls.listen(spec.host, port, this.start.config.certificates ?? [], this.start.baseDir);
        (listener as { port: string }).port = String(actual);
        ports[name] = actual;
        continue; // the TlsListener owns its apps and listen sockets
      }
      const app: TemplatedApp = uWS.App();
      app.any('/*', handler);
      // uWS hands only requests with Sec-WebSocket-Key to the ws route; the rest reach any('/*')
      attachWebSocketProxy(app, listener, this);
      this.apps.push(app);
      const actual = await this.listen(app, name, spec.host, port);
      (listener as { port: string }).port = String(actual);
      ports[name] = actual;
    }
    this.ports = ports;
    return ports;
  }

  /**
   * Graceful stop (DESIGN.md "SIGTERM"): listeners closed at once (new connections refused),
   * WebSockets closed with 1001 at once, in-flight requests finish within the deadline; then
   * every client connection is closed (idle keep-alive ones, and requests past the deadline,
   * which are cut) and the worker's resources are released.
   */
  async stop(deadlineMs: number): Promise<void> {
    this.stopping = true;
    for (const s of this.listenSockets.splice(0)) uWS.us_listen_socket_close(s);
    this.tls?.stopListening();
    const wsClosed = this.webSockets.closeAll(1001, 'router stopping');
    if (this.inFlight > 0) {
      await new Promise<void>((resolve) => {
        this.stopResolve = resolve;
        setTimeout(resolve, deadlineMs).unref();
      });
    }
    if (this.inFlight > 0) this.logger.warn({ inFlight: this.inFlight, deadlineMs }, 'shutdown deadline passed: cutting requests in flight');
    // while the connections are still open: 503 where nothing was sent yet, logged code=shutdown (README, Graceful stop)
    cutExchanges(this);
    // after the WebSocket closing handshakes (a forced close could overtake a client's close frame)
    await wsClosed;
    for (const app of this.apps.splice(0)) app.close?.();
    this.tls?.close();
    this.filters.close();
    await this.accessLog.close?.();
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
