import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { LogRecord } from '../../shared/log-record.js';
import { DEFAULT_BACKOFF } from './backoff.js';
import type { DrainContext, DrainSender, DrainStats, DrainTuning } from './drain-context.js';
import { registerDrainMetrics, type DrainView } from './drain-metrics.js';
import { parseDrainUrl, type DrainUrl } from './drain-url.js';
import { FrameQueue } from './frame-queue.js';
import { HttpSender } from './http-sender.js';
import { encodeFrame, encodeFrameWithMsgid, passThroughFrame } from './rfc5424.js';
import type { SettleTicket } from './settle-ticket.js';
import { loadDrainState, saveDrainState } from './drain-state-file.js';
import { StreamSender } from './stream-sender.js';
import { certificateErrorCode } from './tls-errors.js';
import type { DrainInfo, DrainSet } from './types.js';
import { UdpSender } from './udp-sender.js';

export interface DrainManagerOptions {
  /** lines each drain may hold while its peer is slow or away */
  drainBuffer: number;
  logger: Logger;
  registry: Registry;
  /** puts a platform line (Error L14) into the app's stream (tail) */
  emitPlatformLine: (record: LogRecord) => void;
  /** JSON file where the drain set is kept across restarts (written atomically) */
  stateFile?: string;
  tuning?: Partial<DrainTuning>;
}

export const DEFAULT_TUNING: DrainTuning = Object.freeze({
  backoff: DEFAULT_BACKOFF,
  connectTimeoutMs: 10_000,
  recycleMs: 60 * 60_000,
  socketHighWaterBytes: 256 * 1024,
  httpBatchLines: 5000,
  httpBatchBytes: 1024 * 1024,
  httpBatchAgeMs: 250,
  httpInFlight: 4,
  httpTimeoutMs: 30_000,
  tls: {},
});

/** L14 lines for one drain at most this often */
const L14_EVERY_MS = 60_000;
/**
 * A drain holding less than this waits up to LINGER_MS for more lines before it is kicked: with
 * many apps each drain gets a few lines per loop turn, and a write (a syscall) per drain per
 * turn would cost more than the lines. A drain that holds this much, or half its drainBuffer,
 * is kicked in the same turn.
 */
const COALESCE_BYTES = 16 * 1024;
const LINGER_MS = 5;

interface Drain extends DrainView {
  url: string;
  target: DrainUrl;
  sender: DrainSender;
  dirty: boolean;
  /** waiting for more lines (or LINGER_MS) before its sender is kicked */
  lingering: boolean;
  removed: boolean;
  lastL14At: number;
}

/**
 * The drains of every app (DrainSet). `deliver` encodes the line once (RFC5424, octet-counted)
 * and appends it to the bounded queue of each drain of the app; lines already in the drains'
 * form (the syslog ingest's fast path) are copied into the queues' blocks as they are, a run of
 * consecutive frames of one app at once (`deliverCanonicalRun`); senders run once per loop turn
 * (setImmediate) for the drains that got lines, so writes are coalesced (a drain holding little
 * waits up to LINGER_MS for more), and nothing on the ingest path waits for a socket. Each drain
 * is independent: its own queue, connection and backoff.
 */
export class DrainManager implements DrainSet {
  private readonly byApp = new Map<string, Drain[]>();
  private readonly tuning: DrainTuning;
  private readonly logger: Logger;
  private dirty: Drain[] = [];
  private scheduled = false;
  private lingering: Drain[] = [];
  private lingerTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly opts: DrainManagerOptions) {
    if (!Number.isInteger(opts.drainBuffer) || opts.drainBuffer < 1) throw new RangeError('drainBuffer must be a positive integer');
    this.tuning = { ...DEFAULT_TUNING, ...opts.tuning };
    this.logger = opts.logger.child({ component: 'drains' });
    registerDrainMetrics(opts.registry, () => this.allDrains());
    if (opts.stateFile) {
      for (const [app, drains] of Object.entries(loadDrainState(opts.stateFile, this.logger))) {
        for (const d of drains) {
          try {
            this.create(app, d.url, d.id);
          } catch (err) {
            this.logger.warn({ app, url: d.url, err: (err as Error).message }, 'drain in state file skipped');
          }
        }
      }
    }
  }

  deliver(record: LogRecord): void {
    let drains: Drain[] | undefined;
    let frame: Buffer;
    try {
      drains = this.byApp.get(record.app);
      if (drains === undefined) return;
      frame = encodeFrame(record);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'line not encodable for drains');
      return;
    }
    this.enqueue(drains, frame);
  }

  deliverRaw(record: LogRecord, raw: Buffer): void {
    let drains: Drain[] | undefined;
    let frame: Buffer;
    try {
      drains = this.byApp.get(record.app);
      if (drains === undefined) return;
      frame = passThroughFrame(record, raw) ?? encodeFrame(record);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'line not encodable for drains');
      return;
    }
    this.enqueue(drains, frame);
  }

  deliverCanonical(app: string, buf: Buffer, from: number, to: number): void {
    const drains = this.byApp.get(app);
    if (drains === undefined) return;
    for (let i = 0; i < drains.length; i++) drains[i].queue.appendFrame(buf, from, to);
    this.markDirty(drains);
  }

  deliverCanonicalRun(app: string, buf: Buffer, from: number, to: number, lines: number): void {
    const drains = this.byApp.get(app);
    if (drains === undefined) return;
    for (let i = 0; i < drains.length; i++) drains[i].queue.appendFrames(buf, from, to, lines);
    this.markDirty(drains);
  }

  /**
   * Bus mode: one line with MSGID `msgid` (the stream sequence) and the ticket its bus message
   * is acknowledged by. A drain holds the ticket until the line is written (or dropped) unless
   * it is unreachable or already half full: then queuing is enough (its lines may still go as
   * L10 drops), so a dead or slow drain never holds up the acknowledgements of other lines.
   */
  deliverTicketed(record: LogRecord, msgid: string, ticket: SettleTicket): void {
    let drains: Drain[] | undefined;
    let frame: Buffer;
    try {
      drains = this.byApp.get(record.app);
      if (drains === undefined) return;
      frame = encodeFrameWithMsgid(record, msgid);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'line not encodable for drains');
      return;
    }
    for (let i = 0; i < drains.length; i++) {
      const d = drains[i];
      if (!d.sender.unreachable() && d.queue.size * 2 < d.queue.capacity) {
        ticket.hold();
        d.queue.push(frame, ticket);
      } else {
        d.queue.push(frame);
      }
    }
    this.markDirty(drains);
  }

  /**
   * Makes the drains of `app` exactly `wanted` (ids kept: the bus registry names them), adding,
   * removing and replacing drains as needed; a URL that does not parse is logged and skipped.
   */
  syncApp(app: string, wanted: readonly DrainInfo[]): void {
    const current = this.byApp.get(app) ?? [];
    for (const d of [...current]) {
      const w = wanted.find((x) => x.id === d.id);
      if (!w || w.url !== d.url) this.remove(app, d.id);
    }
    for (const w of wanted) {
      if ((this.byApp.get(app) ?? []).some((d) => d.id === w.id)) continue;
      try {
        this.create(app, w.url, w.id);
      } catch (err) {
        this.logger.warn({ app, url: w.url, err: (err as Error).message }, 'drain in the bus registry skipped');
      }
    }
  }

  /** Apps that have drains. */
  apps(): string[] {
    return [...this.byApp.keys()];
  }

  private markDirty(drains: Drain[]): void {
    for (let i = 0; i < drains.length; i++) {
      const d = drains[i];
      if (!d.dirty) {
        d.dirty = true;
        this.dirty.push(d);
      }
    }
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushDirty);
    }
  }

  private enqueue(drains: Drain[], frame: Buffer): void {
    for (let i = 0; i < drains.length; i++) drains[i].queue.push(frame);
    this.markDirty(drains);
  }

  add(app: string, url: string): DrainInfo {
    const target = parseDrainUrl(url);
    const existing = this.byApp.get(app)?.find((d) => d.url === target.url);
    if (existing) return { id: existing.id, url: existing.url };
    const d = this.create(app, target.url);
    this.persist();
    return { id: d.id, url: d.url };
  }

  list(app: string): DrainInfo[] {
    return (this.byApp.get(app) ?? []).map((d) => ({ id: d.id, url: d.url }));
  }

  remove(app: string, id: string): boolean {
    const drains = this.byApp.get(app);
    const i = drains ? drains.findIndex((d) => d.id === id) : -1;
    if (!drains || i < 0) return false;
    const [d] = drains.splice(i, 1);
    if (drains.length === 0) this.byApp.delete(app);
    d.removed = true;
    const discarded = d.queue.clear();
    void d.sender.close();
    this.logger.info({ app, drain: id, url: d.target.redacted, discarded }, 'drain removed');
    this.persist();
    return true;
  }

  async close(deadlineMs: number): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const deadline = Date.now() + Math.max(0, deadlineMs);
    if (this.lingerTimer !== null) clearTimeout(this.lingerTimer);
    this.lingerTimer = null;
    this.lingering = [];
    const drains = this.allDrains();
    for (const d of drains) d.sender.kick();
    // flush: wait until every drain has sent what it holds or is unreachable, or the deadline
    while (Date.now() < deadline && drains.some((d) => !d.sender.idle() && !d.sender.unreachable())) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const left = drains.filter((d) => !d.sender.idle());
    if (left.length > 0) {
      this.logger.warn({ drains: left.map((d) => ({ app: d.app, drain: d.id, queued: d.queue.size })) }, 'drains not flushed before the deadline');
    }
    await Promise.all(drains.map((d) => d.sender.close()));
  }

  private readonly flushDirty = (): void => {
    this.scheduled = false;
    const dirty = this.dirty;
    this.dirty = [];
    for (let i = 0; i < dirty.length; i++) {
      const d = dirty[i];
      d.dirty = false;
      if (d.removed) continue;
      if (d.queue.bytes < COALESCE_BYTES && d.queue.size * 2 < d.queue.capacity && !this.closed) {
        if (!d.lingering) {
          d.lingering = true;
          this.lingering.push(d);
        }
        continue;
      }
      this.kick(d);
    }
    if (this.lingering.length > 0 && this.lingerTimer === null) this.lingerTimer = setTimeout(this.flushLingering, LINGER_MS);
  };

  private readonly flushLingering = (): void => {
    this.lingerTimer = null;
    const lingering = this.lingering;
    this.lingering = [];
    for (let i = 0; i < lingering.length; i++) {
      const d = lingering[i];
      d.lingering = false;
      if (!d.removed) this.kick(d);
    }
  };

  private kick(d: Drain): void {
    try {
      d.sender.kick();
    } catch (err) {
      this.logger.error({ app: d.app, drain: d.id, err }, 'drain sender failed');
    }
  }

  private allDrains(): Drain[] {
    const out: Drain[] = [];
    for (const drains of this.byApp.values()) out.push(...drains);
    return out;
  }

  private create(app: string, url: string, id: string = randomUUID()): Drain {
    const target = parseDrainUrl(url);
    const stats: DrainStats = { delivered: 0, rejected: 0, truncated: 0, retries: 0, connected: false };
    const queue = new FrameQueue(this.opts.drainBuffer, (count, since) => encodeFrame(platformLine(app,
      `Error L10 (output buffer overflow): ${count} messages dropped since ${new Date(since).toISOString()}`)));
    const logger = this.logger;
    const drain = {} as Drain;
    const ctx: DrainContext = {
      id,
      app,
      target,
      token: `d.${id}`,
      queue,
      stats,
      logger,
      tuning: this.tuning,
      tlsVerifyFailed: (err: Error) => this.tlsVerifyFailed(drain, err),
    };
    const sender: DrainSender =
      target.scheme === 'syslog+udp' ? new UdpSender(ctx)
        : target.scheme === 'https' || target.scheme === 'http' ? new HttpSender(ctx)
          : new StreamSender(ctx);
    Object.assign(drain, { app, id, url: target.url, target, scheme: target.scheme, stats, queue, sender, dirty: false, lingering: false, removed: false, lastL14At: -Infinity });
    const list = this.byApp.get(app);
    if (list) list.push(drain);
    else this.byApp.set(app, [drain]);
    this.logger.info({ app, drain: id, url: target.redacted }, 'drain added');
    return drain;
  }

  private tlsVerifyFailed(d: Drain, err: Error): void {
    if (d.removed) return;
    const code = certificateErrorCode(err);
    this.logger.warn({ app: d.app, drain: d.id, url: d.target.redacted, code, err: err.message }, 'drain certificate verification failed; nothing sent, will retry');
    const now = Date.now();
    if (now - d.lastL14At < L14_EVERY_MS) return;
    d.lastL14At = now;
    try {
      this.opts.emitPlatformLine(platformLine(d.app,
        `Error L14 (certificate validation error): ${code} for drain ${d.target.redacted} (${d.target.host}:${d.target.port}); nothing was sent, retrying`));
    } catch (e) {
      this.logger.error({ err: e }, 'emitPlatformLine failed');
    }
  }

  private persist(): void {
    if (!this.opts.stateFile) return;
    const state: Record<string, Array<{ id: string; url: string }>> = {};
    for (const [app, drains] of this.byApp) state[app] = drains.map((d) => ({ id: d.id, url: d.url }));
    saveDrainState(this.opts.stateFile, state, this.logger);
  }
}

function platformLine(app: string, message: string): LogRecord {
  return { app, source: 'platform', process: 'platform', stream: 'stderr', time: Date.now(), message };
}
