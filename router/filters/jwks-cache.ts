import { createLocalJWKSet, type JWK, type JWTVerifyGetKey } from 'jose';
import type { Logger } from 'pino';
import { EdgeplaneError } from '../../shared/errors.js';

/** The key server could not be reached (or answered garbage) and no cached key fits: 503, never 401. */
export class KeysUnavailableError extends EdgeplaneError {
  constructor(uri: string, cause?: unknown) {
    super('E_JWKS_UNAVAILABLE', `no usable key from ${uri}`, { cause });
  }
}

export interface JwksOptions {
  /** background refresh period after a successful fetch (default 5 min) */
  refreshMs: number;
  /** at most one refetch per this period for tokens whose `kid` is unknown (default 30 s) */
  cooldownMs: number;
  /** first retry delay after a failed fetch, doubled up to 30 s (default 1 s); also the least gap between fetches without keys */
  retryMs: number;
  /** whole-fetch deadline (default 5 s) */
  timeoutMs: number;
  /** largest JWKS document accepted (default 1 MiB) */
  maxBytes: number;
}

export const DEFAULT_JWKS_OPTIONS: Readonly<JwksOptions> = Object.freeze({
  refreshMs: 5 * 60_000,
  cooldownMs: 30_000,
  retryMs: 1_000,
  timeoutMs: 5_000,
  maxBytes: 1 << 20,
});

const MAX_RETRY_MS = 30_000;

/**
 * The keys of one `jwks_uri`: fetched once (as soon as a filter uses it), kept, refreshed in the
 * background while any filter uses it, refetched early for an unknown `kid` at most once per
 * cooldown. A failed refresh keeps the previous keys. Lives in the FilterFactory, so it survives
 * config reloads; filters acquire() and release() it.
 */
export class JwksCache {
  private local: JWTVerifyGetKey | undefined;
  private lastAttempt = -Infinity;
  private lastOk = false;
  private lastError: unknown;
  private failures = 0;
  private inflight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private users = 0;
  private closed = false;

  constructor(readonly uri: string, private readonly opts: JwksOptions, private readonly log: Logger) {}

  /** a filter starts using these keys: fetch now if never fetched, keep refreshing */
  acquire(): void {
    this.users++;
    if (this.users > 1 || this.closed) return;
    if (this.local === undefined || performance.now() - this.lastAttempt >= this.opts.refreshMs) void this.load();
    else this.schedule(this.opts.refreshMs - (performance.now() - this.lastAttempt));
  }

  /** a filter stopped using these keys; the last one out stops the refresh timer (keys are kept) */
  release(): void {
    if (this.users > 0 && --this.users === 0) this.stopTimer();
  }

  get inUse(): boolean {
    return this.users > 0;
  }

  /** jose key resolver: throws KeysUnavailableError when the key server is needed and unreachable */
  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    if (this.local === undefined) {
      if (this.inflight !== undefined) await this.inflight;
      else if (performance.now() - this.lastAttempt >= this.opts.retryMs) await this.load();
      if (this.local === undefined) throw new KeysUnavailableError(this.uri, this.lastError);
    }
    try {
      return await this.local(header, token);
    } catch (err) {
      if ((err as { code?: string }).code !== 'ERR_JWKS_NO_MATCHING_KEY') throw err;
      // unknown kid: maybe rotated in since the last fetch; refetch at most once per cooldown
      if (this.inflight !== undefined) await this.inflight;
      else if (performance.now() - this.lastAttempt >= this.opts.cooldownMs) await this.load();
      else if (!this.lastOk) throw new KeysUnavailableError(this.uri, this.lastError);
      else throw err;
      if (!this.lastOk) throw new KeysUnavailableError(this.uri, this.lastError);
      return await this.local(header, token);
    }
  };

  /** stop for good (process end) */
  close(): void {
    this.closed = true;
    this.stopTimer();
  }

  private load(): Promise<void> {
    if (this.inflight !== undefined) return this.inflight;
    this.lastAttempt = performance.now();
    this.stopTimer();
    this.inflight = this.fetchKeys().finally(() => {
      this.inflight = undefined;
      if (this.users > 0 && !this.closed) {
        this.schedule(this.lastOk ? this.opts.refreshMs : Math.min(this.opts.retryMs * 2 ** (this.failures - 1), MAX_RETRY_MS, this.opts.refreshMs));
      }
    });
    return this.inflight;
  }

  private async fetchKeys(): Promise<void> {
    try {
      const res = await fetch(this.uri, {
        headers: { accept: 'application/json' },
        redirect: 'follow',
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      });
      if (res.status !== 200) {
        await res.body?.cancel();
        throw new EdgeplaneError('E_JWKS_STATUS', `key server answered ${res.status}`);
      }
      const declared = Number(res.headers.get('content-length') ?? '0');
      if (declared > this.opts.maxBytes) {
        await res.body?.cancel();
        throw new EdgeplaneError('E_JWKS_TOO_LARGE', `JWKS larger than ${this.opts.maxBytes} bytes`);
      }
      const text = await res.text();
      if (text.length > this.opts.maxBytes) throw new EdgeplaneError('E_JWKS_TOO_LARGE', `JWKS larger than ${this.opts.maxBytes} bytes`);
      const doc = JSON.parse(text) as { keys?: JWK[] };
      this.local = createLocalJWKSet(doc as { keys: JWK[] });
      this.lastOk = true;
      this.lastError = undefined;
      this.failures = 0;
      this.log.debug({ jwks_uri: this.uri, keys: doc.keys?.length }, 'jwks fetched');
    } catch (err) {
      this.lastOk = false;
      this.lastError = err;
      this.failures++;
      this.log.warn({ jwks_uri: this.uri, err: (err as Error).message, keptKeys: this.local !== undefined }, 'jwks fetch failed');
    }
  }

  private schedule(ms: number): void {
    this.stopTimer();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.load();
    }, Math.max(0, ms));
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
