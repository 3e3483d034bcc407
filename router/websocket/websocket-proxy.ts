import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import uWS from 'uWebSockets.js';
import type { HttpRequest, HttpResponse, TemplatedApp, WebSocket as ClientSocket, us_socket_context_t } from 'uWebSockets.js';
import { WebSocket as DynoSocket } from 'ws';
import type { AppRoute, RouteTable } from '../routing/route-table.js';
import { matchRoute, normaliseHost } from '../routing/route-table.js';
import { normalisePath } from '../routing/normalise-path.js';
import type { HerokuCodeName } from '../front/heroku-codes.js';
import { ERROR_BODY } from '../front/heroku-codes.js';
import { classifyUpstreamError, isNeverSent } from '../upstream/upstream-errors.js';
import type { Dyno } from '../upstream/dyno.js';
import { runFilters } from '../filters/run-filters.js';
import { formatAccessLine } from '../access-log/access-line.js';
import type { AccessLogSink } from '../access-log/access-log-sink.js';
import { buildUpstreamHeaders, readClientHead, targetProblem } from '../front/upstream-headers.js';
import { encodeTarget, PLAIN_TARGET, refuse, type ListenerInfo } from '../front/request-handler.js';

/**
 * WebSocket proxying (issue 3, "WebSockets").
 *
 * A `GET` with `Upgrade: websocket` is routed exactly like any request (host, internal flag,
 * normalised path, longest prefix, the app's filters, maintenance, H14), then the router opens
 * its own `ws` connection to a dyno with the forwarded headers; only when the dyno has accepted
 * (101) is the client upgraded, with the sub-protocol the dyno chose. A dyno answering anything
 * but 101 has its response relayed to the client as it is (e.g. a 401 from the app); a dyno that
 * cannot be reached gets a 503 with the Heroku code (H10/H19 are tried on the next dyno first).
 *
 * Frames then flow both ways until either side closes; the close code and reason propagate.
 *
 * Backpressure:
 * - dyno -> client: when uWS buffers more than HIGH_WATER for the client, the dyno socket is
 *   paused (`ws.pause()`: the router stops reading it, so TCP pushes back on the dyno) and
 *   resumed from uWS `drain` once below LOW_WATER. Nothing is dropped: maxBackpressure is far
 *   above HIGH_WATER + one message.
 * - client -> dyno: uWS has no per-socket read pause for WebSockets, so the router cannot stop
 *   reading a client. Frames go to the dyno socket at once; if the dyno falls more than
 *   MAX_TO_DYNO bytes behind, the client is closed with 1013 (Try Again Later) rather than
 *   buffering without bound. Messages are limited to MAX_MESSAGE both ways (1009 beyond).
 *
 * A reload does not touch open WebSockets: each holds its own `ws` connection to its dyno (not
 * the undici pool that a reload may close) and the table it was routed with.
 * After each reload the worker calls `WebSocketRegistry.closeRemoved(table)`, which closes (1012)
 * those whose dyno left the config; `closeAll(1001, …)` is the graceful stop (router-worker.ts).
 */

/** Largest message accepted either way (uWS maxPayloadLength, ws maxPayload). */
export const MAX_MESSAGE = 16 * 1024 * 1024;
/** Pause the dyno once this much waits for the client in uWS. */
export const HIGH_WATER = 1024 * 1024;
/** Resume the dyno once the client's buffer is below this. */
export const LOW_WATER = 256 * 1024;
/** The dyno may fall this far behind the client before the client is closed with 1013. */
export const MAX_TO_DYNO = 32 * 1024 * 1024;
/** uWS drops sends beyond this; the pause at HIGH_WATER keeps the buffer far below it. */
const MAX_BACKPRESSURE = HIGH_WATER + 4 * MAX_MESSAGE;

/** The worker-side state the proxy reads. */
export interface WebSocketHost {
  /** the current table; a socket keeps the table it was routed with */
  readonly table: RouteTable;
  readonly accessLog: AccessLogSink;
  /**
   * optional, for request metrics: the handshake's outcome (101 when upgraded, else the status
   * the client got), once per routed upgrade request, with the handshake's duration
   */
  recordWebSocket?(app: string, status: number, code: HerokuCodeName | null, handshakeMs: number): void;
  /** a WebSocket is open (client upgraded): metrics gauge +1 */
  socketsOpened(): void;
  /** an open WebSocket ended: metrics gauge -1 */
  socketsClosed(): void;
  /** the open sockets, so the worker can close them on stop or after a reload */
  readonly webSockets: WebSocketRegistry;
}

/** Headers never sent to the dyno on top of what buildUpstreamHeaders drops: ws writes its own handshake. */
const DROP_WS = new Set(['sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions', 'sec-websocket-accept',
  'content-length']);

/** Dyno response headers that are not relayed (hop-by-hop and those uWS or the router write). */
const DROP_RESPONSE = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding',
  'upgrade', 'content-length', 'date', 'x-request-id', 'proxy-authenticate', 'via']);
/** Also not relayed from the dyno's 101: the handshake between the client and uWS is uWS's own. */
const DROP_101 = new Set([...DROP_RESPONSE, 'sec-websocket-accept', 'sec-websocket-protocol', 'sec-websocket-extensions']);

/** Relays a dyno's response headers (raw name/value list), minus `drop` and those named in Connection. */
function relayHeaders(res: HttpResponse, raw: readonly string[], drop: ReadonlySet<string>): void {
  let named: Set<string> | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].toLowerCase() === 'connection') {
      for (const tok of raw[i + 1].split(',')) (named ??= new Set()).add(tok.trim().toLowerCase());
    }
  }
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i].toLowerCase();
    if (drop.has(k) || (named !== null && named.has(k))) continue;
    res.writeHeader(raw[i], raw[i + 1]);
  }
}

const REQUEST_ID = /^[A-Za-z0-9._:+/=-]{1,200}$/;

/** Close codes a peer may send (RFC 6455 7.4, what `ws` accepts). */
function isSendableCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

/** A close reason fits a control frame (123 bytes) and is valid text. */
function reasonText(reason: Buffer | ArrayBuffer): string {
  const b = Buffer.isBuffer(reason) ? reason : Buffer.from(reason);
  if (b.length === 0) return '';
  return b.subarray(0, 123).toString('utf8');
}

let scratch: string[] = [];
function collectHeader(k: string, v: string): void {
  scratch.push(k, v);
}

/** The open WebSockets of one worker (and handshakes in progress). */
export class WebSocketRegistry {
  private readonly sessions = new Set<WsSession>();
  private closing = false;

  /** open WebSockets (client upgraded, not yet closed) */
  get size(): number {
    let n = 0;
    for (const s of this.sessions) if (s.client !== null) n++;
    return n;
  }

  /** open WebSockets whose dyno socket is paused because the client is slow (for tests and metrics) */
  get pausedCount(): number {
    let n = 0;
    for (const s of this.sessions) if (s.paused) n++;
    return n;
  }

  /** @internal */
  add(s: WsSession): void {
    this.sessions.add(s);
  }

  /** @internal */
  delete(s: WsSession): void {
    this.sessions.delete(s);
  }

  /** whether new upgrades are refused (after closeAll) */
  get stopping(): boolean {
    return this.closing;
  }

  /**
   * Closes every WebSocket with `code` (1001 on graceful stop) and refuses new ones; handshakes
   * in progress are abandoned (503). Resolves once every dyno socket is closed, at most after
   * `waitMs` (the rest are cut).
   */
  async closeAll(code = 1001, reason = 'router stopping', waitMs = 2000): Promise<void> {
    this.closing = true;
    const all = [...this.sessions];
    for (const s of all) s.shutdown(code, reason);
    const end = Date.now() + waitMs;
    while (all.some((s) => s.dynoOpen) && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    for (const s of all) if (s.dynoOpen) s.upstream!.terminate();
  }

  /**
   * After a reload (optional): closes, with `code`, the WebSockets whose dyno is no longer in
   * the new table. Those to dynos still in the config are left alone. Returns how many closed.
   */
  closeRemoved(table: RouteTable, code = 1012, reason = 'dyno removed'): number {
    const addresses = new Set<string>();
    for (const d of table.dynos) addresses.add(d.address);
    let n = 0;
    for (const s of [...this.sessions]) {
      if (s.dyno !== null && !addresses.has(s.dyno.address)) {
        s.shutdown(code, reason);
        n++;
      }
    }
    return n;
  }
}

/** uWS userData (uWS copies the object's own properties: a class instance would lose its methods). */
interface SessionRef {
  session: WsSession;
}

/** One proxied WebSocket: the client side (uWS) and the dyno side (ws). uWS userData. */
class WsSession {
  // request facts (for the log line)
  readonly start = performance.now();
  readonly method: string;
  readonly logPath: string;
  readonly hostHeader: string;
  readonly requestId: string;
  readonly fwd: string;
  readonly protocol: string;
  readonly host: WebSocketHost;
  readonly table: RouteTable;
  app: AppRoute | null = null;

  // handshake
  res: HttpResponse | null;
  key = '';
  extensions = '';
  context: us_socket_context_t | null = null;
  upstreamPath = '';
  upstreamHeaders: Record<string, string> = {};
  responseExtra: readonly [string, string][] | null = null;
  /** dynos tried, as a bit set of indexes below 31, and a set for the others (apps with many dynos) */
  private tried = 0;
  private triedMore: Set<number> | null = null;
  private lastCode: HerokuCodeName = 'H10';
  private connectAt = 0;
  private acceptedAt = 0;
  private handshakeTimer: NodeJS.Timeout | null = null;
  private chosenProtocol = '';
  /** the dyno's 101 headers (Set-Cookie and the like reach the client) */
  private acceptHeaders: string[] = [];

  // open
  dyno: Dyno | null = null;
  upstream: DynoSocket | null = null;
  client: ClientSocket<SessionRef> | null = null;
  /** dyno frames that arrived before the client's open */
  private early: [Buffer, boolean][] | null = [];
  paused = false;
  /** the router has closed (or is closing) the dyno side, or the dyno has */
  upstreamClosed = false;
  private clientClosed = false;
  private finished = false;
  private bytesToClient = 0;
  private status = 0;
  private code: HerokuCodeName | null = null;

  constructor(res: HttpResponse, host: WebSocketHost, method: string, logPath: string, hostHeader: string, requestId: string,
    fwd: string, protocol: string) {
    this.res = res;
    this.host = host;
    this.table = host.table;
    this.method = method;
    this.logPath = logPath;
    this.hostHeader = hostHeader;
    this.requestId = requestId;
    this.fwd = fwd;
    this.protocol = protocol;
  }

  /** the dyno socket is not closed yet */
  get dynoOpen(): boolean {
    return this.upstream !== null && this.upstream.readyState !== DynoSocket.CLOSED;
  }

  /** uWS onAborted: the client left before the upgrade. */
  readonly onAborted = (): void => {
    this.res = null;
    if (this.finished) return;
    this.stopHandshakeTimer();
    const up = this.upstream;
    if (up !== null) {
      this.upstreamClosed = true;
      up.removeAllListeners();
      up.on('error', () => undefined);
      up.terminate();
    }
    this.finish(499, 'H27');
  };

  /** Answers without a dyno (404, filter answers, H-codes). Logged like any request. */
  answer(status: number, statusLine: string, headers: readonly [string, string][] | null, body: string, code: HerokuCodeName | null): void {
    const res = this.res;
    if (this.finished || res === null) return;
    const extra = this.responseExtra;
    res.cork(() => {
      res.writeStatus(statusLine).writeHeader('x-request-id', this.requestId).writeHeader('via', '1.1 edgeplane');
      if (headers) for (const [k, v] of headers) res.writeHeader(k, v);
      if (extra !== null) for (const [k, v] of extra) res.writeHeader(k, v);
      if (body.length > 0 && !headers?.some((h) => h[0] === 'content-type')) res.writeHeader('content-type', 'text/plain; charset=utf-8');
      res.end(body);
    });
    this.res = null;
    this.finish(status, code);
  }

  fail(code: HerokuCodeName): void {
    this.answer(503, '503 Service Unavailable', null, ERROR_BODY[code], code);
  }

  /** Opens the dyno side on the next dyno of the app. */
  dispatch(): void {
    const app = this.app!;
    if (this.host.webSockets.stopping) {
      this.fail('H13');
      return;
    }
    const now = performance.now();
    const i = app.balancer.pick(this.tried, now, this.triedMore);
    if (i < 0) {
      this.fail(this.lastCode);
      return;
    }
    if (i < 31) this.tried |= 1 << i;
    else (this.triedMore ??= new Set()).add(i);
    const dyno = app.balancer.dynos[i];
    this.dyno = dyno;
    const [host, port] = splitAddress(dyno.address);
    const connectMs = this.table.timeouts.connectMs;
    const up = new DynoSocket(`ws://${dyno.address}${this.upstreamPath}`, {
      headers: this.upstreamHeaders,
      perMessageDeflate: false,
      maxPayload: MAX_MESSAGE,
      followRedirects: false,
      autoPong: false,
      createConnection: () => {
        const sock: Socket = connect({ host, port });
        sock.setNoDelay(true);
        const timer = setTimeout(() => {
          sock.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' }));
        }, connectMs);
        sock.once('connect', () => {
          clearTimeout(timer);
          if (this.connectAt === 0) this.connectAt = performance.now();
        });
        sock.once('close', () => clearTimeout(timer));
        return sock;
      },
    });
    this.upstream = up;
    this.upstreamClosed = false;
    this.stopHandshakeTimer();
    this.handshakeTimer = setTimeout(() => {
      this.handshakeTimer = null;
      this.handshakeFailed(up, 'H12');
    }, this.table.timeouts.firstByteMs);
    up.on('upgrade', (res: IncomingMessage) => {
      // the dyno may decline every offered sub-protocol (RFC 6455); ws would refuse that, so the
      // router takes the dyno's answer itself and lets the client's WebSocket judge it
      const p = res.headers['sec-websocket-protocol'];
      this.chosenProtocol = typeof p === 'string' ? p : '';
      delete res.headers['sec-websocket-protocol'];
      this.acceptHeaders = res.rawHeaders;
    });
    up.on('unexpected-response', (_req, res: IncomingMessage) => this.relayRefusal(up, res));
    up.on('open', () => this.onUpstreamOpen(up));
    up.on('error', (err: Error) => this.onUpstreamError(up, err));
    up.on('message', (data: Buffer, isBinary: boolean) => this.toClient(data, isBinary));
    // pings end to end: a dyno that checks liveness with pings sees the client's own pongs
    up.on('ping', (data: Buffer) => this.pingClient(data));
    up.on('close', (code: number, reason: Buffer) => this.onUpstreamClose(up, code, reason));
  }

  private stopHandshakeTimer(): void {
    if (this.handshakeTimer !== null) {
      clearTimeout(this.handshakeTimer);
      this.handshakeTimer = null;
    }
  }

  private handshakeFailed(up: DynoSocket, code: HerokuCodeName): void {
    if (up !== this.upstream || this.finished) return;
    this.stopHandshakeTimer();
    this.upstreamClosed = true;
    up.removeAllListeners();
    up.on('error', () => undefined);
    up.terminate();
    const now = performance.now();
    if (isNeverSent(code)) {
      this.dyno!.fail(now);
      if (this.lastCode !== 'H19') this.lastCode = code;
      this.dispatch();
      return;
    }
    if (code === 'H13' || code === 'H17') this.dyno!.fail(now);
    this.fail(code);
  }

  private onUpstreamError(up: DynoSocket, err: Error): void {
    if (up !== this.upstream) return;
    if (this.client === null && !this.finished) {
      // handshake failed
      const code = (err as NodeJS.ErrnoException).code === undefined && /Unexpected server response|Invalid|subprotocol|extension/i.test(err.message)
        ? 'H17' : classifyUpstreamError(err);
      this.handshakeFailed(up, code);
      return;
    }
    // after the upgrade: 'close' follows; remember what to tell the client
    const c = (err as NodeJS.ErrnoException).code;
    this.errorClose = c === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 1009 : c === 'WS_ERR_INVALID_UTF8' ? 1007
      : typeof c === 'string' && c.startsWith('WS_ERR_') ? 1002 : 1011;
  }

  private errorClose = 0;

  /** The dyno answered the handshake with something else than 101: the client gets that answer. */
  private relayRefusal(up: DynoSocket, dynoRes: IncomingMessage): void {
    if (up !== this.upstream) return;
    this.stopHandshakeTimer();
    const res = this.res;
    if (res === null || this.finished) {
      dynoRes.destroy();
      return;
    }
    this.acceptedAt = performance.now();
    this.dyno!.succeed();
    const status = dynoRes.statusCode ?? 502;
    this.status = status;
    this.record(status, null);
    const extra = this.responseExtra;
    res.cork(() => {
      res.writeStatus(`${status} ${dynoRes.statusMessage || 'Unknown'}`);
      relayHeaders(res, dynoRes.rawHeaders, DROP_RESPONSE);
      res.writeHeader('x-request-id', this.requestId).writeHeader('via', '1.1 edgeplane');
      if (extra !== null) for (const [k, v] of extra) res.writeHeader(k, v);
    });
    const done = (): void => {
      this.upstreamClosed = true;
      up.removeAllListeners();
      up.on('error', () => undefined);
      up.terminate();
    };
    dynoRes.on('data', (chunk: Buffer) => {
      if (this.res === null) return;
      this.bytesToClient += chunk.length;
      let ok = true;
      res.cork(() => {
        ok = res.write(chunk);
      });
      if (!ok) {
        dynoRes.pause();
        res.onWritable(() => {
          dynoRes.resume();
          return true;
        });
      }
    });
    dynoRes.on('end', () => {
      if (this.res !== null) {
        res.cork(() => res.end());
        this.res = null;
      }
      done();
      this.finish(status, null);
    });
    dynoRes.on('error', () => {
      if (this.res !== null) {
        res.cork(() => res.close());
        this.res = null;
      }
      done();
      this.finish(status, 'H13');
    });
  }

  /** The dyno accepted: upgrade the client. */
  private onUpstreamOpen(up: DynoSocket): void {
    if (up !== this.upstream) return;
    this.stopHandshakeTimer();
    this.acceptedAt = performance.now();
    this.dyno!.succeed();
    const res = this.res;
    if (res === null || this.finished) {
      this.upstreamClosed = true;
      up.terminate();
      return;
    }
    // hold the dyno until the client is open; frames already parsed wait in `early`
    up.pause();
    this.res = null;
    this.record(101, null);
    const extra = this.responseExtra;
    res.cork(() => {
      res.writeStatus('101 Switching Protocols');
      relayHeaders(res, this.acceptHeaders, DROP_101);
      res.writeHeader('x-request-id', this.requestId).writeHeader('via', '1.1 edgeplane');
      if (extra !== null) for (const [k, v] of extra) res.writeHeader(k, v);
      res.upgrade<SessionRef>({ session: this }, this.key, this.chosenProtocol, this.extensions, this.context!);
    });
    this.context = null;
  }

  /** uWS open. */
  opened(ws: ClientSocket<SessionRef>): void {
    this.client = ws;
    this.status = 101;
    this.host.socketsOpened();
    const early = this.early;
    this.early = null;
    if (early !== null) for (const [data, binary] of early) this.toClient(data, binary);
    if (this.upstreamClosed) {
      this.endClient(this.pendingCloseCode, this.pendingCloseReason);
      return;
    }
    if (!this.paused) this.upstream!.resume();
  }

  private pendingCloseCode = 1000;
  private pendingCloseReason = '';

  /** A dyno frame to the client, pausing the dyno while the client is backpressured. */
  toClient(data: Buffer, isBinary: boolean): void {
    const ws = this.client;
    if (ws === null) {
      if (this.early !== null) this.early.push([data, isBinary]);
      return;
    }
    if (this.clientClosed) return;
    this.bytesToClient += data.length;
    const r = ws.send(data, isBinary, false);
    if (r === 2) {
      // cannot happen with the pause below (MAX_BACKPRESSURE is far above HIGH_WATER + a message)
      this.endClient(1011, 'backpressure limit');
      return;
    }
    if (!this.paused && ws.getBufferedAmount() > HIGH_WATER) {
      this.paused = true;
      this.upstream!.pause();
    }
  }

  /** A dyno ping goes to the client (its pong comes back through `pongFromClient`). */
  private pingClient(data: Buffer): void {
    const ws = this.client;
    if (ws !== null && !this.clientClosed) ws.ping(data);
    else if (this.upstream !== null && !this.upstreamClosed) this.upstream.pong(data); // not open yet: answer for it
  }

  /** uWS pong: the client answered a (dyno's) ping. */
  pongFromClient(message: ArrayBuffer): void {
    const up = this.upstream;
    if (up !== null && !this.upstreamClosed && up.readyState === DynoSocket.OPEN) up.pong(Buffer.from(new Uint8Array(message)));
  }

  /** Handshake outcome for request metrics, once. */
  private recorded = false;
  private record(status: number, code: HerokuCodeName | null): void {
    if (this.recorded || this.app === null) return;
    this.recorded = true;
    this.host.recordWebSocket?.(this.app.name, status, code, performance.now() - this.start);
  }

  /** uWS drain: the client took some of its buffer. */
  drained(ws: ClientSocket<SessionRef>): void {
    if (this.paused && ws.getBufferedAmount() < LOW_WATER) {
      this.paused = false;
      if (!this.upstreamClosed) this.upstream!.resume();
    }
  }

  /** uWS message: a client frame to the dyno. */
  fromClient(message: ArrayBuffer, isBinary: boolean): void {
    const up = this.upstream!;
    if (this.upstreamClosed || up.readyState !== DynoSocket.OPEN) return;
    if (up.bufferedAmount > MAX_TO_DYNO) {
      this.endClient(1013, 'dyno too slow');
      return;
    }
    // uWS neuters the ArrayBuffer after this callback, and ws masks in place: copy
    up.send(Buffer.from(new Uint8Array(message)), { binary: isBinary, compress: false });
  }

  /** uWS close: the client's side is over (its frame, a cut, or our own end()). */
  clientClose(code: number, message: ArrayBuffer): void {
    this.clientClosed = true;
    this.client = null;
    this.host.socketsClosed();
    this.host.webSockets.delete(this);
    const up = this.upstream;
    if (up !== null && !this.upstreamClosed) {
      this.upstreamClosed = true;
      if (this.paused) up.resume();
      if (code === 1005) up.close();
      else if (isSendableCode(code)) up.close(code, reasonText(message));
      else up.close(1001, 'client went away'); // 1006: the client vanished
      // the dyno gets its closing handshake; the session is over for the client
    }
    this.finish(101, null);
  }

  /** The dyno's side closed: close the client with the same code. */
  private onUpstreamClose(up: DynoSocket, code: number, reason: Buffer): void {
    if (up !== this.upstream) return;
    this.stopHandshakeTimer();
    const alreadyClosing = this.upstreamClosed;
    this.upstreamClosed = true;
    if (this.client === null && !this.clientClosed) {
      if (this.early !== null && this.res === null && !this.finished) {
        // upgraded but uWS open not run yet: close right after open
        this.pendingCloseCode = this.clientCode(code);
        this.pendingCloseReason = reasonText(reason);
      }
      return;
    }
    if (alreadyClosing || this.clientClosed) return;
    this.endClient(this.clientCode(code), reasonText(reason));
  }

  private clientCode(code: number): number {
    if (this.errorClose !== 0) return this.errorClose;
    if (code === 1005) return 1005; // uWS sends an empty close frame: the client sees 1005 too
    if (isSendableCode(code)) return code;
    return 1011; // 1006: the dyno vanished without a close frame
  }

  private endClient(code: number, reason: string): void {
    const ws = this.client;
    if (ws === null || this.clientClosed) return;
    ws.end(code, reason); // runs clientClose synchronously
  }

  /** Graceful stop or dyno removed: close both sides with `code`. */
  shutdown(code: number, reason: string): void {
    if (this.client !== null) {
      this.endClient(code, reason);
      return;
    }
    // handshake in progress
    const up = this.upstream;
    if (up !== null && !this.finished) this.handshakeFailed(up, 'H13');
    else if (!this.finished) this.fail('H13');
  }

  private finish(status: number, code: HerokuCodeName | null): void {
    if (this.finished) return;
    this.finished = true;
    this.stopHandshakeTimer();
    this.host.webSockets.delete(this);
    const app = this.app;
    if (app === null) return;
    this.record(status, code);
    const end = performance.now();
    const connectMs = this.connectAt === 0 ? 0 : Math.round(this.connectAt - this.start);
    const serviceMs = this.acceptedAt === 0 ? Math.round(end - this.start) - connectMs : Math.round(this.acceptedAt - this.start) - connectMs;
    const line = formatAccessLine({
      method: this.method,
      path: this.logPath,
      host: this.hostHeader,
      requestId: this.requestId,
      fwd: this.fwd,
      dyno: this.dyno?.address ?? '',
      connectMs,
      serviceMs: Math.max(0, serviceMs),
      totalMs: Math.round(end - this.start),
      status,
      bytes: this.bytesToClient,
      protocol: this.protocol,
      code,
      canary: false,
    });
    this.host.accessLog.write(app.name, line, Date.now());
  }
}

function splitAddress(address: string): [string, number] {
  const colon = address.lastIndexOf(':');
  let host = address.slice(0, colon);
  if (host.startsWith('[')) host = host.slice(1, -1);
  return [host, Number(address.slice(colon + 1))];
}

/** Flat header list -> the object ws takes (repeated headers joined). */
function headerObject(flat: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) {
    const k = flat[i];
    if (DROP_WS.has(k)) continue;
    const v = flat[i + 1];
    const prev = out[k];
    out[k] = prev === undefined ? v : `${prev}${k === 'cookie' ? '; ' : ', '}${v}`;
  }
  return out;
}

/** Registers the WebSocket route on a listener's uWS app (next to `app.any('/*', …)`). */
export function attachWebSocketProxy(app: TemplatedApp, listener: ListenerInfo, host: WebSocketHost): void {
  app.ws<SessionRef>('/*', {
    compression: uWS.DISABLED,
    maxPayloadLength: MAX_MESSAGE,
    maxBackpressure: MAX_BACKPRESSURE,
    closeOnBackpressureLimit: 0,
    idleTimeout: 0,
    sendPingsAutomatically: false,

    upgrade: (res: HttpResponse, req: HttpRequest, context: us_socket_context_t) => {
      // everything from req now: it is gone after this callback
      const method = req.getCaseSensitiveMethod().toUpperCase();
      let url = req.getUrl();
      let query = req.getQuery() ?? '';
      scratch = [];
      req.forEach(collectHeader);
      const headers = scratch;
      // the same head checks as every request (request-handler.ts): framing, Host, control characters, sizes
      const facts = readClientHead(headers);
      const problem = facts.problem ?? targetProblem(url, query);
      if (problem) {
        refuse(res, problem, facts.requestId);
        return;
      }
      if (!PLAIN_TARGET.test(url)) url = encodeTarget(url);
      if (!PLAIN_TARGET.test(query)) query = encodeTarget(query);
      let key = '';
      let extensions = '';
      for (let i = 0; i < headers.length; i += 2) {
        const k = headers[i];
        if (k === 'sec-websocket-key') key = headers[i + 1];
        else if (k === 'sec-websocket-extensions') extensions = headers[i + 1];
      }
      const remote = Buffer.from(res.getRemoteAddressAsText()).toString('latin1');
      const fwd = facts.xff ? `${facts.xff}, ${remote}` : remote;
      const requestId = REQUEST_ID.test(facts.requestId) ? facts.requestId : randomUUID();
      const logPath = query ? `${url}?${query}` : url;
      const s = new WsSession(res, host, method, logPath, facts.host, requestId, fwd, listener.protocol);
      s.key = key;
      s.extensions = extensions;
      s.context = context;
      res.onAborted(s.onAborted);

      const table = s.table;
      const entry = table.hosts.get(facts.host) ?? table.hosts.get(normaliseHost(facts.host));
      if (entry === undefined || entry.internal !== listener.internal) {
        s.answer(404, '404 Not Found', null, 'No such app\n', null);
        return;
      }
      const path = normalisePath(url);
      const match = matchRoute(entry, path);
      if (match === null || match.app.internal !== listener.internal) {
        s.answer(404, '404 Not Found', null, 'No such route\n', null);
        return;
      }
      const appRoute = match.app;
      s.app = appRoute;
      if (host.webSockets.stopping) {
        s.fail('H13');
        return;
      }
      host.webSockets.add(s);
      s.upstreamPath = match.path + (query ? `?${query}` : '');

      const proceed = (extra: readonly [string, string][] | null, strip: ReadonlySet<string> | null): void => {
        if (s.res === null) return; // client gone while the filters ran
        if (appRoute.maintenance) {
          s.fail('H80');
          return;
        }
        if (appRoute.balancer.dynos.length === 0) {
          s.fail('H14');
          return;
        }
        s.upstreamHeaders = headerObject(buildUpstreamHeaders(headers, facts, listener, url, fwd, requestId, extra, strip));
        s.dispatch();
      };
      if (appRoute.filters.length === 0) {
        proceed(null, null);
        return;
      }
      runFilters(appRoute.filters, method, match.path, query, headers, (verdict, responseHeaders, extraUpstream, _ownsCors, strip) => {
        s.responseExtra = responseHeaders.length > 0 ? responseHeaders : null;
        if (verdict !== undefined) {
          const st = verdict.status;
          s.answer(st, `${st} ${STATUS_CODES[st] ?? 'Unknown'}`, verdict.headers ?? null, verdict.body ?? '', null);
          return;
        }
        proceed(extraUpstream.length > 0 ? extraUpstream : null, strip);
      });
    },

    open: (ws) => {
      ws.getUserData().session.opened(ws);
    },
    message: (ws, message, isBinary) => {
      ws.getUserData().session.fromClient(message, isBinary);
    },
    drain: (ws) => {
      ws.getUserData().session.drained(ws);
    },
    pong: (ws, message) => {
      ws.getUserData().session.pongFromClient(message);
    },
    close: (ws, code, message) => {
      ws.getUserData().session.clientClose(code, message);
    },
  });
}

