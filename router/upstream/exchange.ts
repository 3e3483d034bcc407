import type { HttpResponse } from 'uWebSockets.js';
import type { Dispatcher } from 'undici';
import type { RouteTable } from '../routing/route-table.js';
import { ERROR_BODY, type HerokuCodeName } from '../front/heroku-codes.js';
import type { ClientHeaderFacts } from '../front/head-checks.js';
import { RequestContext, statusLine, type ContextHost } from '../front/request-context.js';
import { BodySource } from './body-source.js';
import { classifyUpstreamError, isRequestRefused } from './upstream-errors.js';
import { afterBrokenResponse, afterFailedAttempt } from './dyno-attempts.js';
import { copyResponseHeaders } from './response-headers.js';
import type { InFlight } from './in-flight.js';
import { ROUTER_CODES, type LogCode } from '../access-log/access-line.js';
import { LingeringClose } from '../front/lingering-close.js';
import type { BodyRead } from '../filters/filter.js';
import type { UpstreamDispatchOptions } from './h1/dispatch-contract.js';

/** What an exchange needs from the worker that runs it. */
export interface ExchangeHost extends ContextHost {
  /** the exchanges in flight (graceful stop waits for them, then cuts them) */
  readonly inFlight: InFlight;
}

/** The body of the 503 a request gets when graceful stop's deadline passes before its response began. */
const SHUTDOWN_BODY = `${ROUTER_CODES.shutdown}\n`;
const TOO_LARGE_BODY = 'Request body too large\n';

/**
 * One HTTP request's trip to a dyno and back, after the front has routed it: tries dynos as the
 * dyno-attempt policy says (dyno-attempts.ts), streams the request body and the response with
 * backpressure, answers failures with Heroku codes; the request context writes the log line
 * once at the end. It is itself the upstream dispatch handler (old-style API, the fast path):
 * no closures per request beyond uWS's own callbacks.
 */
export class Exchange extends RequestContext implements Dispatcher.DispatchHandler {
  declare readonly host: ExchangeHost;
  body: BodySource | null = null;

  // progress
  private abortUpstream: ((err?: Error) => void) | null = null;
  private resumeUpstream: (() => void) | null = null;
  private started = false; // status line written to the client
  private status = 0;
  private statusText = '';
  private rawHeaders: Buffer[] | null = null;
  private contentLength = -1;
  private headOnly: boolean;
  private pending: Buffer | null = null;
  /** uWS has ended the response (tryEnd reached Content-Length): res must not be touched */
  private ended = false;
  private pendingFrom = 0;
  /** uWS is done with the response (ended, closed or aborted): it calls none of this object's handlers again */
  private resDone = false;
  /** the upstream client has called onComplete or onError for the last dispatch (it calls nothing more) */
  private upstreamDone = true;
  /** InFlight's bookkeeping */
  inFlightSlot = -1;
  /** the chunk onData hands to the corked write (writeChunkCorked), and what the write said */
  private chunk: Buffer | null = null;
  private chunkOk = true;
  /**
   * the upstream client's request object for this exchange (UpstreamHandler.upstreamSlot): kept
   * across its attempts and its uses from the pool, never touched here
   */
  upstreamSlot: unknown = null;
  /** the dispatch options, one object per exchange: each attempt sets every field (one dispatch at a time) */
  private readonly dispatchOptions: UpstreamDispatchOptions = {
    path: '', method: '', headers: null, body: null, headersTimeout: 0, bodyTimeout: 0,
  };

  constructor(res: HttpResponse, host: ExchangeHost, table: RouteTable, method: string, logPath: string,
    hostHeader: string, requestId: string, fwd: string, protocol: string, start: number) {
    super(res, host, table, method, logPath, hostHeader, requestId, fwd, protocol, start);
    this.headOnly = method === 'HEAD';
  }

  /**
   * An exchange for a new request: a pooled one when there is one (its handlers were bound once,
   * nothing is allocated per request), else a new one. An exchange goes back to the pool at its
   * finish only when nothing can call it again: uWS is done with its response, the upstream
   * client has reported the end of its last dispatch, it has no request body and no filter
   * holds it (see finish below).
   */
  static take(res: HttpResponse, host: ExchangeHost, table: RouteTable, method: string, logPath: string,
    hostHeader: string, requestId: string, fwd: string, protocol: string, start: number): Exchange {
    const x = POOL.pop();
    if (x === undefined) return new Exchange(res, host, table, method, logPath, hostHeader, requestId, fwd, protocol, start);
    x.reuseFor(res, host, table, method, logPath, hostHeader, requestId, fwd, protocol, start);
    return x;
  }

  private reuseFor(res: HttpResponse, host: ExchangeHost, table: RouteTable, method: string, logPath: string,
    hostHeader: string, requestId: string, fwd: string, protocol: string, start: number): void {
    this.reuse(res, host, table, method, logPath, hostHeader, requestId, fwd, protocol, start);
    this.body = null;
    this.abortUpstream = null;
    this.resumeUpstream = null;
    this.started = false;
    this.status = 0;
    this.statusText = '';
    this.rawHeaders = null;
    this.contentLength = -1;
    this.headOnly = method === 'HEAD';
    this.pending = null;
    this.ended = false;
    this.pendingFrom = 0;
    this.resDone = false;
    this.upstreamDone = true;
    this.inFlightSlot = -1;
    this.chunk = null;
    this.chunkOk = true;
  }

  /** uWS onAborted: the client went away. */
  readonly onClientAborted = (): void => {
    this.clientGone = true;
    this.resDone = true;
    this.body?.close();
    if (this.finished) return;
    if (this.abortUpstream) this.abortUpstream(new Error('client went away'));
    else if (!this.dyno) this.finish(499, 'H27');
    // otherwise onError follows the abort and finishes as H27
  };

  admit(facts: ClientHeaderFacts): boolean {
    if (!this.host.inFlight.admit(this)) {
      // graceful stop's deadline has passed (a request on a kept-alive connection just before the close)
      this.cutForShutdown();
      return false;
    }
    const table = this.table;
    if (facts.contentLength > table.maxBodyBytes) {
      this.answer(413, null, TOO_LARGE_BODY, true);
      return false;
    }
    if (facts.contentLength > 0 || facts.chunked) {
      this.body = new BodySource(this.res, table.maxBodyBytes, () => this.bodyTooLarge(), facts.chunked);
    }
    return true;
  }

  dispatch(): void {
    const dyno = this.nextDyno(performance.now());
    if (dyno === null) {
      this.fail(this.lastCode);
      return;
    }
    this.abortUpstream = null;
    this.upstreamDone = false;
    const t = this.table.timeouts;
    const o = this.dispatchOptions;
    o.path = this.upstreamPath;
    o.method = this.method;
    o.headers = this.upstreamHeaders;
    o.body = this.body ? this.body.stream() : null;
    o.headersTimeout = t.firstByteMs;
    o.bodyTimeout = t.idleMs;
    try {
      dyno.pool.dispatch(o, this);
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
    this.respondedAt = performance.now();
    this.resumeUpstream = resume;
    if (statusCode < 200) return true; // interim responses are not forwarded
    this.status = statusCode;
    this.rawHeaders = rawHeaders;
    this.statusText = statusText;
    // onWritable is registered only when a write leaves something behind (writeChunk): uWS calls
    // it once the socket drained, never before the turn that registered it ends
    return true;
  }

  /** Status line and headers, written once, corked with the first bytes of the body. */
  private writeHead(): void {
    this.started = true;
    const res = this.res;
    res.writeStatus(statusLine(this.status, this.statusText));
    this.contentLength = copyResponseHeaders(res, this.rawHeaders!, this.ownsCors);
    this.writeRouterHeaders(res);
    // uWS cannot close after a streamed body (end(…, true) would write into it): the header asks
    // the client to close, and the worker closes what is left once the drain is over
    if (this.host.stopping === true) res.writeHeader('connection', 'close');
    this.writeExtraHeaders(res);
    this.rawHeaders = null;
  }

  onData(chunk: Buffer): boolean {
    if (this.clientGone || this.finished) return true;
    this.bytes += chunk.length;
    if (this.headOnly || this.status === 204 || this.status === 304) return true;
    this.chunk = chunk;
    this.chunkOk = true;
    corking.x = this;
    this.res.cork(writeChunkCorked);
    corking.x = null;
    this.chunk = null;
    return this.chunkOk;
  }

  /** onData's write, inside uWS's cork (writeChunkCorked): the head with the first bytes, then the chunk. */
  writeChunk(): void {
    const chunk = this.chunk!;
    const res = this.res;
    if (!this.started) this.writeHead();
    const length = this.contentLength;
    if (length >= 0) {
      if (chunk.length === length && this.bytes === length) {
        // the whole body in one chunk: end() writes it as tryEnd would (same Content-Length),
        // keeping what the socket cannot take yet, and makes no [sent, done] array
        res.end(chunk);
        this.ended = true;
        this.resDone = true;
        return;
      }
      const from = res.getWriteOffset();
      const [sent, done] = res.tryEnd(chunk, length);
      if (done) {
        this.ended = true;
        this.resDone = true;
      }
      if (!sent) {
        this.pending = chunk;
        this.pendingFrom = from;
        this.chunkOk = false;
        res.onWritable(this.onWritable);
      }
    } else if (!res.write(chunk)) {
      this.chunkOk = false;
      res.onWritable(this.onWritable);
    }
  }

  /** uWS: the client can take more. Resume the pending chunk, then the dyno. */
  private readonly onWritable = (offset: number): boolean => {
    if (this.clientGone || this.finished) return true;
    const pending = this.pending;
    if (pending !== null) {
      const [sent, done] = this.res.tryEnd(pending.subarray(offset - this.pendingFrom), this.contentLength);
      if (done) {
        this.ended = true;
        this.resDone = true;
      }
      if (!sent) return false;
      this.pending = null;
    }
    this.resumeUpstream?.();
    return true;
  };

  onComplete(): void {
    this.upstreamDone = true;
    // the dyno's whole response arrived well-formed: only now is it a success (a valid head
    // followed by a broken body is a failure, and must not reset the dyno's ejection backoff)
    this.dyno?.succeed();
    if (this.clientGone) {
      this.finish(499, 'H27');
      return;
    }
    if (this.finished) return;
    if (this.ended) {
      this.finish(this.status, null);
      return;
    }
    corking.x = this;
    this.res.cork(endCorked);
    corking.x = null;
    this.finish(this.status, null);
  }

  /** onComplete's end of a response tryEnd has not ended (endCorked, inside uWS's cork). */
  endResponse(): void {
    const res = this.res;
    if (!this.started) this.writeHead();
    if (this.headOnly || this.status === 204 || this.status === 304) {
      if (this.contentLength >= 0 && this.status !== 204) res.endWithoutBody(this.contentLength);
      else res.endWithoutBody();
      this.resDone = true;
    } else if (this.contentLength < 0) {
      res.end();
      this.resDone = true;
    } else if (this.bytes === 0) {
      res.end();
      this.resDone = true;
    }
    // with a content-length, tryEnd has already ended the response at its last byte
  }

  onError(err: Error): void {
    this.upstreamDone = true;
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
      const body = this.body;
      const answer = afterFailedAttempt(this, dyno, code, this.method, body === null, body !== null && body.touched, now);
      if (answer === null) this.dispatch();
      else this.fail(answer);
      return;
    }
    const broken = afterBrokenResponse(dyno, code, now);
    if (!this.started) {
      // nothing has reached the client yet (the head waits for the first body byte): answer
      // like any failure
      this.status = 0;
      this.rawHeaders = null;
      this.bytes = 0;
      this.fail(broken);
      return;
    }
    // the response had started: all we can do is cut the client connection
    this.closeClient();
    this.finish(this.status, broken);
  }

  fail(code: HerokuCodeName): void {
    this.fail503(code, ERROR_BODY[code], this.host.stopping === true);
  }

  private fail503(code: LogCode, body: string, close: boolean): void {
    if (this.finished || this.clientGone) return;
    const res = this.res;
    res.cork(() => {
      res.writeStatus('503 Service Unavailable').writeHeader('content-type', 'text/plain; charset=utf-8');
      this.writeRouterHeaders(res);
      this.writeExtraHeaders(res);
      res.end(body, close);
    });
    this.resDone = true;
    this.finish(503, code);
  }

  /**
   * Graceful stop's deadline passed with this request in flight (InFlight.cutAll): 503 and the
   * connection closed when nothing of the response was sent yet, else the connection is cut;
   * logged `code=shutdown`. The dyno's request is aborted; the dyno is not blamed.
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
      this.closeClient();
    }
    if (abort) abort(new Error('router stopping'));
  }

  /**
   * `close`: a request body may still be arriving (every caller passes it so): the answer is
   * written whole, the rest of the body read and dropped for a bounded time, then the
   * connection closes (lingering-close.ts), so that a client still sending reads the status.
   */
  answer(status: number, headers: readonly [string, string][] | null, body: string, close = false, code: LogCode | null = null): void {
    if (this.finished || this.clientGone) return;
    const res = this.res;
    const writeHead = (): void => {
      res.writeStatus(statusLine(status));
      this.writeRouterHeaders(res);
      if (headers) for (let i = 0; i < headers.length; i++) res.writeHeader(headers[i][0], headers[i][1]);
      this.writeExtraHeaders(res);
      if (body.length > 0 && !headers?.some((h) => h[0] === 'content-type')) res.writeHeader('content-type', 'text/plain; charset=utf-8');
    };
    if (close) {
      const source = this.body;
      const linger = new LingeringClose(res);
      if (source === null) linger.listen();
      else if (source.discardRest(linger.take)) linger.take(0, true);
      linger.answer(writeHead, body, this.headOnly);
      this.finish(status, code);
      return;
    }
    res.cork(() => {
      writeHead();
      const closing = this.host.stopping === true;
      if (this.headOnly) res.endWithoutBody(Buffer.byteLength(body), closing);
      else res.end(body, closing);
    });
    this.resDone = true;
    this.finish(status, code);
  }

  override readBody(cap: number): BodyRead | Promise<BodyRead> {
    const body = this.body;
    if (body === null) return super.readBody(cap);
    return new Promise((resolve) => body.collect(cap, resolve));
  }

  /** The request body grew past limits.maxBodyBytes while streaming. */
  bodyTooLarge(): void {
    if (this.finished) return;
    // answer first: the abort below reports an upstream error, which must not turn this into a 503
    const abort = this.abortUpstream;
    if (!this.started) {
      this.answer(413, null, TOO_LARGE_BODY, true);
    } else {
      this.closeClient();
      this.finish(this.status, null);
    }
    if (abort) abort(new Error('request body too large'));
  }

  /** Cuts the client connection (a response already under way cannot be answered otherwise). */
  private closeClient(): void {
    if (!this.ended) this.res.cork(() => this.res.close());
    this.resDone = true;
  }

  protected release(): void {
    this.host.inFlight.release(this);
    this.body?.close();
  }

  /**
   * Over (once), then back to the pool when nothing can call this object again (see take()):
   * a request body, a filter run, a lingering close or an upstream attempt that has not reported
   * its end keep it out, and it is left to the GC.
   */
  protected override finish(status: number, code: LogCode | null): void {
    if (this.finished) return;
    super.finish(status, code);
    if (this.resDone && this.upstreamDone && this.body === null && !this.held && POOL.length < POOL_MAX) {
      this.rawHeaders = null;
      this.pending = null;
      this.abortUpstream = null;
      this.resumeUpstream = null;
      const o = this.dispatchOptions;
      o.headers = null;
      o.body = null;
      POOL.push(this);
    }
  }
}

/** exchanges free for the next request of this thread */
const POOL: Exchange[] = [];
const POOL_MAX = 1024;

/** the exchange whose write runs inside res.cork (module level: no closure per chunk) */
const corking: { x: Exchange | null } = { x: null };
function writeChunkCorked(): void {
  corking.x!.writeChunk();
}
function endCorked(): void {
  corking.x!.endResponse();
}
