import type { Readable } from 'node:stream';

/**
 * The dispatch contract Exchange uses (the subset of undici's `Dispatcher.dispatch` with an
 * old-style handler that the router needs). Both the lean client and undici's Pool satisfy it.
 */
export interface UpstreamDispatchOptions {
  /** path and query, as written on the request line */
  path: string;
  method: string;
  /** flat [name, value, name, value, ...] list, names lower-case */
  headers?: string[] | null;
  /** streamed with backpressure; Content-Length from `headers` if given, else chunked */
  body?: Readable | null;
  /** ms until the response head is complete (0: none; default 300 s like undici) */
  headersTimeout?: number | null;
  /** ms the response body may stall while the handler is ready for more (0: none; default 300 s) */
  bodyTimeout?: number | null;
}

/** undici's old-style dispatch handler: the calls the lean client makes, in this order. */
export interface UpstreamHandler {
  /** the request got a connection and is about to be written; `abort` works until onComplete/onError */
  onConnect?(abort: (err?: Error) => void): void;
  /** the final response head (1xx interim responses are skipped); false pauses until `resume()` */
  onHeaders?(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean;
  /** a piece of the response body; false pauses until `resume()` */
  onData?(chunk: Buffer): boolean;
  /** the response is complete (trailers are read and dropped: always null) */
  onComplete?(trailers: string[] | null): void;
  /** the request failed; called at most once, and never after onComplete */
  onError?(err: Error): void;
  /**
   * Offered by a handler that dispatches one request at a time, again and again (the router's
   * pooled exchanges): the lean client keeps its request object here and uses it again for the
   * handler's next dispatch once the previous one is over, so that nothing is allocated per
   * request. The `abort` and `resume` the handler was given then act on its newer request. Never
   * read or written by the handler itself.
   */
  upstreamSlot?: unknown;
}

/** A keep-alive pool of connections to one dyno. */
export interface UpstreamPool {
  dispatch(options: UpstreamDispatchOptions, handler: UpstreamHandler): boolean;
  /** refuses new requests, lets queued and in-flight ones finish, then closes every connection */
  close(): Promise<void>;
  /** fails queued and in-flight requests and closes every connection now */
  destroy(err?: Error | null): Promise<void>;
}

/** The options router/upstream/dyno.ts gives undici's Pool (and the lean pool's own). */
export interface UpstreamPoolOptions {
  connect?: { timeout?: number | null } | null;
  /** ms an idle connection is kept when the dyno sends no Keep-Alive hint (default 4000) */
  keepAliveTimeout?: number | null;
  /** cap on a dyno's Keep-Alive hint (default 600000) */
  keepAliveMaxTimeout?: number | null;
  /** taken off a dyno's Keep-Alive hint, for the race with its own idle close (default 2000) */
  keepAliveTimeoutThreshold?: number | null;
  /** only 1 (no pipelining) is supported by the lean client */
  pipelining?: number | null;
  /** most connections to the dyno (null: no limit, like undici) */
  connections?: number | null;
  /** largest response head (status line and headers) in bytes (default 16 KiB) */
  maxHeaderSize?: number | null;
}
