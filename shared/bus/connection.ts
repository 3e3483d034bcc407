import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../logger.js';
import { BusError } from './bus-errors.js';

export type BusState = 'connecting' | 'ready' | 'disconnected' | 'closed';

export interface BusConnectionOptions {
  servers: readonly string[];
  /** path of a NATS .creds file, or null */
  credentials?: string | null;
  /** the client name the server's monitoring shows */
  name?: string;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** backoff cap between attempts (default 5000 ms) */
  maxBackoffMs?: number;
  /** first wait after a failure (default 250 ms) */
  minBackoffMs?: number;
  /** try `servers` in the order given instead of shuffled (default false) */
  noRandomize?: boolean;
}

/** What /metrics shows of a connection. */
export interface ConnectionStats {
  connected: boolean;
  /** times the connection came back after a loss (the first connect not counted) */
  reconnects: number;
  /** the server it is connected to, '' when not connected */
  server: string;
}

/**
 * The one NATS connection of a program (or of a router worker thread). Never throws out:
 * `start()` returns at once and keeps trying for as long as the connection is not closed,
 * whether no server is reachable at start, a server dies (the client moves to another one of
 * the cluster), or the connection closes for good (a new one is made). Waits between attempts
 * are jittered and grow with the time since the connection was lost (half of it, between
 * `minBackoffMs` and `maxBackoffMs`), so a failover reconnects within a fraction of a second
 * and a long outage costs one attempt every few seconds.
 *
 * Events: `ready` (nc) when connected or reconnected, `not-ready` (reason) when the connection
 * is lost, `state` (state) on every change.
 */
export class BusConnection extends EventEmitter {
  private _state: BusState = 'connecting';
  private _nc: NatsConnection | null = null;
  private lostAt = Date.now();
  private reconnects = 0;
  private server = '';
  private everReady = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly maxBackoff: number;
  private readonly minBackoff: number;
  private lastWarn = 0;

  constructor(private readonly opts: BusConnectionOptions) {
    super();
    this.maxBackoff = opts.maxBackoffMs ?? 5000;
    this.minBackoff = opts.minBackoffMs ?? 250;
  }

  get state(): BusState { return this._state; }
  private isClosed(): boolean { return this._state === 'closed'; }
  get ready(): boolean { return this._state === 'ready'; }
  /** the live client, or null before the first connect (it keeps reconnecting by itself once made) */
  get nc(): NatsConnection | null { return this._nc; }

  stats(): ConnectionStats {
    return { connected: this.ready, reconnects: this.reconnects, server: this.ready ? this.server : '' };
  }

  /** Begins connecting; returns at once. */
  start(): this {
    if (this._state === 'connecting' && this._nc === null && this.retryTimer === null) void this.attempt();
    return this;
  }

  /** Resolves with the client once ready; rejects with E_BUS_CLOSED if closed first or the signal aborts. */
  whenReady(signal?: AbortSignal): Promise<NatsConnection> {
    if (this.ready) return Promise.resolve(this._nc!);
    if (this._state === 'closed') return Promise.reject(new BusError('E_BUS_CLOSED', 'bus connection closed'));
    return new Promise((resolve, reject) => {
      const onReady = (nc: NatsConnection): void => { cleanup(); resolve(nc); };
      const onState = (s: BusState): void => {
        if (s === 'closed') { cleanup(); reject(new BusError('E_BUS_CLOSED', 'bus connection closed')); }
      };
      const onAbort = (): void => { cleanup(); reject(new BusError('E_BUS_CLOSED', 'gave up waiting for the bus', { cause: signal?.reason })); };
      const cleanup = (): void => {
        this.off('ready', onReady);
        this.off('state', onState);
        signal?.removeEventListener('abort', onAbort);
      };
      this.on('ready', onReady);
      this.on('state', onState);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** jittered wait before the next attempt: half the time since the loss, bounded */
  backoffMs(): number {
    const base = Math.min(this.maxBackoff, Math.max(this.minBackoff, (Date.now() - this.lostAt) / 2));
    return Math.round(base * (0.5 + Math.random() / 2));
  }

  private setState(s: BusState, reason?: string): void {
    if (this._state === s) return;
    const was = this._state;
    this._state = s;
    this.emit('state', s);
    if (s === 'ready') this.emit('ready', this._nc);
    else if (was === 'ready') this.emit('not-ready', reason ?? s);
  }

  private authenticator(): ReturnType<typeof credsAuthenticator> | undefined {
    const file = this.opts.credentials;
    if (!file) return undefined;
    // read at every attempt: a rotated .creds file is picked up on the next connect
    return credsAuthenticator(() => readFileSync(file));
  }

  private async attempt(): Promise<void> {
    this.retryTimer = null;
    if (this._state === 'closed') return;
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: [...this.opts.servers],
        name: this.opts.name,
        authenticator: this.authenticator(),
        maxReconnectAttempts: -1,
        reconnectDelayHandler: () => this.backoffMs(),
        pingInterval: 10000,
        maxPingOut: 2,
        timeout: 5000,
        ignoreAuthErrorAbort: true,
        noRandomize: this.opts.noRandomize ?? false,
      });
    } catch (err) {
      if (this.isClosed()) return;
      this.warn('bus: cannot connect; retrying', err);
      this.retryTimer = setTimeout(() => void this.attempt(), this.backoffMs());
      this.retryTimer.unref();
      return;
    }
    if (this.isClosed()) {
      await nc.close().catch(() => undefined);
      return;
    }
    this._nc = nc;
    this.server = nc.getServer();
    if (this.everReady) this.reconnects++;
    this.everReady = true;
    this.opts.logger?.info({ server: this.server }, 'bus connected');
    this.setState('ready');
    void this.watch(nc);
  }

  private async watch(nc: NatsConnection): Promise<void> {
    const closed = nc.closed();
    (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') {
          this.lostAt = Date.now();
          this.opts.logger?.warn({ server: s.server }, 'bus disconnected; reconnecting');
          this.setState('disconnected', 'disconnected');
        } else if (s.type === 'reconnect') {
          this.server = s.server;
          this.reconnects++;
          this.opts.logger?.info({ server: s.server }, 'bus reconnected');
          this.setState('ready');
        } else if (s.type === 'error') {
          this.warn('bus: server error', s.error);
        }
      }
    })().catch(() => undefined);
    const err = await closed;
    if (this._state === 'closed') return;
    // closed for good (not by us): make a new connection
    this._nc = null;
    this.lostAt = Date.now();
    this.warn('bus connection closed; connecting again', err);
    this.setState('connecting', 'closed');
    this.retryTimer = setTimeout(() => void this.attempt(), this.backoffMs());
    this.retryTimer.unref();
  }

  /** at most one warning every 10 s while it keeps failing */
  private warn(msg: string, err: unknown): void {
    const now = Date.now();
    if (now - this.lastWarn < 10000) return;
    this.lastWarn = now;
    this.opts.logger?.warn({ servers: this.opts.servers, err: err instanceof Error ? err.message : String(err) }, msg);
  }

  /** Closes the client (pending publishes are flushed first, bounded by `timeoutMs`). */
  async close(timeoutMs = 2000): Promise<void> {
    if (this._state === 'closed') return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const nc = this._nc;
    this.setState('closed', 'closed');
    if (!nc) return;
    await Promise.race([
      nc.drain().catch(() => nc.close()),
      new Promise((r) => setTimeout(r, timeoutMs).unref()),
    ]).catch(() => undefined);
    if (!nc.isClosed()) await nc.close().catch(() => undefined);
  }
}
