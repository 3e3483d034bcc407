import { Client } from 'undici';
import { backoffDelay } from './backoff.js';
import type { DrainContext, DrainSender } from './drain-context.js';
import type { FrameBatch } from './frame-queue.js';
import { isCertificateError } from './tls-errors.js';
import { randomUUID } from 'node:crypto';

const WARN_EVERY_MS = 30_000;

/** One batch taken from the queue: its body and frame id stay the same on every attempt. */
interface Post {
  batch: FrameBatch;
  body: Buffer;
  /** the request headers, built once (the drain's own, then Logplex-Msg-Count and Logplex-Frame-Id) */
  headers: string[];
  frameId: string;
  attempts: number;
  /** a request for it is out */
  sending: boolean;
  /** its last attempt was not accepted (429, 5xx, network error): it waits for its retry */
  failed: boolean;
  /** when a failed batch may go again (epoch ms): its failure time plus the backoff */
  retryAt: number;
}

/**
 * https:// and http:// drains (logplex HTTPS drain protocol): batches of octet-counted RFC5424
 * frames POSTed as `application/logplex-1` with `Logplex-Msg-Count`, `Logplex-Frame-Id` (the
 * same on every retry of a batch), `Logplex-Drain-Token`, and the URL's user-info as basic
 * auth. A batch goes when it holds `httpBatchLines` lines or `httpBatchBytes` bytes, or when its
 * oldest line is `httpBatchAgeMs` old. 2xx: delivered; 4xx other than 429: dropped and counted
 * (`rejected`); 429, 5xx and network errors: retried with jittered exponential backoff (capped
 * at 10 s).
 *
 * Up to `httpInFlight` batches are in flight at once, pipelined in queue order on one keep-alive
 * connection (HTTP/1.1 pipelining: the receiver gets them in order and answers in order). The
 * queue's chunks are concatenated once into the body; nothing is re-encoded. Order on failure:
 * once a batch is not accepted, no newer batch is taken from the queue; the batches still in
 * flight finish (those the receiver accepts are delivered, those it refuses join the retry),
 * then the batches not accepted are retried one at a time, oldest first, each until the receiver
 * takes or refuses it, before any newer batch is sent. So every line is delivered at most once
 * per 2xx, and lines arrive in queue order except that a batch the receiver did not accept lands
 * after the (at most `httpInFlight - 1`) batches that were already in flight behind it and that
 * the receiver accepted. `httpInFlight: 1` keeps strict order in every case.
 */
export class HttpSender implements DrainSender {
  private client: Client | null = null;
  /** batches taken from the queue and not yet delivered or refused, oldest first */
  private readonly posts: Post[] = [];
  private sending = 0;
  private ageTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private closing = false;
  private lastAttemptFailed = false;
  private lastWarnAt = 0;
  /** the drain's own headers, as name, value pairs */
  private readonly baseHeaders: string[];

  constructor(private readonly ctx: DrainContext) {
    const { target, token } = ctx;
    this.baseHeaders = ['content-type', 'application/logplex-1', 'logplex-drain-token', token, 'user-agent', 'edgeplane-logshuttle'];
    if (target.username !== undefined || target.password !== undefined) {
      this.baseHeaders.push('authorization', 'Basic ' + Buffer.from(`${target.username ?? ''}:${target.password ?? ''}`).toString('base64'));
    }
  }

  kick(): void {
    this.pump();
  }

  idle(): boolean {
    return this.posts.length === 0 && !this.ctx.queue.pending;
  }

  unreachable(): boolean {
    return this.posts.length > 0 && this.lastAttemptFailed;
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

  private inFlightLimit(): number {
    return Math.max(1, Math.floor(this.ctx.tuning.httpInFlight));
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
        pipelining: this.inFlightLimit(),
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

  /** Sends what may go now: the retry of the oldest failed batch, or new batches up to the in-flight limit. */
  private pump(): void {
    if (this.closing) return;
    const failed = this.oldestFailed();
    if (failed) {
      // retry mode: the failed batches go again one at a time, oldest first, once nothing else
      // is out, each after its backoff
      if (this.sending > 0 || this.retryTimer) return;
      const delay = Math.max(0, failed.retryAt - Date.now());
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        if (this.closing || this.sending > 0 || this.oldestFailed() !== failed) return;
        failed.failed = false;
        this.attempt(failed);
      }, delay);
      return;
    }
    const { queue, tuning } = this.ctx;
    const limit = this.inFlightLimit();
    while (this.posts.length < limit && queue.pending) {
      if (queue.size < tuning.httpBatchLines && queue.bytes < tuning.httpBatchBytes && !this.ageDue) {
        // not a full batch yet: it goes when it is full or when its oldest line is httpBatchAgeMs old
        if (!this.ageTimer) {
          this.ageTimer = setTimeout(() => {
            this.ageTimer = null;
            this.ageDue = true;
            this.pump();
          }, tuning.httpBatchAgeMs);
        }
        return;
      }
      this.ageDue = false;
      if (this.ageTimer) {
        clearTimeout(this.ageTimer);
        this.ageTimer = null;
      }
      const batch = queue.take(tuning.httpBatchLines, tuning.httpBatchBytes);
      if (!batch) return;
      const body = batch.frames.length === 1 ? batch.frames[0] : Buffer.concat(batch.frames, batch.bytes);
      // a retry resends the body: the queue's chunks are let go now, so they die young instead
      // of surviving garbage collections for as long as the batch is in flight
      batch.frames = [];
      const frameId = randomUUID();
      const post: Post = {
        batch,
        body,
        headers: [...this.baseHeaders, 'logplex-msg-count', String(batch.lines + (batch.l10 ? 1 : 0)), 'logplex-frame-id', frameId],
        frameId,
        attempts: 0,
        sending: false,
        failed: false,
        retryAt: 0,
      };
      this.posts.push(post);
      this.attempt(post);
    }
  }

  /** the age timer fired: the next batch goes even if it is not full */
  private ageDue = false;

  private attempt(post: Post): void {
    post.attempts++;
    post.sending = true;
    this.sending++;
    void this.request(post);
  }

  private async request(post: Post): Promise<void> {
    const { target } = this.ctx;
    let status = 0;
    let retryAfterMs = 0;
    let failure: unknown = null;
    try {
      const res = await this.getClient().request({
        path: target.path,
        method: 'POST',
        // pipelined (undici holds a request back while one that is not idempotent, or is
        // "blocking", waits for its answer): the same body and frame id go on a retry, so a
        // receiver may take a resent batch as one
        idempotent: true,
        blocking: false,
        headers: post.headers,
        body: post.body,
      });
      status = res.statusCode;
      const ra = res.headers['retry-after'];
      if (typeof ra === 'string' && /^\d+$/.test(ra)) retryAfterMs = Number(ra) * 1000;
      await res.body.dump().catch(() => {});
    } catch (err) {
      failure = err;
    }
    post.sending = false;
    this.sending--;
    if (this.closing) return;
    this.settle(post, status, retryAfterMs, failure);
    // lines that came in during the round trip go at once when nothing is left in flight
    if (this.posts.length === 0 && this.ctx.queue.pending) this.ageDue = true;
    this.pump();
  }

  private settle(post: Post, status: number, retryAfterMs: number, failure: unknown): void {
    const { target, stats, logger } = this.ctx;
    const batch = post.batch;
    if (failure === null && status >= 200 && status < 300) {
      stats.connected = true;
      stats.delivered += batch.lines;
      this.lastAttemptFailed = false;
      this.finish(post);
      return;
    }
    if (failure === null && status >= 400 && status < 500 && status !== 429) {
      stats.connected = true;
      stats.rejected += batch.lines;
      logger.warn({ drain: this.ctx.id, app: this.ctx.app, url: target.redacted, status, lines: batch.lines, frameId: post.frameId }, 'drain refused a batch; dropped');
      this.lastAttemptFailed = false;
      this.finish(post);
      return;
    }
    // 429, 5xx, other statuses, network errors: the same batch again, before any newer one
    if (failure !== null) {
      stats.connected = false;
      if (isCertificateError(failure)) this.ctx.tlsVerifyFailed(failure as Error);
    }
    post.failed = true;
    const { backoff } = this.ctx.tuning;
    post.retryAt = Date.now() + Math.min(backoff.maxMs, Math.max(retryAfterMs, backoffDelay(post.attempts, backoff)));
    this.lastAttemptFailed = true;
    stats.retries++;
    const now = Date.now();
    if (!isCertificateError(failure) && (post.attempts === 1 || now - this.lastWarnAt >= WARN_EVERY_MS)) {
      this.lastWarnAt = now;
      logger.warn({ drain: this.ctx.id, app: this.ctx.app, url: target.redacted, status: status || undefined,
        err: failure ? (failure as Error).message : undefined, attempts: post.attempts }, 'drain batch not accepted; retrying');
    }
  }

  /** `posts` is in queue order: the first failed one is the oldest */
  private oldestFailed(): Post | undefined {
    for (const p of this.posts) if (p.failed) return p;
    return undefined;
  }

  /** Delivered or refused for good: out of the in-flight list, its tickets settled. */
  private finish(post: Post): void {
    const i = this.posts.indexOf(post);
    if (i >= 0) this.posts.splice(i, 1);
    this.ctx.queue.done(post.batch);
  }
}
