import type { Readable } from 'node:stream';
import type { UpstreamHandler } from './dispatch-contract.js';
import { NO_BODY, releaseHeadStore, type Framing, type RequestHead } from './request-head.js';
import { RequestAbortedError } from './errors.js';

/** waiting for a connection (queued, or for the fresh connection of a stale-connection retry) */
export const PENDING = 0;
/** on a connection */
export const ACTIVE = 1;
/** completed, failed or aborted: the handler hears nothing more */
export const FINISHED = 2;

/** DESIGN.md: the methods a bodyless request may be sent again with */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

const EMPTY = Buffer.alloc(0);

/** What a request needs from its pool and its connection. */
export interface RequestOwner {
  abortRequest(req: UpstreamRequest, err: Error): void;
}

/** The connection side of a request (see connection.ts). */
export interface RequestCarrier {
  resumeFor(req: UpstreamRequest): void;
}

/**
 * One dispatched request: the handler, the head's bytes, the body stream, its timeouts and
 * where it is. `abort` and `resume` are made once per object and stay safe to call after the
 * request is over (they then do nothing), whatever connection it was on.
 *
 * A handler that offers a slot (`UpstreamHandler.upstreamSlot`) gets the same object again for
 * its next dispatch once the previous one is over (start() sets every field again, `ticket`
 * changes): the abort and resume it was given then act on its new request. Anything in the client
 * that keeps a reference past the end of a request (a stale-connection retry's connection) keeps
 * the ticket with it and ignores the object when the ticket has changed.
 */
export class UpstreamRequest implements RequestHead {
  owner: RequestOwner;
  handler: UpstreamHandler;
  method = '';
  body: Readable | null = null;
  /** ms, 0 for none */
  headersTimeout = 0;
  bodyTimeout = 0;
  /** may be sent again on a fresh connection when a reused one turns out dead before any response byte */
  retryable = false;
  /** which use of this object this is (see the class comment) */
  ticket = 0;
  state = PENDING;
  conn: RequestCarrier | null = null;
  /** onConnect has been called (once per request, also across a stale-connection retry) */
  connectCalled = false;
  /** some byte of this request has been handed to a socket */
  written = false;
  /** the current connection had served a response before this request */
  reused = false;
  retried = false;

  // the head (RequestHead, written by buildRequestHead)
  head: Buffer = EMPTY;
  framing: Framing = NO_BODY;
  contentLength = -1;
  headStore: Buffer | null = null;
  /** a socket may still be reading the head's bytes: its store is never given back */
  headLent = false;

  readonly abort: (err?: Error) => void;
  readonly resume: () => void;

  constructor(owner: RequestOwner, handler: UpstreamHandler) {
    this.owner = owner;
    this.handler = handler;
    this.abort = (err?: Error): void => {
      if (this.state !== FINISHED) this.owner.abortRequest(this, err ?? new RequestAbortedError());
    };
    this.resume = (): void => {
      if (this.state === ACTIVE) this.conn?.resumeFor(this);
    };
  }

  /** Ready for a new dispatch (the head is built next: buildRequestHead). */
  start(owner: RequestOwner, handler: UpstreamHandler, method: string, body: Readable | null,
    headersTimeout: number, bodyTimeout: number): void {
    this.ticket++;
    this.owner = owner;
    this.handler = handler;
    this.method = method;
    this.body = body;
    this.headersTimeout = headersTimeout;
    this.bodyTimeout = bodyTimeout;
    this.retryable = body === null && IDEMPOTENT.has(method);
    this.state = PENDING;
    this.conn = null;
    this.connectCalled = false;
    this.written = false;
    this.reused = false;
    this.retried = false;
    this.headLent = false;
  }

  /** The head's store back to the pool (when no socket holds it), the body let go. */
  private over(): void {
    this.state = FINISHED;
    this.conn = null;
    const store = this.headStore;
    if (store !== null) {
      this.headStore = null;
      if (!this.headLent) releaseHeadStore(store);
    }
  }

  /** Over with an error: the body stream is destroyed (as undici does) and the handler told once. */
  fail(err: Error): void {
    if (this.state === FINISHED) return;
    this.over();
    const body = this.body;
    this.body = null;
    if (body !== null && !body.destroyed) body.destroy();
    this.handler.onError?.(err);
  }

  /** Over with a complete response. */
  complete(): void {
    if (this.state === FINISHED) return;
    this.over();
    this.body = null;
    this.handler.onComplete?.(null);
  }
}
