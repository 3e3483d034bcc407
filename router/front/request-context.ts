import { STATUS_CODES } from 'node:http';
import type { HttpResponse } from 'uWebSockets.js';
import type { AppRoute, RouteTable } from '../routing/route-table.js';
import type { HerokuCodeName } from './heroku-codes.js';
import type { ClientHeaderFacts } from './head-checks.js';
import { VIA } from './request-id.js';
import type { Dyno } from '../upstream/dyno.js';
import { nextDyno, type AttemptState } from '../upstream/dyno-attempts.js';
import { requestLine, type LogCode } from '../access-log/access-line.js';
import type { AccessLogSink } from '../access-log/access-log-sink.js';
import type { BodyRead } from '../filters/filter.js';

const NO_BODY = Buffer.alloc(0);
/** before the front sets the forwarding headers (never written to) */
const NO_HEADERS: string[] = [];

/** What every routed request needs from the worker that runs it. */
export interface ContextHost {
  /** the current table; a request keeps the table it started with */
  readonly table: RouteTable;
  readonly accessLog: AccessLogSink;
  /**
   * graceful stop in progress (the worker's flag): every HTTP response carries `Connection: close`,
   * so that clients on kept-alive connections reconnect (to another router) for their next request
   */
  readonly stopping?: boolean;
  /** whether this request goes to the app's canary (and records the pick: `ctx.canarySlot`) */
  pickCanary?(ctx: RequestContext): boolean;
  /**
   * outcome hook (metrics, canary counts), once per routed request: the status the client got
   * (101 for an upgraded WebSocket), the code if any, the time to that answer
   */
  recordOutcome?(ctx: RequestContext, status: number, code: LogCode | null, totalMs: number): void;
}

const STATUS_LINES = new Map<number, string>();

/** `404 Not Found`, cached per status; `text` (the dyno's reason) for a status Node does not know. */
export function statusLine(status: number, text = ''): string {
  let s = STATUS_LINES.get(status);
  if (s === undefined) {
    s = `${status} ${STATUS_CODES[status] ?? (text || 'Unknown')}`;
    if (STATUS_LINES.size < 1000) STATUS_LINES.set(status, s);
  }
  return s;
}

/**
 * One request as the front routed it (router/front/request-front.ts: head checks, route, request
 * id, forwarding headers, filters), whatever carries it to the dyno: an HTTP exchange
 * (upstream/exchange.ts) or a WebSocket handshake (websocket/websocket-handshake.ts) extends it.
 * It owns what both share: the request's facts, the route, the dyno-attempt state, the last
 * routing steps (maintenance, canary split, no dynos), the router's response headers and the one
 * access line at the end. A subclass, not a second object: nothing more is allocated per request.
 */
export abstract class RequestContext implements AttemptState {
  // routing, set by the front before proceed()
  app: AppRoute | null = null;
  canary = false;
  /** the canary board slot when the split was consulted for this request, else -1 */
  canarySlot = -1;
  /** the rewritten path and the query, as the dyno gets it */
  upstreamPath = '';
  /** the forwarding headers, flat (buildUpstreamHeaders) */
  upstreamHeaders: string[] = NO_HEADERS;
  /** headers the filters add to the response (CORS, ...) */
  responseExtra: readonly [string, string][] | null = null;
  /** a CORS filter applied: the dyno's own Access-Control-* response headers are dropped */
  ownsCors = false;

  // dyno attempts (dyno-attempts.ts)
  tried = 0;
  triedMore: Set<number> | null = null;
  retried = false;
  lastCode: HerokuCodeName = 'H10';
  dyno: Dyno | null = null;

  // for the log line (requestLine)
  /** performance.now() when the first dyno connection was made, 0 if never */
  connectAt = 0;
  /** performance.now() when the dyno's response head arrived (the 101 for a WebSocket), 0 if never */
  respondedAt = 0;
  /** response bytes from the dyno to the client (a WebSocket's frames from the dyno) */
  bytes = 0;

  /** uWS onAborted ran: the client went away */
  clientGone = false;
  protected finished = false;
  private recorded = false;

  // the request's facts (set by reuse(), which the constructor calls)
  res!: HttpResponse;
  host!: ContextHost;
  table!: RouteTable;
  method!: string;
  /** the original path and query, for the log line (a key keyauth hid from the dyno is taken out of it by the front) */
  logPath!: string;
  hostHeader!: string;
  requestId!: string;
  fwd!: string;
  protocol!: string;
  /** performance.now() when the request head arrived */
  start!: number;
  /**
   * something outside the request's own callbacks keeps a reference to it (the app's filters, which
   * may answer later): never reused for another request (exchange.ts pools the others)
   */
  held = false;

  /** the table is the one the request started with */
  constructor(res: HttpResponse, host: ContextHost, table: RouteTable, method: string, logPath: string, hostHeader: string,
    requestId: string, fwd: string, protocol: string, start: number) {
    this.reuse(res, host, table, method, logPath, hostHeader, requestId, fwd, protocol, start);
  }

  /**
   * The request's facts set, every field of a previous request's state back to its initial value
   * (the constructor, and exchange.ts's pool for an object used again).
   */
  protected reuse(res: HttpResponse, host: ContextHost, table: RouteTable, method: string, logPath: string, hostHeader: string,
    requestId: string, fwd: string, protocol: string, start: number): void {
    this.res = res;
    this.host = host;
    this.table = table;
    this.method = method;
    this.logPath = logPath;
    this.hostHeader = hostHeader;
    this.requestId = requestId;
    this.fwd = fwd;
    this.protocol = protocol;
    this.start = start;
    this.held = false;
    this.app = null;
    this.canary = false;
    this.canarySlot = -1;
    this.upstreamPath = '';
    this.upstreamHeaders = NO_HEADERS;
    this.responseExtra = null;
    this.ownsCors = false;
    this.tried = 0;
    this.triedMore = null;
    this.retried = false;
    this.lastCode = 'H10';
    this.dyno = null;
    this.connectAt = 0;
    this.respondedAt = 0;
    this.bytes = 0;
    this.clientGone = false;
    this.finished = false;
    this.recorded = false;
  }

  /** answered, cut or abandoned, and logged: nothing more is to be done with it */
  get isFinished(): boolean {
    return this.finished;
  }

  /** for uWS onAborted (made once per object by the subclass) */
  abstract readonly onClientAborted: () => void;

  /**
   * The route is known (`app` set): join the worker's set of live requests (graceful stop) and
   * take the request body. False when the request was answered instead (stopping, 413).
   */
  abstract admit(facts: ClientHeaderFacts): boolean;

  /**
   * Answers without a dyno (404, 413, filter answers); `close`: the connection closes after it;
   * `code`: a filter refusal's code for the access line.
   */
  abstract answer(status: number, headers: readonly [string, string][] | null, body: string, close: boolean, code?: LogCode | null): void;

  /**
   * The request body, whole, up to `cap` bytes, before any dyno gets it (the filters' bounded
   * copy: openapi `validate_body`); the bytes stay the body the dyno then receives. No body: empty.
   */
  readBody(_cap: number): BodyRead | Promise<BodyRead> {
    return NO_BODY;
  }

  /** Answers a failure: 503 with the code's short body, logged with the code. */
  abstract fail(code: HerokuCodeName): void;

  /** Sends the request to the next dyno of the app (nextDyno()), or answers lastCode when none is left. */
  abstract dispatch(): void;

  /** Leaves the worker's set of live requests and lets go of what the request holds (once, from finish). */
  protected abstract release(): void;

  /** The last routing steps, after the filters: maintenance (H80), the canary split, no dynos (H14), then a dyno. */
  proceed(): void {
    if (this.clientGone || this.finished) return;
    let app = this.app!;
    if (app.maintenance) {
      this.fail('H80');
      return;
    }
    if (app.canary !== null && this.host.pickCanary?.(this) === true) {
      app = app.canary.app;
      this.app = app;
      this.canary = true;
    }
    if (app.balancer.dynos.length === 0) {
      this.fail('H14');
      return;
    }
    this.dispatch();
  }

  /** The next dyno under the dyno-attempt policy (set as `dyno`), null when every one was tried. */
  protected nextDyno(now: number): Dyno | null {
    const dyno = nextDyno(this, this.app!.balancer, now);
    if (dyno !== null) this.dyno = dyno;
    return dyno;
  }

  /** What the router writes on every response it sends or relays: the request id, Via (after the dyno's own). */
  protected writeRouterHeaders(res: HttpResponse): void {
    res.writeHeader('x-request-id', this.requestId);
    res.writeHeader('via', VIA);
  }

  /** The filters' response headers (CORS and the like), if any. */
  protected writeExtraHeaders(res: HttpResponse): void {
    const extra = this.responseExtra;
    if (extra !== null) for (let i = 0; i < extra.length; i++) res.writeHeader(extra[i][0], extra[i][1]);
  }

  /** The outcome for metrics and canary counts, once (a WebSocket's at its handshake, before its end). */
  protected record(status: number, code: LogCode | null, now: number): void {
    if (this.recorded || this.app === null) return;
    this.recorded = true;
    this.host.recordOutcome?.(this, status, code, now - this.start);
  }

  /** Over: released, logged (routed requests only), recorded. Once. */
  protected finish(status: number, code: LogCode | null): void {
    if (this.finished) return;
    this.finished = true;
    this.release();
    const app = this.app;
    if (app === null) return; // answered before routing: not counted, not logged
    const end = performance.now();
    this.host.accessLog.write(app.name, requestLine(this, status, code, end), Date.now());
    this.record(status, code, end);
  }
}
