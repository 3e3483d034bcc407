import type { Readable } from 'node:stream';
import type { UpstreamHandler } from './dispatch-contract.js';
import type { RequestHead } from './request-head.js';
import { RequestAbortedError } from './errors.js';

/** waiting for a connection (queued, or for the fresh connection of a stale-connection retry) */
export const PENDING = 0;
/** on a connection */
export const ACTIVE = 1;
/** completed, failed or aborted: the handler hears nothing more */
export const FINISHED = 2;

/** DESIGN.md: the methods a bodyless request may be sent again with */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

/** What a request needs from its pool and its connection. */
export interface RequestOwner {
  abortRequest(req: UpstreamRequest, err: Error): void;
}

/** The connection side of a request (see connection.ts). */
export interface RequestCarrier {
  resumeFor(req: UpstreamRequest): void;
}

/**
 * One dispatched request: the handler, the prebuilt head, the body stream, its timeouts and
 * where it is. `abort` and `resume` are made once per request and stay safe to call after it
 * is over (they then do nothing), whatever connection the request was on.
 */
export class UpstreamRequest {
  readonly handler: UpstreamHandler;
  readonly method: string;
  readonly head: RequestHead;
  readonly body: Readable | null;
  /** ms, 0 for none */
  readonly headersTimeout: number;
  readonly bodyTimeout: number;
  /** may be sent again on a fresh connection when a reused one turns out dead before any response byte */
  readonly retryable: boolean;
  state = PENDING;
  conn: RequestCarrier | null = null;
  /** onConnect has been called (once per request, also across a stale-connection retry) */
  connectCalled = false;
  /** some byte of this request has been handed to a socket */
  written = false;
  /** the current connection had served a response before this request */
  reused = false;
  retried = false;
  readonly abort: (err?: Error) => void;
  readonly resume: () => void;

  constructor(owner: RequestOwner, handler: UpstreamHandler, method: string, head: RequestHead, body: Readable | null,
    headersTimeout: number, bodyTimeout: number) {
    this.handler = handler;
    this.method = method;
    this.head = head;
    this.body = body;
    this.headersTimeout = headersTimeout;
    this.bodyTimeout = bodyTimeout;
    this.retryable = body === null && IDEMPOTENT.has(method);
    this.abort = (err?: Error): void => {
      if (this.state !== FINISHED) owner.abortRequest(this, err ?? new RequestAbortedError());
    };
    this.resume = (): void => {
      if (this.state === ACTIVE) this.conn?.resumeFor(this);
    };
  }

  /** Over with an error: the body stream is destroyed (as undici does) and the handler told once. */
  fail(err: Error): void {
    if (this.state === FINISHED) return;
    this.state = FINISHED;
    this.conn = null;
    if (this.body !== null && !this.body.destroyed) this.body.destroy();
    this.handler.onError?.(err);
  }

  /** Over with a complete response. */
  complete(): void {
    if (this.state === FINISHED) return;
    this.state = FINISHED;
    this.conn = null;
    this.handler.onComplete?.(null);
  }
}
