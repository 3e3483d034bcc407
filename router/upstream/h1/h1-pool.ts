import type { UpstreamDispatchOptions, UpstreamHandler, UpstreamPool, UpstreamPoolOptions } from './dispatch-contract.js';
import { Connection, type ConnectionOwner, type ConnectionSettings } from './connection.js';
import { ClientClosedError, ClientDestroyedError, InvalidArgumentError } from './errors.js';
import { buildRequestHead } from './request-head.js';
import { ACTIVE, FINISHED, PENDING, UpstreamRequest, type RequestOwner } from './upstream-request.js';

/** undici's defaults */
const DEFAULT_CONNECT_TIMEOUT = 10000;
const DEFAULT_HEADERS_TIMEOUT = 300000;
const DEFAULT_BODY_TIMEOUT = 300000;
const DEFAULT_KEEP_ALIVE = 4000;
const DEFAULT_KEEP_ALIVE_MAX = 600000;
const DEFAULT_KEEP_ALIVE_THRESHOLD = 2000;
const DEFAULT_MAX_HEADER_SIZE = 16384;

/** `host:port`, `[v6]:port` -> the parts net.connect wants and the Host header undici would write. */
export function parseAddress(address: string): { host: string; port: number; hostHeader: string } {
  const colon = address.lastIndexOf(':');
  const port = Number(address.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) throw new InvalidArgumentError(`invalid dyno address ${address}`);
  let host = address.slice(0, colon);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { host, port, hostHeader: address };
}

/**
 * The request object for a dispatch of `handler`: the one in its slot when the handler offers one
 * and its last request is over (see UpstreamHandler.upstreamSlot), else a new one (kept in the
 * slot when the slot is empty).
 */
function requestFor(owner: H1Pool, handler: UpstreamHandler): UpstreamRequest {
  const slot = handler.upstreamSlot;
  if (slot instanceof UpstreamRequest && slot.state === FINISHED) return slot;
  const req = new UpstreamRequest(owner, handler);
  if (slot === null) handler.upstreamSlot = req;
  return req;
}

function orDefault(v: number | null | undefined, d: number): number {
  return v === null || v === undefined ? d : v;
}

/**
 * A keep-alive pool of HTTP/1.1 connections to one dyno: an idle connection is reused (the most
 * recent first), else a new one is opened up to `connections` (no limit by default, as undici),
 * else the request waits in order. One request per connection at a time. A request that meets a
 * kept-alive connection the dyno had closed (no response byte) is sent again, once, on a fresh
 * connection when it is idempotent and bodyless. `close()` lets queued and in-flight requests
 * finish; `destroy()` fails them.
 */
export class H1Pool implements UpstreamPool, ConnectionOwner, RequestOwner {
  private readonly settings: ConnectionSettings;
  private readonly hostHeader: string;
  private readonly maxConnections: number;
  private readonly idle: Connection[] = [];
  private readonly all = new Set<Connection>();
  private queue: UpstreamRequest[] = [];
  private queueHead = 0;
  /** connections being opened for the queue (not for a retry) */
  private connecting = 0;
  /** requests on a connection */
  private active = 0;
  private closing = false;
  private destroyed = false;
  private closeWaiters: (() => void)[] = [];

  constructor(address: string, options: UpstreamPoolOptions = {}) {
    const { host, port, hostHeader } = parseAddress(address);
    if (options.pipelining != null && options.pipelining > 1) throw new InvalidArgumentError('the lean client does not pipeline');
    this.hostHeader = hostHeader;
    this.maxConnections = options.connections == null ? Infinity : options.connections;
    this.settings = {
      host,
      port,
      connectTimeout: orDefault(options.connect?.timeout, DEFAULT_CONNECT_TIMEOUT),
      keepAliveTimeout: orDefault(options.keepAliveTimeout, DEFAULT_KEEP_ALIVE),
      keepAliveMaxTimeout: orDefault(options.keepAliveMaxTimeout, DEFAULT_KEEP_ALIVE_MAX),
      keepAliveTimeoutThreshold: orDefault(options.keepAliveTimeoutThreshold, DEFAULT_KEEP_ALIVE_THRESHOLD),
      maxHeaderSize: orDefault(options.maxHeaderSize, DEFAULT_MAX_HEADER_SIZE),
    };
  }

  /** Connections open or opening, idle ones, and requests waiting (for tests and metrics). */
  get stats(): { connections: number; idle: number; queued: number; active: number } {
    return { connections: this.all.size, idle: this.idle.length, queued: this.queue.length - this.queueHead, active: this.active };
  }

  dispatch(options: UpstreamDispatchOptions, handler: UpstreamHandler): boolean {
    let req: UpstreamRequest | null = null;
    try {
      if (this.closing) throw this.destroyed ? new ClientDestroyedError() : new ClientClosedError();
      const body = options.body ?? null;
      req = requestFor(this, handler);
      req.start(this, handler, options.method, body,
        orDefault(options.headersTimeout, DEFAULT_HEADERS_TIMEOUT), orDefault(options.bodyTimeout, DEFAULT_BODY_TIMEOUT));
      buildRequestHead(req, options.method, options.path, options.headers, body !== null, this.hostHeader);
    } catch (err) {
      // never sent: over at once (a handler's slot object is free for its next dispatch)
      if (req !== null) req.state = FINISHED;
      // as undici's Dispatcher: a refused dispatch is reported to the handler, synchronously
      handler.onError?.(err as Error);
      return false;
    }
    const conn = this.idle.pop();
    if (conn !== undefined) {
      this.active++;
      conn.assign(req);
    } else {
      this.queue.push(req);
      this.grow();
    }
    return true;
  }

  private get queued(): number {
    return this.queue.length - this.queueHead;
  }

  private nextQueued(): UpstreamRequest | null {
    if (this.queueHead === this.queue.length) return null;
    const req = this.queue[this.queueHead++];
    if (this.queueHead === this.queue.length) {
      this.queue = [];
      this.queueHead = 0;
    } else if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
    return req;
  }

  /** Opens connections for waiting requests, within the limit. */
  private grow(): void {
    while (this.queued > this.connecting && this.all.size < this.maxConnections) {
      this.connecting++;
      this.all.add(new Connection(this, this.settings, null));
    }
  }

  onConnected(conn: Connection): void {
    if (conn.forRetry) {
      const dedicated = conn.takeDedicated();
      if (dedicated !== null && dedicated.state === PENDING && !this.destroyed) {
        this.active++;
        conn.assign(dedicated);
        return;
      }
    } else {
      this.connecting--;
    }
    this.onReusable(conn);
  }

  onConnectFailed(conn: Connection, err: Error): void {
    this.all.delete(conn);
    if (conn.forRetry) {
      conn.takeDedicated()?.fail(err);
    } else {
      this.connecting--;
      // one failed connect fails one waiting request (each had its own connect)
      this.nextQueued()?.fail(err);
    }
    this.grow();
    this.checkClosed();
  }

  onReusable(conn: Connection): void {
    if (this.destroyed || conn.closed) {
      conn.destroy();
      return;
    }
    const req = this.nextQueued();
    if (req !== null) {
      this.active++;
      conn.assign(req);
      return;
    }
    if (this.closing) {
      conn.destroy();
      return;
    }
    conn.goIdle();
    this.idle.push(conn);
  }

  onClosed(conn: Connection): void {
    this.all.delete(conn);
    const i = this.idle.lastIndexOf(conn);
    if (i !== -1) this.idle.splice(i, 1);
    if (!this.closing) this.grow();
    this.checkClosed();
  }

  retryFresh(req: UpstreamRequest): void {
    this.active--;
    if (this.closing && this.destroyed) {
      req.fail(new ClientDestroyedError());
      this.checkClosed();
      return;
    }
    this.all.add(new Connection(this, this.settings, req));
  }

  onRequestDone(): void {
    this.active--;
    this.checkClosed();
  }

  abortRequest(req: UpstreamRequest, err: Error): void {
    if (req.state === ACTIVE) {
      (req.conn as Connection).abortActive(req, err);
      return;
    }
    if (req.state === PENDING) {
      const i = this.queue.indexOf(req, this.queueHead);
      if (i !== -1) this.queue.splice(i, 1);
      // else: waiting for the fresh connection of a retry, which will find it finished
      req.fail(err);
      this.checkClosed();
    }
  }

  close(): Promise<void> {
    this.closing = true;
    for (const c of this.idle.splice(0)) c.destroy();
    return this.whenClosed();
  }

  destroy(err?: Error | null): Promise<void> {
    this.closing = true;
    this.destroyed = true;
    const e = err ?? new ClientDestroyedError();
    const waiting = this.queue.slice(this.queueHead);
    this.queue = [];
    this.queueHead = 0;
    for (const r of waiting) r.fail(e);
    for (const c of [...this.all]) c.destroyWith(e);
    return this.whenClosed();
  }

  private whenClosed(): Promise<void> {
    const p = new Promise<void>((resolve) => this.closeWaiters.push(resolve));
    this.checkClosed();
    return p;
  }

  /** Closing and nothing left: every connection goes, the close promises resolve. */
  private checkClosed(): void {
    if (!this.closing || this.active > 0 || this.queued > 0) return;
    for (const c of [...this.all]) if (c.waitingRequest() === null) c.destroy();
    if (this.all.size > 0) return;
    const waiters = this.closeWaiters;
    this.closeWaiters = [];
    for (const w of waiters) w();
  }
}
