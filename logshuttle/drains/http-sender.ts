import { Client } from 'undici';
import { backoffDelay } from './backoff.js';
import type { DrainContext, DrainSender } from './drain-context.js';
import type { FrameBatch } from './frame-queue.js';
import { isCertificateError } from './tls-errors.js';
import { randomUUID } from 'node:crypto';

const WARN_EVERY_MS = 30_000;

/**
 * https:// and http:// drains (logplex HTTPS drain protocol): batches of octet-counted RFC5424
 * frames POSTed as `application/logplex-1` with `Logplex-Msg-Count`, `Logplex-Frame-Id` (the
 * same on every retry of a batch), `Logplex-Drain-Token`, and the URL's user-info as basic
 * auth. One request at a time per drain, so lines arrive in order. A batch goes when it holds
 * `httpBatchLines` lines or `httpBatchBytes` bytes, or when its oldest line is `httpBatchAgeMs`
 * old. 2xx: delivered; 4xx other than 429: dropped and counted (`rejected`); 429, 5xx and
 * network errors: retried with jittered exponential backoff (capped at 10 s).
 */
export class HttpSender implements DrainSender {
  private client: Client | null = null;
  private batch: FrameBatch | null = null;
  private frameId = '';
  private body: Buffer | null = null;
  private attempts = 0;
  private ageTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private closing = false;
  private lastAttemptFailed = false;
  private lastWarnAt = 0;
  private readonly baseHeaders: Record<string, string>;

  constructor(private readonly ctx: DrainContext) {
    const { target, token } = ctx;
    this.baseHeaders = {
      'content-type': 'application/logplex-1',
      'logplex-drain-token': token,
      'user-agent': 'edgeplane-logshuttle',
    };
    if (target.username !== undefined || target.password !== undefined) {
      this.baseHeaders.authorization = 'Basic ' + Buffer.from(`${target.username ?? ''}:${target.password ?? ''}`).toString('base64');
    }
  }

  kick(): void {
    if (this.closing || this.batch) return;
    const { queue, tuning } = this.ctx;
    if (!queue.pending) return;
    if (queue.size >= tuning.httpBatchLines || queue.bytes >= tuning.httpBatchBytes) {
      this.sendNext();
    } else if (!this.ageTimer) {
      this.ageTimer = setTimeout(() => {
        this.ageTimer = null;
        this.sendNext();
      }, tuning.httpBatchAgeMs);
    }
  }

  idle(): boolean {
    return this.batch === null && !this.ctx.queue.pending;
  }

  unreachable(): boolean {
    return this.batch !== null && this.lastAttemptFailed;
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const t of [this.ageTimer, this.retryTimer]) if (t) clearTimeout(t);
    this.ageTimer = this.retryTimer = null;
    const c = this.client;
    this.client = null;
    this.ctx.stats.connected = false;
    if (!c) return;
    const force = setTimeout(() => void c.destroy().catch(() => {}), 1000);
    await c.close().catch(() => {});
    clearTimeout(force);
  }

  private getClient(): Client {
    if (!this.client) {
      const { target, tuning } = this.ctx;
      const host = target.host.includes(':') ? `[${target.host}]` : target.host;
      this.client = new Client(`${target.scheme}://${host}:${target.port}`, {
        headersTimeout: tuning.httpTimeoutMs,
        bodyTimeout: tuning.httpTimeoutMs,
        connectTimeout: tuning.connectTimeoutMs,
        keepAliveTimeout: 30_000,
        connect: target.scheme === 'https' ? {
          ...(target.hostIsIp ? {} : { servername: target.host }),
          minVersion: 'TLSv1.2',
          rejectUnauthorized: true,
          ...(tuning.tls.ca !== undefined ? { ca: tuning.tls.ca } : {}),
        } : undefined,
      });
    }
    return this.client;
  }

  private sendNext(): void {
    if (this.closing || this.batch) return;
    if (this.ageTimer) {
      clearTimeout(this.ageTimer);
      this.ageTimer = null;
    }
    const { queue, tuning } = this.ctx;
    const batch = queue.take(tuning.httpBatchLines, tuning.httpBatchBytes);
    if (!batch) return;
    this.batch = batch;
    this.body = batch.frames.length === 1 ? batch.frames[0] : Buffer.concat(batch.frames, batch.bytes);
    this.frameId = randomUUID();
    this.attempts = 0;
    void this.attempt();
  }

  private async attempt(): Promise<void> {
    const batch = this.batch;
    const body = this.body;
    if (!batch || !body || this.closing) return;
    const { target, stats, logger } = this.ctx;
    this.attempts++;
    let status = 0;
    let retryAfterMs = 0;
    let failure: unknown = null;
    try {
      const res = await this.getClient().request({
        path: target.path,
        method: 'POST',
        headers: { ...this.baseHeaders, 'logplex-msg-count': String(batch.lines + (batch.l10 ? 1 : 0)), 'logplex-frame-id': this.frameId },
        body,
      });
      status = res.statusCode;
      const ra = res.headers['retry-after'];
      if (typeof ra === 'string' && /^\d+$/.test(ra)) retryAfterMs = Number(ra) * 1000;
      await res.body.dump().catch(() => {});
    } catch (err) {
      failure = err;
    }
    if (this.batch !== batch) return;
    if (failure === null && status >= 200 && status < 300) {
      stats.connected = true;
      stats.delivered += batch.lines;
      this.lastAttemptFailed = false;
      this.done();
      return;
    }
    if (failure === null && status >= 400 && status < 500 && status !== 429) {
      stats.connected = true;
      stats.rejected += batch.lines;
      logger.warn({ drain: this.ctx.id, app: this.ctx.app, url: target.redacted, status, lines: batch.lines, frameId: this.frameId }, 'drain refused a batch; dropped');
      this.lastAttemptFailed = false;
      this.done();
      return;
    }
    // 429, 5xx, other statuses, network errors: retry the same batch
    if (failure !== null) {
      stats.connected = false;
      if (isCertificateError(failure)) this.ctx.tlsVerifyFailed(failure as Error);
    }
    this.lastAttemptFailed = true;
    stats.retries++;
    const now = Date.now();
    if (!isCertificateError(failure) && (this.attempts === 1 || now - this.lastWarnAt >= WARN_EVERY_MS)) {
      this.lastWarnAt = now;
      logger.warn({ drain: this.ctx.id, app: this.ctx.app, url: target.redacted, status: status || undefined,
        err: failure ? (failure as Error).message : undefined, attempts: this.attempts }, 'drain batch not accepted; retrying');
    }
    const delay = Math.min(this.ctx.tuning.backoff.maxMs, Math.max(retryAfterMs, backoffDelay(this.attempts, this.ctx.tuning.backoff)));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.attempt();
    }, delay);
  }

  private done(): void {
    if (this.batch) this.ctx.queue.done(this.batch);
    this.batch = null;
    this.body = null;
    if (this.closing) return;
    const { queue } = this.ctx;
    if (queue.pending) this.sendNext();
  }
}
