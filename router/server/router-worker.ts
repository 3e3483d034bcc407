import { parentPort, workerData } from 'node:worker_threads';
import uWS from 'uWebSockets.js';
import type { TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { createLogger } from '../../shared/logger.js';
import type { RouterConfig } from '../config/schema.js';
import type { RouteTable } from '../config/route-table.js';
import { compileRouteTable } from '../config/compile.js';
import { FilterFactory } from '../pipeline/filter-factory.js';
import { DynoRegistry } from '../upstream/dyno-registry.js';
import type { Exchange } from '../upstream/exchange.js';
import type { HerokuCodeName } from '../http/heroku-codes.js';
import { WorkerStats } from '../metrics/worker-stats.js';
import { TlsNames } from './tls-names.js';
import { CanaryView, type CanaryAbortEvent } from '../canary/canary-view.js';
import type { BoardDescription } from '../canary/board-layout.js';
import { formatCanaryAbortLine } from '../canary/abort-line.js';
import { createRequestHandler, type ListenerInfo, type RequestHost } from './request-handler.js';
import { StdoutAccessLog, type AccessLogSink } from '../access-log/access-log-sink.js';
import { ShuttleShipper } from '../access-log/shuttle-shipper.js';
import { TeeSink } from '../access-log/tee-sink.js';
import type { ToWorker, FromWorker, ListenerName, WorkerStart } from './worker-messages.js';

/**
 * One router worker thread: its own uWS apps on the shared ports (SO_REUSEPORT), its own
 * dyno pools, and the current route table, replaced whole when a new config arrives.
 */
class RouterWorker implements RequestHost {
  table: RouteTable;
  readonly accessLog: AccessLogSink;
  private readonly dynos = new DynoRegistry();
  private readonly logger = createLogger('router-worker');
  /** lives across reloads: JWKS and verified-token caches survive a config swap */
  private readonly filters = new FilterFactory({ logger: this.logger });
  private readonly listenSockets: us_listen_socket[] = [];
  private inFlight = 0;
  private canary!: CanaryView;
  private tls: TlsNames | null = null;
  private readonly stats = new WorkerStats();
  websockets = 0;
  private stopping = false;
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
    // after the swap: caches shared with the new table stay warm (they are reference counted)
    for (const app of old.apps.values()) for (const f of app.filters) f.close?.();
  }

  recordOutcome(ex: Exchange, status: number, code: HerokuCodeName | null, totalMs: number): void {
    this.stats.record(ex.app!.name, status, code, totalMs);
    if (ex.canarySlot >= 0) this.canary.record(ex.canarySlot, ex.canary ? 'canary' : 'production', status, code !== null && code !== 'H27');
  }

  statsSnapshot() {
    const now = performance.now();
    return this.stats.snapshot({ inFlight: this.inFlight, websockets: this.websockets, ejectedDynos: this.dynos.ejectedCount(now), dynos: this.dynos.size });
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
      let app: TemplatedApp;
      if (protocol === 'https') {
        const certs = this.start.config.certificates ?? [];
        app = uWS.SSLApp(TlsNames.defaultOptions(certs, this.start.baseDir));
        // the default (unknown names) handler first: domain() below scopes later registrations
        app.any('/*', handler);
        this.tls = new TlsNames(app, handler);
        this.tls.apply(certs, this.start.baseDir);
      } else {
        app = uWS.App();
        app.any('/*', handler);
      }
      const actual = await this.listen(app, name, spec.host, port);
      (listener as { port: string }).port = String(actual);
      ports[name] = actual;
    }
    return ports;
  }

  /** Graceful stop: listeners closed at once, in-flight requests finish within the deadline. */
  async stop(deadlineMs: number): Promise<void> {
    this.stopping = true;
    for (const s of this.listenSockets.splice(0)) uWS.us_listen_socket_close(s);
    if (this.inFlight > 0) {
      await new Promise<void>((resolve) => {
        this.stopResolve = resolve;
        setTimeout(resolve, deadlineMs).unref();
      });
    }
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
      post({ type: 'stats', id: msg.id, snapshot: worker.statsSnapshot() });
      break;
    case 'stop':
      void worker.stop(msg.deadlineMs).then(() => post({ type: 'stopped' }));
      break;
  }
});
