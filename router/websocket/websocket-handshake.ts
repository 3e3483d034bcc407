import type { IncomingMessage } from 'node:http';
import type { HttpResponse, us_socket_context_t } from 'uWebSockets.js';
import { WebSocket as DynoSocket } from 'ws';
import type { RouteTable } from '../routing/route-table.js';
import { ERROR_BODY, type HerokuCodeName } from '../front/heroku-codes.js';
import { RequestContext, statusLine, type ContextHost } from '../front/request-context.js';
import { classifyUpstreamError } from '../upstream/upstream-errors.js';
import { afterFailedAttempt } from '../upstream/dyno-attempts.js';
import { relayResponseHeaders } from '../upstream/response-headers.js';
import { dynoHandshakeHeaders, openDynoSocket } from './dyno-socket.js';
import { WebSocketSession } from './websocket-session.js';
import type { LogCode } from '../access-log/access-line.js';
import type { WebSocketRegistry } from './websocket-registry.js';

/** What a WebSocket handshake needs from the worker that runs it. */
export interface WebSocketHost extends ContextHost {
  /** the open WebSockets (and handshakes in progress): closed on stop, or when their dyno leaves the config */
  readonly webSockets: WebSocketRegistry;
}

/** Also not relayed from the dyno's 101: the handshake between the client and uWS is uWS's own. */
const NOT_FROM_101: ReadonlySet<string> = new Set(['sec-websocket-accept', 'sec-websocket-protocol', 'sec-websocket-extensions']);

function ignore(): void { /* a dyno socket being let go may still report an error */ }

/**
 * A WebSocket upgrade after the front has routed it (host, listener, path, filters, forwarding
 * headers: router/front/request-front.ts), until the client is upgraded or answered. The router
 * opens its own `ws` connection to a dyno with the forwarding headers; only when the dyno has
 * accepted (101) is the client upgraded, with the sub-protocol the dyno chose and the dyno's
 * other 101 headers (Set-Cookie, its Via, then the router's). A dyno answering anything but 101
 * has its response relayed as it is (e.g. a 401 from the app); a dyno that cannot be reached is
 * handled by the dyno-attempt policy, as for HTTP (next dyno, one retry, 503 with the code).
 * The open WebSocket is a WebSocketSession; this context writes its access line when it ends.
 */
export class WebSocketHandshake extends RequestContext {
  declare readonly host: WebSocketHost;
  private readonly key: string;
  private readonly extensions: string;
  private context: us_socket_context_t | null;
  /** the client's response is written (answered, relaying the dyno's refusal, or upgraded) */
  private responded = false;
  /** the status relayed from a dyno that refused the upgrade */
  private relayed = 0;
  upstream: DynoSocket | null = null;
  /** the open WebSocket, once the dyno has accepted */
  session: WebSocketSession | null = null;
  private dynoHeaders: Record<string, string> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private chosenProtocol = '';
  /** the dyno's 101 headers (Set-Cookie and the like reach the client) */
  private acceptHeaders: string[] = [];

  constructor(res: HttpResponse, host: WebSocketHost, table: RouteTable, method: string, logPath: string, hostHeader: string,
    requestId: string, fwd: string, protocol: string, start: number, headers: readonly string[], context: us_socket_context_t) {
    super(res, host, table, method, logPath, hostHeader, requestId, fwd, protocol, start);
    let key = '';
    let extensions = '';
    for (let i = 0; i < headers.length; i += 2) {
      const k = headers[i];
      if (k === 'sec-websocket-key') key = headers[i + 1];
      else if (k === 'sec-websocket-extensions') extensions = headers[i + 1];
    }
    this.key = key;
    this.extensions = extensions;
    this.context = context;
  }

  /** the dyno socket is not closed yet */
  get dynoOpen(): boolean {
    return this.upstream !== null && this.upstream.readyState !== DynoSocket.CLOSED;
  }

  /** uWS onAborted: the client left before the upgrade (or during a relayed refusal). */
  readonly onClientAborted = (): void => {
    this.clientGone = true;
    if (this.finished) return;
    this.stopTimer();
    if (this.upstream !== null) this.letGo(this.upstream);
    this.finish(499, 'H27');
  };

  admit(): boolean {
    if (this.host.webSockets.admit(this)) return true;
    this.fail('H13'); // stopping: no new WebSockets
    return false;
  }

  answer(status: number, headers: readonly [string, string][] | null, body: string, close: boolean, code: LogCode | null = null): void {
    this.respond(status, headers, body, close, code);
  }

  fail(code: HerokuCodeName): void {
    this.respond(503, null, ERROR_BODY[code], false, code);
  }

  private respond(status: number, headers: readonly [string, string][] | null, body: string, close: boolean, code: LogCode | null): void {
    if (this.finished || this.clientGone || this.responded) return;
    this.responded = true;
    const res = this.res;
    res.cork(() => {
      res.writeStatus(statusLine(status));
      this.writeRouterHeaders(res);
      if (headers) for (const [k, v] of headers) res.writeHeader(k, v);
      this.writeExtraHeaders(res);
      if (body.length > 0 && !headers?.some((h) => h[0] === 'content-type')) res.writeHeader('content-type', 'text/plain; charset=utf-8');
      res.end(body, close);
    });
    this.finish(status, code);
  }

  /** Opens the dyno side on the next dyno of the app. */
  dispatch(): void {
    if (this.host.webSockets.stopping) {
      this.fail('H13');
      return;
    }
    const dyno = this.nextDyno(performance.now());
    if (dyno === null) {
      this.fail(this.lastCode);
      return;
    }
    this.dynoHeaders ??= dynoHandshakeHeaders(this.upstreamHeaders);
    const up = openDynoSocket(dyno.address, this.upstreamPath, this.dynoHeaders, this.table.timeouts.connectMs, this.onConnected);
    this.upstream = up;
    this.stopTimer();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.attemptFailed(up, 'H12');
    }, this.table.timeouts.firstByteMs);
    // the dyno's 101 arrived: ws checks it next, and reports a 101 it refuses (Upgrade or
    // Sec-WebSocket-Accept wrong, an extension nobody asked for) as an error without a code
    let answered101 = false;
    up.on('upgrade', (res: IncomingMessage) => {
      answered101 = true;
      // the dyno may decline every offered sub-protocol (RFC 6455); ws would refuse that, so the
      // router takes the dyno's answer itself and lets the client's WebSocket judge it
      const p = res.headers['sec-websocket-protocol'];
      this.chosenProtocol = typeof p === 'string' ? p : '';
      delete res.headers['sec-websocket-protocol'];
      this.acceptHeaders = res.rawHeaders;
    });
    up.on('unexpected-response', (_req, res: IncomingMessage) => this.relayRefusal(up, res));
    up.on('open', () => this.upgradeClient(up));
    up.on('error', (err: Error) => {
      const code = answered101 && (err as NodeJS.ErrnoException).code === undefined ? 'H17' : classifyUpstreamError(err);
      this.attemptFailed(up, code);
    });
  }

  private readonly onConnected = (): void => {
    if (this.connectAt === 0) this.connectAt = performance.now();
  };

  private stopTimer(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  /** Stops listening to a dyno socket and closes it at once. */
  private letGo(up: DynoSocket): void {
    up.removeAllListeners();
    up.on('error', ignore);
    up.terminate();
  }

  /** The attempt on this dyno failed before its answer: the dyno-attempt policy decides. */
  private attemptFailed(up: DynoSocket, code: HerokuCodeName): void {
    if (up !== this.upstream || this.finished || this.responded) return;
    this.stopTimer();
    this.letGo(up);
    const answer = afterFailedAttempt(this, this.dyno!, code, this.method, true, false, performance.now());
    if (answer === null) this.dispatch();
    else this.fail(answer);
  }

  /** The dyno answered the handshake with something else than 101: the client gets that answer. */
  private relayRefusal(up: DynoSocket, dynoRes: IncomingMessage): void {
    if (up !== this.upstream) return;
    this.stopTimer();
    if (this.clientGone || this.finished) {
      dynoRes.destroy();
      return;
    }
    const now = performance.now();
    this.respondedAt = now;
    this.dyno!.succeed();
    const status = dynoRes.statusCode ?? 502;
    this.relayed = status;
    this.responded = true;
    this.record(status, null, now);
    const res = this.res;
    res.cork(() => {
      res.writeStatus(`${status} ${dynoRes.statusMessage || 'Unknown'}`);
      relayResponseHeaders(res, dynoRes.rawHeaders, this.ownsCors);
      this.writeRouterHeaders(res);
      this.writeExtraHeaders(res);
    });
    dynoRes.on('data', (chunk: Buffer) => {
      if (this.clientGone || this.finished) return;
      this.bytes += chunk.length;
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
      if (!this.clientGone && !this.finished) res.cork(() => res.end());
      this.letGo(up);
      this.finish(status, null);
    });
    dynoRes.on('error', () => this.cutRelay(up, 'H13'));
  }

  /** A relayed refusal cannot go on: logged, then the client connection is cut. */
  private cutRelay(up: DynoSocket, code: HerokuCodeName): void {
    this.letGo(up);
    if (this.finished) return;
    const gone = this.clientGone;
    this.finish(this.relayed, code); // first: closing may run onAborted at once
    if (!gone) this.res.cork(() => this.res.close());
  }

  /** The dyno accepted: the client is upgraded, the session takes over. */
  private upgradeClient(up: DynoSocket): void {
    if (up !== this.upstream) return;
    this.stopTimer();
    const now = performance.now();
    this.respondedAt = now;
    this.dyno!.succeed();
    if (this.clientGone || this.finished) {
      this.letGo(up);
      return;
    }
    // hold the dyno until the client is open; frames already parsed wait in the session
    up.pause();
    this.responded = true;
    this.record(101, null, now);
    const session = new WebSocketSession(this, up);
    this.session = session;
    const res = this.res;
    res.cork(() => {
      res.writeStatus('101 Switching Protocols');
      relayResponseHeaders(res, this.acceptHeaders, this.ownsCors, NOT_FROM_101);
      this.writeRouterHeaders(res);
      this.writeExtraHeaders(res);
      res.upgrade({ session }, this.key, this.chosenProtocol, this.extensions, this.context!);
    });
    this.context = null;
  }

  /** The session is over on the client's side (WebSocketSession): logged as 101. */
  sessionEnded(): void {
    this.finish(101, null);
  }

  /**
   * Graceful stop or its dyno removed: an open WebSocket is closed with `code`; a handshake in
   * progress is given up (503 H13; the dyno is not blamed); a relayed refusal is cut.
   */
  shutdown(code: number, reason: string): void {
    if (this.session !== null) {
      this.session.end(code, reason);
      return;
    }
    if (this.finished) return;
    const up = this.upstream;
    if (this.responded && up !== null) {
      this.cutRelay(up, 'H13');
      return;
    }
    this.stopTimer();
    if (up !== null) this.letGo(up);
    this.fail('H13');
  }

  protected release(): void {
    this.stopTimer();
    this.host.webSockets.release(this);
  }
}
