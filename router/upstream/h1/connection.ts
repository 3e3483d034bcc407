import { connect, type Socket } from 'node:net';
import { coarseClock, type Ticking } from './coarse-clock.js';
import {
  BodyTimeoutError, ConnectTimeoutError, HeadersTimeoutError, RequestAbortedError, RequestContentLengthMismatchError, SocketError,
} from './errors.js';
import { CHUNKED_BODY, LENGTH_BODY } from './request-head.js';
import { DONE, ResponseParser, type ResponseSink } from './response-parser.js';
import { ACTIVE, FINISHED, PENDING, type RequestCarrier, type UpstreamRequest } from './upstream-request.js';

/** What a connection tells its pool. */
export interface ConnectionOwner {
  /** connected: give it a request or keep it idle */
  onConnected(conn: Connection): void;
  /** the connect failed or timed out (the socket is already destroyed) */
  onConnectFailed(conn: Connection, err: Error): void;
  /** a response is complete and the connection may carry another request */
  onReusable(conn: Connection): void;
  /** the connection is closed (whatever the reason); called once */
  onClosed(conn: Connection): void;
  /** a reused connection died before any response byte: send `req` again on a fresh one */
  retryFresh(req: UpstreamRequest): void;
  /** a request is over (pools that are closing wait for the last one) */
  onRequestDone(): void;
}

/** Where to connect and how long things may take. */
export interface ConnectionSettings {
  readonly host: string;
  readonly port: number;
  readonly connectTimeout: number;
  readonly keepAliveTimeout: number;
  readonly keepAliveMaxTimeout: number;
  readonly keepAliveTimeoutThreshold: number;
  readonly maxHeaderSize: number;
}

const CONNECTING = 0;
const IDLE = 1;
const BUSY = 2;
const CLOSED = 3;

const NO_DEADLINE = 0;
const CONNECT_DEADLINE = 1;
const HEADERS_DEADLINE = 2;
const BODY_DEADLINE = 3;
const IDLE_DEADLINE = 4;

/** Reads land in a per-connection slab; a response's views keep only their own slab alive. */
const SLAB_BYTES = 64 * 1024;
const MIN_READ_BYTES = 16 * 1024;

/** A connection keeps its reused sockets below this keep-alive: the race with the dyno's own close is too tight. */
const MIN_KEEP_ALIVE_MS = 1000;

/**
 * One keep-alive HTTP/1.1 connection to a dyno, one request at a time (no pipelining): writes
 * the prebuilt head in one write, streams the body with backpressure (Content-Length or chunked),
 * parses the response into the request's handler with backpressure both ways (a handler's
 * `false` stops reading the socket until `resume()`), enforces the connect, first-byte and body
 * idle deadlines, and decides reuse (Connection/Keep-Alive, framing, no stray bytes). Reads go
 * through `onread` into a slab: no stream machinery, no allocation per read beyond a view.
 */
export class Connection implements ResponseSink, Ticking, RequestCarrier {
  private readonly owner: ConnectionOwner;
  private readonly settings: ConnectionSettings;
  private readonly socket: Socket;
  private readonly parser: ResponseParser;
  private state = CONNECTING;
  /** opened for one request (a stale-connection retry), not for the pool's queue */
  readonly forRetry: boolean;
  /** that request, and its ticket then (the object may be serving a later dispatch since: see UpstreamRequest) */
  private dedicated: UpstreamRequest | null;
  private dedicatedTicket = 0;
  private req: UpstreamRequest | null = null;
  /** responses completed on this connection */
  private served = 0;
  private deadline = 0;
  private deadlineKind = NO_DEADLINE;
  /** keep-alive for the idle time after the current response */
  private keepAliveMs: number;

  private slab: Buffer = Buffer.allocUnsafeSlow(SLAB_BYTES);
  private slabOff = 0;
  /** the socket is being read (onread returned false: stopped until resume) */
  private reading = true;
  /** the handler asked to pause; what was not yet parsed waits here */
  private paused = false;
  private pendingBuf: Buffer | null = null;
  private pendingPos = 0;
  private pendingEnd = 0;
  private feeding = false;
  /** resume() was called during the handler call in progress */
  private resumeAsked = false;

  // the request body being written
  private body: UpstreamRequest['body'] = null;
  private bodyDone = true;
  private bodySent = 0;
  private bodyWaiting = false;

  constructor(owner: ConnectionOwner, settings: ConnectionSettings, dedicated: UpstreamRequest | null) {
    this.owner = owner;
    this.settings = settings;
    this.forRetry = dedicated !== null;
    this.dedicated = dedicated;
    if (dedicated !== null) this.dedicatedTicket = dedicated.ticket;
    this.keepAliveMs = settings.keepAliveTimeout;
    this.parser = new ResponseParser(this, settings.maxHeaderSize);
    this.socket = connect({
      host: settings.host,
      port: settings.port,
      noDelay: true,
      keepAlive: true,
      keepAliveInitialDelay: 60000,
      onread: { buffer: this.nextBuffer, callback: this.onRead },
    });
    this.socket.on('connect', this.onConnect);
    this.socket.on('end', this.onEnd);
    this.socket.on('error', this.onError);
    this.socket.on('close', this.onClose);
    this.socket.on('drain', this.onDrain);
    coarseClock.watch(this); // first: keeps the clock that deadlines are set from current
    if (settings.connectTimeout > 0) this.setDeadline(CONNECT_DEADLINE, settings.connectTimeout);
  }

  /** The retry this connection was opened for, handed over once; null when it is no longer that request. */
  takeDedicated(): UpstreamRequest | null {
    const req = this.dedicated;
    this.dedicated = null;
    return req !== null && req.ticket === this.dedicatedTicket ? req : null;
  }

  /** The retry this connection was opened for while it still waits for it, else null. */
  waitingRequest(): UpstreamRequest | null {
    const req = this.dedicated;
    return req !== null && req.ticket === this.dedicatedTicket && req.state !== FINISHED ? req : null;
  }

  get closed(): boolean {
    return this.state === CLOSED;
  }

  private setDeadline(kind: number, ms: number): void {
    if (ms > 0) {
      this.deadlineKind = kind;
      this.deadline = coarseClock.deadline(ms);
    } else {
      this.deadlineKind = NO_DEADLINE;
      this.deadline = 0;
    }
  }

  onTick(now: number): void {
    if (this.deadline === 0 || now < this.deadline) return;
    const kind = this.deadlineKind;
    this.deadline = 0;
    this.deadlineKind = NO_DEADLINE;
    switch (kind) {
      case CONNECT_DEADLINE:
        if (this.state === CONNECTING) this.connectFailed(new ConnectTimeoutError());
        break;
      case HEADERS_DEADLINE:
        this.failRequest(new HeadersTimeoutError());
        break;
      case BODY_DEADLINE:
        this.failRequest(new BodyTimeoutError());
        break;
      case IDLE_DEADLINE:
        if (this.state === IDLE) this.destroy();
        break;
    }
  }

  private readonly onConnect = (): void => {
    if (this.state !== CONNECTING) return;
    this.state = IDLE;
    this.deadline = 0;
    this.deadlineKind = NO_DEADLINE;
    this.owner.onConnected(this);
  };

  private connectFailed(err: Error): void {
    if (this.state === CLOSED) return;
    this.close();
    this.owner.onConnectFailed(this, err);
  }

  /** Keeps the connection for the next request, the keep-alive deadline running. */
  goIdle(): void {
    this.state = IDLE;
    this.setDeadline(IDLE_DEADLINE, this.keepAliveMs);
    if (!this.reading) this.startReading();
  }

  private startReading(): void {
    this.reading = true;
    this.socket.resume();
  }

  /** Puts `req` on the wire: onConnect (once per request), the head in one write, then the body. */
  assign(req: UpstreamRequest): void {
    this.state = BUSY;
    this.req = req;
    req.conn = this;
    req.state = ACTIVE;
    req.reused = this.served > 0;
    this.paused = false;
    this.pendingBuf = null;
    this.parser.reset(req.method === 'HEAD');
    this.keepAliveMs = this.settings.keepAliveTimeout;
    if (!this.reading) this.startReading();
    if (!req.connectCalled) {
      req.connectCalled = true;
      const ticket = req.ticket;
      try {
        req.handler.onConnect?.(req.abort);
      } catch (err) {
        if (this.req === req && req.ticket === ticket) this.releaseUnwritten(req, err as Error);
        return;
      }
      // aborted from onConnect: released before anything was written (and its object maybe dispatched again)
      if (this.req !== req || req.ticket !== ticket) return;
    }
    req.written = true;
    const socket = this.socket;
    socket.write(req.head);
    // not all of it went to the kernel at once: the socket holds the store until it has
    if (socket.writableLength !== 0) req.headLent = true;
    this.setDeadline(HEADERS_DEADLINE, req.headersTimeout);
    if (req.body !== null) this.attachBody(req);
    else this.bodyDone = true;
  }

  /** `req` leaves before a byte of it was written: the connection is as good as before. */
  releaseUnwritten(req: UpstreamRequest, err: Error): void {
    this.req = null;
    req.fail(err);
    this.owner.onRequestDone();
    if (this.state !== CLOSED) this.owner.onReusable(this);
  }

  /** Aborted (by the handler or the pool): nothing more is read or written for it. */
  abortActive(req: UpstreamRequest, err: Error): void {
    if (this.req !== req) return;
    if (!req.written) {
      this.releaseUnwritten(req, err);
      return;
    }
    this.req = null;
    this.destroy();
    req.fail(err);
    this.owner.onRequestDone();
  }

  // --- request body ---

  private attachBody(req: UpstreamRequest): void {
    const body = req.body!;
    this.body = body;
    this.bodyDone = false;
    this.bodySent = 0;
    this.bodyWaiting = false;
    body.on('data', this.onBodyData);
    body.on('end', this.onBodyEnd);
    body.on('error', this.onBodyError);
    body.on('close', this.onBodyClose);
  }

  private detachBody(): void {
    const body = this.body;
    if (body === null) return;
    this.body = null;
    body.off('data', this.onBodyData);
    body.off('end', this.onBodyEnd);
    body.off('error', this.onBodyError);
    body.off('close', this.onBodyClose);
  }

  private readonly onBodyData = (chunk: Buffer): void => {
    const req = this.req;
    if (req === null || this.body === null) return;
    let ok: boolean;
    if (req.framing === LENGTH_BODY) {
      this.bodySent += chunk.length;
      if (this.bodySent > req.contentLength) {
        this.failRequest(new RequestContentLengthMismatchError());
        return;
      }
      ok = this.socket.write(chunk);
    } else {
      if (chunk.length === 0) return;
      this.bodySent += chunk.length;
      const s = this.socket;
      s.cork();
      s.write(chunk.length.toString(16) + '\r\n', 'latin1');
      s.write(chunk);
      ok = s.write('\r\n', 'latin1');
      s.uncork();
    }
    // the dyno is still being sent the request: its first byte is not yet due
    if (this.deadlineKind === HEADERS_DEADLINE) this.setDeadline(HEADERS_DEADLINE, req.headersTimeout);
    if (!ok) {
      this.bodyWaiting = true;
      this.body.pause();
    }
  };

  private readonly onDrain = (): void => {
    if (this.bodyWaiting && this.body !== null) {
      this.bodyWaiting = false;
      this.body.resume();
    }
  };

  private readonly onBodyEnd = (): void => {
    const req = this.req;
    if (req === null || this.body === null) return;
    this.detachBody();
    if (req.framing === CHUNKED_BODY) {
      this.socket.write('0\r\n\r\n', 'latin1');
    } else if (this.bodySent !== req.contentLength) {
      this.failRequest(new RequestContentLengthMismatchError());
      return;
    }
    this.bodyDone = true;
  };

  private readonly onBodyError = (err: Error): void => {
    if (this.body !== null) this.failRequest(err);
  };

  private readonly onBodyClose = (): void => {
    // destroyed before its end: the request cannot be completed
    if (this.body !== null && !this.bodyDone) this.failRequest(new RequestAbortedError('request body destroyed'));
  };

  // --- response ---

  private readonly nextBuffer = (): Buffer => {
    if (SLAB_BYTES - this.slabOff < MIN_READ_BYTES) {
      this.slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
      this.slabOff = 0;
    }
    return this.slab.subarray(this.slabOff);
  };

  private readonly onRead = (n: number, buf: Buffer): boolean => {
    this.slabOff += n;
    const req = this.req;
    if (req === null) {
      // bytes nobody asked for (an idle connection, or after a completed response): not reusable
      this.destroy();
      return false;
    }
    const ok = this.feed(req, buf, 0, n);
    if (!ok) this.reading = false;
    return ok;
  };

  /** Parses `chunk` from `pos` to `end` for `req`. Returns whether the socket should go on being read. */
  private feed(req: UpstreamRequest, chunk: Buffer, pos: number, end: number): boolean {
    let at: number;
    this.feeding = true;
    try {
      at = this.parser.execute(chunk, pos, end);
    } catch (err) {
      this.feeding = false;
      if (this.req === req) this.failRequest(err as Error);
      return false;
    }
    this.feeding = false;
    if (this.req !== req) return false; // aborted from a handler callback
    if (this.parser.state === DONE) {
      this.complete(req, at < end);
      return this.state !== CLOSED;
    }
    if (this.paused) {
      this.pendingBuf = at < end ? chunk : null;
      this.pendingPos = at;
      this.pendingEnd = end;
      // a stalled client is not an idle dyno
      if (this.deadlineKind === BODY_DEADLINE) this.setDeadline(NO_DEADLINE, 0);
      return false;
    }
    if (this.parser.headRead) this.setDeadline(BODY_DEADLINE, req.bodyTimeout);
    return true;
  }

  onResponseHead(statusCode: number, rawHeaders: Buffer[], statusText: string): boolean {
    const req = this.req!;
    this.setDeadline(BODY_DEADLINE, req.bodyTimeout);
    const h = req.handler;
    this.resumeAsked = false;
    if (h.onHeaders !== undefined && h.onHeaders(statusCode, rawHeaders, req.resume, statusText) === false && !this.resumeAsked) this.paused = true;
    return !this.paused && this.req === req;
  }

  onResponseData(chunk: Buffer): boolean {
    const req = this.req!;
    const h = req.handler;
    this.resumeAsked = false;
    if (h.onData !== undefined && h.onData(chunk) === false && !this.resumeAsked) this.paused = true;
    return !this.paused && this.req === req;
  }

  /** The handler is ready for more: parse what waited, then read the socket again. */
  resumeFor(req: UpstreamRequest): void {
    if (this.req !== req) return;
    if (this.feeding) {
      // from inside onHeaders/onData: their `false` is void
      this.resumeAsked = true;
      this.paused = false;
      return;
    }
    if (!this.paused) return;
    this.paused = false;
    const buf = this.pendingBuf;
    this.pendingBuf = null;
    // even with nothing left to parse, the parser may owe the completion (paused on the last byte)
    const ok = buf === null ? this.feed(req, EMPTY, 0, 0) : this.feed(req, buf, this.pendingPos, this.pendingEnd);
    if (ok && this.req === req && !this.reading) {
      this.startReading();
    }
  }

  /** The response is over: the handler hears onComplete; the connection is kept or closed. */
  private complete(req: UpstreamRequest, stray: boolean): void {
    this.req = null;
    this.served++;
    this.detachBody();
    const p = this.parser;
    // HEAD went out with `connection: close` (see request-head.ts)
    let reusable = p.keepAlive && !stray && this.bodyDone && this.state === BUSY && req.method !== 'HEAD';
    if (reusable && p.keepAliveHintMs >= 0) {
      const ms = Math.min(p.keepAliveHintMs - this.settings.keepAliveTimeoutThreshold, this.settings.keepAliveMaxTimeout);
      if (ms < MIN_KEEP_ALIVE_MS) reusable = false;
      else this.keepAliveMs = ms;
    }
    this.deadline = 0;
    this.deadlineKind = NO_DEADLINE;
    if (reusable) this.owner.onReusable(this);
    else this.destroy();
    req.complete();
    this.owner.onRequestDone();
  }

  /** Fails the request in flight (timeouts, parse errors, body errors) and closes the connection. */
  private failRequest(err: Error): void {
    const req = this.req;
    this.destroy();
    if (req === null) return;
    this.req = null;
    req.fail(err);
    this.owner.onRequestDone();
  }

  /** The socket ended or broke with `req` on it. */
  private lost(err: Error | null): void {
    const req = this.req;
    if (req === null || req.state === FINISHED) {
      this.destroy();
      return;
    }
    if (err === null && this.parser.closeDelimited && !this.paused) {
      // the end of a close-delimited body
      this.complete(req, false);
      return;
    }
    this.req = null;
    const pristine = this.parser.pristine;
    this.destroy();
    if (pristine && req.reused && req.retryable && !req.retried) {
      // a kept-alive connection the dyno had closed: nothing of the response came, send it again
      req.retried = true;
      req.state = PENDING;
      req.conn = null;
      this.owner.retryFresh(req);
      return;
    }
    // a body cut short is a closed connection (H13), as undici reports it: "other side closed"
    req.fail(err ?? new SocketError('other side closed'));
    this.owner.onRequestDone();
  }

  private readonly onEnd = (): void => {
    if (this.state === CLOSED) return;
    this.lost(null);
  };

  private readonly onError = (err: Error): void => {
    if (this.state === CONNECTING) this.connectFailed(err);
    else if (this.state !== CLOSED) this.lost(err);
  };

  private readonly onClose = (): void => {
    if (this.state === CONNECTING) this.connectFailed(new SocketError('closed while connecting'));
    else if (this.state !== CLOSED) this.lost(new SocketError('socket closed'));
  };

  /** Closes the socket; the pool forgets the connection at once. */
  destroy(): void {
    if (this.state === CLOSED) return;
    const connecting = this.state === CONNECTING;
    this.close();
    if (connecting) this.owner.onConnectFailed(this, new SocketError('closed while connecting'));
    else this.owner.onClosed(this);
  }

  /** The pool is destroyed: the request on this connection (or waiting for it) fails with `err`. */
  destroyWith(err: Error): void {
    const req = this.req;
    const dedicated = this.takeDedicated();
    this.req = null;
    this.destroy();
    if (req !== null) {
      req.fail(err);
      this.owner.onRequestDone();
    } else {
      dedicated?.fail(err);
    }
  }

  private close(): void {
    this.state = CLOSED;
    this.deadline = 0;
    this.detachBody();
    this.pendingBuf = null;
    coarseClock.unwatch(this);
    this.socket.destroy();
  }
}

const EMPTY = Buffer.alloc(0);
