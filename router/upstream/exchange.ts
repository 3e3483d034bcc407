import { STATUS_CODES } from 'node:http';
import type { HttpResponse } from 'uWebSockets.js';
import type { Dispatcher } from 'undici';
import type { AppRoute, RouteTable } from '../routing/route-table.js';
import type { Dyno } from './dyno.js';
import type { BodySource } from './body-source.js';
import type { HerokuCodeName } from '../front/heroku-codes.js';
import { ERROR_BODY } from '../front/heroku-codes.js';
import { classifyUpstreamError, isNeverSent, isRequestRefused } from './upstream-errors.js';
import { copyResponseHeaders } from './response-headers.js';
import { formatAccessLine, ROUTER_CODES, type LogCode } from '../access-log/access-line.js';
import type { AccessLogSink } from '../access-log/access-log-sink.js';
import { untrackExchange } from './in-flight.js';

/** What an exchange needs from the worker that runs it. */
export interface ExchangeHost {
  readonly accessLog: AccessLogSink;
  /**
   * graceful stop in progress (the worker's flag): every response carries `Connection: close`,
   * so that clients on kept-alive connections reconnect (to another router) for their next request
   */
  readonly stopping?: boolean;
  /** called once per exchange when it is over (graceful stop counts these) */
  exchangeDone(ex: Exchange): void;
  /** outcome hook (metrics, canary counts): the status the client got, the H code (or `shutdown`) if any */
  recordOutcome?(ex: Exchange, status: number, code: LogCode | null, totalMs: number): void;
}

/** The body of the 503 a request gets when graceful stop's deadline passes before its response began. */
const SHUTDOWN_BODY = `${ROUTER_CODES.shutdown}\n`;

/** DESIGN.md: the methods a bodyless request may be retried with (once) after a failed connection */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
const STATUS_LINES = new Map<number, string>();
function statusLine(status: number, text: string): string {
  let s = STATUS_LINES.get(status);
  if (s === undefined) {
    s = `${status} ${STATUS_CODES[status] ?? (text || 'Unknown')}`;
    if (STATUS_LINES.size < 1000) STATUS_LINES.set(status, s);
  }
  return s;
}

/**
 * One request's trip to a dyno and back: picks dynos, retries as DESIGN.md allows, streams the
 * response to the client with backpressure, answers failures with Heroku codes, and writes the
 * router log line once at the end. It is itself the undici dispatch handler (old-style API,
 * the fast path): no closures per request beyond uWS's own callbacks.
 */
export class Exchange implements Dispatcher.DispatchHandler {
  // request, fixed at creation
  readonly res: HttpResponse;
  readonly host: ExchangeHost;
  readonly table: RouteTable;
  readonly method: string;
  /** original path + query, for the log line */
  readonly logPath: string;
  readonly hostHeader: string;
  readonly requestId: string;
  readonly fwd: string;
  readonly protocol: string;
  readonly start: number;

  // routing, set before dispatch
  app: AppRoute | null = null;
  canary = false;
  /** the canary board slot when the split was consulted for this request, else -1 */
  canarySlot = -1;
  upstreamPath = '';
  upstreamHeaders: string[] = [];
  responseExtra: readonly [string, string][] | null = null;
  /** a CORS filter applied: the dyno's own Access-Control-* response headers are dropped */
  ownsCors = false;
  body: BodySource | null = null;

  // progress
  private dyno: Dyno | null = null;
  /** dynos tried, as a bit set of indexes below 31, and a set for the others (apps with many dynos) */
  private tried = 0;
  private triedMore: Set<number> | null = null;
  private retried = false;
  private lastCode: HerokuCodeName = 'H10';
  private abortUpstream: ((err?: Error) => void) | null = null;
  private resumeUpstream: (() => void) | null = null;
  private connectAt = 0;
  private headersAt = 0;
  clientGone = false;
  private finished = false;
  private started = false; // status line written to the client
  private status = 0;
  private rawHeaders: Buffer[] | null = null;
  private contentLength = -1;
  private bytes = 0;
  private headOnly = false;
  private pending: Buffer | null = null;
  /** uWS has ended the response (tryEnd reached Content-Length): res must not be touched */
  private ended = false;
  private pendingFrom = 0;

  /** answered, cut or abandoned, and logged: nothing more is to be done with it */
  get isFinished(): boolean {
    return this.finished;
  }

  constructor(res: HttpResponse, host: ExchangeHost, table: RouteTable, method: string, logPath: string,
    hostHeader: string, requestId: string, fwd: string, protocol: string, start: number) {
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
    this.headOnly = method === 'HEAD';
  }

  /** uWS onAborted: the client went away. */
  readonly onClientAborted = (): void => {
    this.clientGone = true;
    this.body?.close();
    if (this.finished) return;
    if (this.abortUpstream) this.abortUpstream(new Error('client went away'));
    else if (!this.dyno) this.finish(499, 'H27');
    // otherwise onError follows the abort and finishes as H27
  };

  /** Sends the request to the next dyno of the app. */
  dispatch(): void {
    const app = this.app!;
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
    this.abortUpstream = null;
    const t = this.table.timeouts;
    try {
      dyno.pool.dispatch({
        path: this.upstreamPath,
        method: this.method,
        headers: this.upstreamHeaders,
        body: this.body ? this.body.stream() : null,
        headersTimeout: t.firstByteMs,
        bodyTimeout: t.idleMs,
      }, this);
    } catch (err) {
      this.onError(err as Error);
    }
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.clientGone || this.finished) {
      abort(new Error('client went away'));
      return;
    }
    this.abortUpstream = abort;
    if (this.connectAt === 0) this.connectAt = performance.now();
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (this.clientGone || this.finished) return false;
    this.headersAt = performance.now();
    this.resumeUpstream = resume;
    if (statusCode < 200) return true; // interim responses are not forwarded
    this.status = statusCode;
    this.rawHeaders = rawHeaders;
    this.statusText = statusText;
    this.res.onWritable(this.onWritable);
    return true;
  }

  private statusText = '';

  /** Status line and headers, written once, corked with the first bytes of the body. */
  private writeHead(): void {
    this.started = true;
    const res = this.res;
    res.writeStatus(statusLine(this.status, this.statusText));
    this.contentLength = copyResponseHeaders(res, this.rawHeaders!, this.ownsCors);
    res.writeHeader('x-request-id', this.requestId);
    res.writeHeader('via', '1.1 edgeplane');
    // uWS cannot close after a streamed body (end(…, true) would write into it): the header asks
    // the client to close, and the worker closes what is left once the drain is over
    if (this.host.stopping === true) res.writeHeader('connection', 'close');
    const extra = this.responseExtra;
    if (extra !== null) for (let i = 0; i < extra.length; i++) res.writeHeader(extra[i][0], extra[i][1]);
    this.rawHeaders = null;
  }

  onData(chunk: Buffer): boolean {
    if (this.clientGone || this.finished) return true;
    this.bytes += chunk.length;
    if (this.headOnly || this.status === 204 || this.status === 304) return true;
    let ok = true;
    this.res.cork(() => {
      if (!this.started) this.writeHead();
      if (this.contentLength >= 0) {
        const from = this.res.getWriteOffset();
        const [sent, done] = this.res.tryEnd(chunk, this.contentLength);
        if (done) this.ended = true;
        if (!sent) {
          this.pending = chunk;
          this.pendingFrom = from;
          ok = false;
        }
      } else {
        ok = this.res.write(chunk);
      }
    });
    return ok;
  }

  /** uWS: the client can take more. Resume the pending chunk, then the dyno. */
  private readonly onWritable = (offset: number): boolean => {
    if (this.clientGone || this.finished) return true;
    const pending = this.pending;
    if (pending !== null) {
      const [sent, done] = this.res.tryEnd(pending.subarray(offset - this.pendingFrom), this.contentLength);
      if (done) this.ended = true;
      if (!sent) return false;
      this.pending = null;
    }
    this.resumeUpstream?.();
    return true;
  };

  onComplete(): void {
    // the dyno's whole response arrived well-formed: only now is it a success (a valid head
    // followed by a broken body is a failure, and must not reset the dyno's ejection backoff)
    this.dyno?.succeed();
    if (this.clientGone) {
      this.finish(499, 'H27');
      return;
    }
    if (this.finished) return;
    const res = this.res;
    if (this.ended) {
      this.finish(this.status, null);
      return;
    }
    res.cork(() => {
      if (!this.started) this.writeHead();
      if (this.headOnly || this.status === 204 || this.status === 304) {
        if (this.contentLength >= 0 && this.status !== 204) res.endWithoutBody(this.contentLength);
        else res.endWithoutBody();
      } else if (this.contentLength < 0) {
        res.end();
      } else if (this.bytes === 0) {
        res.end();
      }
      // with a content-length, tryEnd has already ended the response at its last byte
    });
    this.finish(this.status, null);
  }

  onError(err: Error): void {
    if (this.finished) return;
    if (this.clientGone) {
      this.finish(499, 'H27');
      return;
    }
    if (this.status === 0 && isRequestRefused(err)) {
      // undici would not send what the client sent (the router's own checks should have caught
      // it): the client's fault, never the dyno's, so no ejection and no retry
      this.answer(400, null, 'Bad request\n', this.body !== null);
      return;
    }
    const code = classifyUpstreamError(err);
    const now = performance.now();
    const dyno = this.dyno!;
    if (this.status === 0) {
      if (isNeverSent(code) && (this.body === null || !this.body.touched)) {
        // never reached the dyno: try the next one
        dyno.fail(now);
        if (this.lastCode !== 'H19') this.lastCode = code;
        this.dispatch();
        return;
      }
      if (code === 'H13' || code === 'H17') dyno.fail(now);
      if (code === 'H13' && !this.retried && this.body === null && IDEMPOTENT.has(this.method)) {
        this.retried = true;
        this.lastCode = 'H13';
        this.dispatch();
        return;
      }
      this.fail(isNeverSent(code) ? this.lastCode : code);
      return;
    }
    // the dyno sent a status line and headers, then failed (bad chunk, short body, idle, closed)
    if (code === 'H13' || code === 'H17') dyno.fail(now);
    if (!this.started) {
      // nothing has reached the client yet (the head waits for the first body byte): answer
      // like any failure. Not retried: the dyno received the request and began answering.
      this.status = 0;
      this.rawHeaders = null;
      this.bytes = 0;
      this.fail(code === 'H12' ? 'H15' : code);
      return;
    }
    // the response had started: all we can do is cut the client connection
    if (!this.ended) this.res.cork(() => this.res.close());
    this.finish(this.status, code === 'H12' ? 'H15' : code);
  }

  /** Answers a failure with a 503 and the code's short body. */
  fail(code: HerokuCodeName): void {
    this.fail503(code, ERROR_BODY[code], this.host.stopping === true);
  }

  private fail503(code: LogCode, body: string, close: boolean): void {
    if (this.finished || this.clientGone) return;
    const extra = this.responseExtra;
    this.res.cork(() => {
      this.res.writeStatus('503 Service Unavailable')
        .writeHeader('content-type', 'text/plain; charset=utf-8')
        .writeHeader('x-request-id', this.requestId)
        .writeHeader('via', '1.1 edgeplane');
      if (extra !== null) for (let i = 0; i < extra.length; i++) this.res.writeHeader(extra[i][0], extra[i][1]);
      this.res.end(body, close);
    });
    this.finish(503, code);
  }

  /**
   * Graceful stop's deadline passed with this request in flight (in-flight.ts cutExchanges): 503
   * and the connection closed when nothing of the response was sent yet, else the connection is
   * cut; logged `code=shutdown`. The dyno's request is aborted; the dyno is not blamed.
   */
  cutForShutdown(): void {
    if (this.finished || this.clientGone) return;
    const abort = this.abortUpstream;
    if (!this.started) {
      this.bytes = 0;
      this.fail503('shutdown', SHUTDOWN_BODY, true);
    } else {
      // logged first: closing may run onAborted at once, which must not turn this into an H27
      this.finish(this.status, 'shutdown');
      if (!this.ended) this.res.cork(() => this.res.close());
    }
    if (abort) abort(new Error('router stopping'));
  }

  /** Answers without a dyno (404, 413, filter answers). Counted and logged like any request. */
  answer(status: number, headers: readonly [string, string][] | null, body: string, close = false): void {
    if (this.finished || this.clientGone) return;
    const extra = this.responseExtra;
    this.res.cork(() => {
      this.res.writeStatus(statusLine(status, '')).writeHeader('x-request-id', this.requestId).writeHeader('via', '1.1 edgeplane');
      if (headers) for (let i = 0; i < headers.length; i++) this.res.writeHeader(headers[i][0], headers[i][1]);
      if (extra !== null) for (let i = 0; i < extra.length; i++) this.res.writeHeader(extra[i][0], extra[i][1]);
      if (body.length > 0 && !headers?.some((h) => h[0] === 'content-type')) this.res.writeHeader('content-type', 'text/plain; charset=utf-8');
      const closing = close || this.host.stopping === true;
      if (this.headOnly) this.res.endWithoutBody(Buffer.byteLength(body), closing);
      else this.res.end(body, closing);
    });
    this.finish(status, null);
  }

  /** The request body grew past limits.maxBodyBytes while streaming. */
  bodyTooLarge(): void {
    if (this.finished) return;
    // answer first: the abort below reports an upstream error, which must not turn this into a 503
    const abort = this.abortUpstream;
    if (!this.started) {
      this.answer(413, null, 'Request body too large\n', true);
    } else {
      this.res.cork(() => this.res.close());
      this.finish(this.status, null);
    }
    if (abort) abort(new Error('request body too large'));
  }

  private finish(status: number, code: LogCode | null): void {
    if (this.finished) return;
    this.finished = true;
    untrackExchange(this);
    this.body?.close();
    const end = performance.now();
    const app = this.app;
    if (app !== null) {
      const connectMs = this.connectAt === 0 ? 0 : Math.round(this.connectAt - this.start);
      const serviceMs = this.headersAt === 0 ? Math.round(end - this.start) - connectMs : Math.round(this.headersAt - this.start) - connectMs;
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
        bytes: this.bytes,
        protocol: this.protocol,
        code,
        canary: this.canary,
      });
      this.host.accessLog.write(app.name, line, Date.now());
      this.host.recordOutcome?.(this, status, code, end - this.start);
    }
    this.host.exchangeDone(this);
  }
}
