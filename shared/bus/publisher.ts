import type { Msg, MsgHdrs, NatsConnection, Subscription } from '@nats-io/transport-node';
import { InvalidArgumentError, InvalidSubjectError, createInbox } from '@nats-io/transport-node';
import { JetStreamApiError, type PubAck } from '@nats-io/jetstream';
import type { Logger } from '../logger.js';
import type { BusConnection } from './connection.js';
import { BusError } from './bus-errors.js';
import { Fifo } from './fifo.js';
import type { MsgIdSource } from './msg-id.js';

export type PublishDone = (err: Error | null, ack?: PubAck) => void;

export interface PublisherOptions {
  connection: BusConnection;
  msgIds: MsgIdSource;
  /** messages held (queued, in flight, waiting to be resent) before the oldest is dropped; default 100,000 */
  outbox?: number;
  /** publishes awaiting their ack at once; default 256 */
  maxInFlight?: number;
  /** an ack not back within this long fails the publish (it is resent); default 5000 ms */
  ackTimeoutMs?: number;
  /** nothing new is sent while the oldest publish in flight has waited this long; default 1000 ms */
  stallMs?: number;
  /**
   * Called once the bus is back (an ack arrived and the outbox is less than half full) for each
   * app that lost messages, with how many and since when: the owner publishes an L10 line.
   */
  onDropped?: (app: string, count: number, sinceMs: number) => void;
  logger?: Pick<Logger, 'warn'>;
}

/** Counters and gauges of a publisher (summed over router workers, exported by bus-metrics). */
export interface PublisherStats {
  /** messages handed to the publisher */
  published: number;
  /** messages the stream acknowledged (duplicates included) */
  acked: number;
  /** acks saying the stream already held the message (a resend after a lost ack) */
  duplicates: number;
  /** sends after a failure */
  retried: number;
  /** messages dropped: the outbox was full (oldest first) */
  droppedOverflow: number;
  /** messages dropped: the server refused them for good, or the publisher closed first */
  droppedRejected: number;
  /** messages held now (queued + in flight + waiting to be resent) */
  depth: number;
  inFlight: number;
}

interface Entry {
  /** local order: the sequence of the message id */
  readonly order: number;
  readonly app: string;
  readonly subject: string;
  readonly payload: Uint8Array;
  readonly msgId: string;
  /** more header lines (`name: value\r\n`…), '' for most */
  readonly headers: string;
  readonly done: PublishDone | undefined;
  /** the id of its current send (its reply subject's last token); -1 when not in flight, so late acks of an abandoned send are ignored */
  gen: number;
  attempts: number;
  sentAt: number;
  /** an L10 report (publishReport): if dropped, its count goes back into the app's pending report */
  report?: { count: number; since: number };
}

/** errors after which the same message may well be stored on a later try (elections, failover, lost acks) */
function isTransient(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return ['TimeoutError', 'NoRespondersError', 'RequestError', 'ClosedConnectionError', 'DrainingConnectionError',
    'ConnectionError', 'JetStreamNotEnabled'].includes(err.name);
}

/** errors no retry can fix (malformed subject, payload above max_payload) */
function isPermanent(err: unknown): boolean {
  return err instanceof InvalidSubjectError || err instanceof InvalidArgumentError;
}

const MAX_API_ERROR_ATTEMPTS = 5;

function namedError(name: string, message: string): Error {
  const err = new Error(message);
  err.name = name;
  return err;
}

const utf8 = new TextDecoder();

/**
 * The one header a publish carries, `Nats-Msg-Id`, encoded in one step. The client only calls
 * `encode()` on a publish's headers; a full MsgHdrs (a Map, validation, a string built and
 * encoded) per line cost several percent of the shuttle's bus relay. Message ids come from
 * MsgIdSource only (producer id, time, sequence: never a CR or LF).
 */
function msgIdHeader(msgId: string, extra: string): MsgHdrs {
  return { encode: () => Buffer.from(`NATS/1.0\r\nNats-Msg-Id: ${msgId}\r\n${extra}\r\n`) } as unknown as MsgHdrs;
}

/** More headers of a message, as `name: value` lines (names and values without CR or LF, names without ':'). */
export type ExtraHeaders = ReadonlyArray<readonly [string, string]>;

function encodeExtra(h: ExtraHeaders | undefined): string {
  if (!h || h.length === 0) return '';
  let out = '';
  for (const [k, v] of h) {
    if (!/^[!-9;-~]+$/.test(k) || /[\r\n]/.test(v)) throw new TypeError(`bad header ${JSON.stringify(k)}`);
    out += `${k}: ${v}\r\n`;
  }
  return out;
}

/** The stream's answer to one publish: the ack, or why it was not stored. */
function parseAck(msg: Msg): { ack: PubAck } | { err: Error } {
  if (msg.data.length === 0) {
    // a status message: 503 = no responders (no stream takes the subject, or no leader to answer)
    const code = msg.headers?.code ?? 0;
    return { err: namedError(code === 503 ? 'NoRespondersError' : 'RequestError', `no ack from the stream (status ${code})`) };
  }
  let v: { stream?: string; seq?: number; duplicate?: boolean; domain?: string; error?: { code: number; err_code?: number; description: string } };
  try {
    v = JSON.parse(utf8.decode(msg.data)) as typeof v;
  } catch {
    return { err: namedError('RequestError', 'unreadable ack from the stream') };
  }
  if (v.error) return { err: new JetStreamApiError({ code: v.error.code, err_code: v.error.err_code ?? 0, description: v.error.description }) };
  if (!v.stream) return { err: namedError('RequestError', 'invalid ack from the stream') };
  return { ack: { stream: v.stream, seq: v.seq ?? 0, duplicate: v.duplicate === true, domain: v.domain } as PubAck };
}

/** a caller's callback never breaks the publisher's own bookkeeping */
function callDone(done: PublishDone | undefined, err: Error | null, ack?: PubAck): void {
  if (!done) return;
  try {
    done(err, ack);
  } catch {
    // the caller's problem; the message's fate is settled either way
  }
}

/**
 * Publishes to JetStream with acks, never blocking its caller: `publish` queues and returns.
 *
 * ORDER GUARANTEE. Messages are sent in the order they were handed over, each with its
 * Nats-Msg-Id, at most `maxInFlight` at once. When a publish fails (or the connection drops:
 * every send in flight is then abandoned and counted as failed), the publisher stops sending
 * anything new, waits until every send in flight has settled, then resends the failed messages
 * in their original order ahead of everything newer: first the oldest one alone, and only once
 * it is acked the rest (so a stream still without a leader costs one probe, not a burst of
 * failures). A message that was stored although its ack was lost is resent too, and the
 * stream's duplicate window drops the copy, so every message is stored at the position of its
 * first arrival. Also, nothing new is sent while the oldest publish in flight has waited more
 * than `stallMs` for its ack. Hence: for the messages of one publisher (so of one app's
 * subject from it), the stream holds them in the order they were handed over, except when the
 * server loses a message and stores a later one that was already on its way (sent less than
 * `stallMs` after the lost one, before any failure was seen): the lost one is then stored after
 * it when resent. That needs the stream to lose its leader and have a new one accepting writes
 * within `stallMs`; a nats-server 2.9 election after a node dies takes seconds, so a crash or
 * SIGKILL of the leader keeps the order; a quick planned leader step-down could break it within
 * that window. Order across publishers (router workers, replicas) is not defined. A naive retry
 * (resend each failure as it comes, keep sending the rest) would reorder on every failover.
 *
 * BOUNDS. At most `outbox` messages are held (plus up to `maxInFlight` already sent when the
 * outbox is smaller than that); past it the oldest message never sent is dropped, counted per
 * app and reported through `onDropped` once the bus is back (the owner publishes the report with
 * publishReport). Messages already sent once and waiting to be resent are never dropped: they
 * may be stored already, and the reports must not count a stored message as lost. Messages the server
 * refuses for good are dropped and counted, never retried forever; everything else (timeouts,
 * no responders during an election, a lost connection) is retried until it is stored.
 */
export class BusPublisher {
  private readonly queue = new Fifo<Entry>();
  /** failed sends, oldest first, resent before the queue */
  private retry: Entry[] = [];
  /** sends awaiting their ack by send id, oldest first (insertion order) */
  private readonly inFlight = new Map<number, Entry>();
  private sendSeq = 0;
  private paused = false;
  /** 1 while probing after a failure, maxInFlight otherwise */
  private window: number;
  private failStreak = 0;
  private holdTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly dropped = new Map<string, { count: number; since: number }>();
  private closed = false;
  /** the connection sends go out on, with the subscription its acks come back to (`<inbox>.<send id>`) */
  private bound: { nc: NatsConnection; inbox: string; sub: Subscription } | null = null;
  private readonly ackSweep: ReturnType<typeof setInterval>;
  private readonly outbox: number;
  private readonly maxInFlight: number;
  private readonly ackTimeoutMs: number;
  private readonly stallMs: number;
  private readonly counts = { published: 0, acked: 0, duplicates: 0, retried: 0, droppedOverflow: 0, droppedRejected: 0 };
  private idleWaiters: (() => void)[] = [];
  private lastWarn = 0;

  constructor(private readonly opts: PublisherOptions) {
    this.outbox = opts.outbox ?? 100000;
    this.maxInFlight = opts.maxInFlight ?? 256;
    this.ackTimeoutMs = opts.ackTimeoutMs ?? 5000;
    this.stallMs = opts.stallMs ?? 1000;
    this.window = this.maxInFlight;
    this.ackSweep = setInterval(() => this.expire(), Math.max(20, Math.min(250, Math.floor(this.ackTimeoutMs / 4))));
    this.ackSweep.unref?.();
    opts.connection.on('ready', this.onReady);
    opts.connection.on('not-ready', this.onNotReady);
  }

  /** messages held now (queued + in flight + waiting to be resent) */
  get depth(): number {
    return this.queue.length + this.retry.length + this.inFlight.size;
  }

  stats(): PublisherStats {
    return { ...this.counts, depth: this.depth, inFlight: this.inFlight.size };
  }

  /**
   * Queues a message for `subject` (the app's, see partition.ts) and returns at once. `done`,
   * if given, is called once: with the ack after the stream stored it, or with a BusError
   * (E_BUS_OVERFLOW when dropped from a full outbox, E_BUS_REJECTED, E_BUS_CLOSED). `headers`:
   * more headers besides Nats-Msg-Id (a TypeError at once when one is malformed).
   */
  publish(app: string, subject: string, payload: Uint8Array, done?: PublishDone, headers?: ExtraHeaders): void {
    this.enqueue(app, subject, payload, done, undefined, encodeExtra(headers));
  }

  /**
   * Publishes the owner's loss report for `app` (the L10 line built in onDropped). Should it be
   * dropped in turn, it is not counted as a message of its own: its count and time go back into
   * the app's next report, so the reports always add up to the messages lost.
   */
  publishReport(app: string, subject: string, payload: Uint8Array, count: number, sinceMs: number): void {
    this.enqueue(app, subject, payload, undefined, { count, since: sinceMs }, '');
  }

  private enqueue(app: string, subject: string, payload: Uint8Array, done: PublishDone | undefined, report: Entry['report'], headers: string): void {
    const msgId = this.opts.msgIds.next();
    if (this.closed) {
      this.counts.droppedRejected++;
      callDone(done, new BusError('E_BUS_CLOSED', 'bus publisher closed'));
      return;
    }
    this.counts.published++;
    const entry: Entry = { order: this.opts.msgIds.sequence, app, subject, payload, msgId, headers, done, gen: -1, attempts: 0, sentAt: 0, report };
    // full: the oldest message never sent goes (this one, when everything held was sent already)
    if (this.depth >= this.outbox && !this.drop(this.queue.shift())) {
      this.drop(entry);
      return;
    }
    this.queue.push(entry);
    this.pump();
  }

  /** publish, as a promise of the ack */
  publishAcked(app: string, subject: string, payload: Uint8Array): Promise<PubAck> {
    return new Promise((resolve, reject) => {
      this.publish(app, subject, payload, (err, ack) => (err ? reject(err) : resolve(ack!)));
    });
  }

  /**
   * Drops a message never sent (false when there is none). Messages sent at least once and
   * waiting to be resent are never dropped: they may already be stored (a lost ack), and
   * counting a stored message as lost would make the L10 counts lie.
   */
  private drop(victim: Entry | undefined): boolean {
    if (!victim) return false;
    const d = this.dropped.get(victim.app);
    const count = victim.report ? victim.report.count : 1;
    const since = victim.report ? victim.report.since : Date.now();
    if (d) {
      d.count += count;
      d.since = Math.min(d.since, since);
    } else {
      this.dropped.set(victim.app, { count, since });
    }
    if (!victim.report) this.counts.droppedOverflow++;
    callDone(victim.done, new BusError('E_BUS_OVERFLOW', 'bus outbox full: message dropped'));
    return true;
  }

  private readonly onReady = (): void => {
    this.pump();
  };

  /** the connection dropped: whatever is in flight is in an unknown state; resend it in order once back */
  private readonly onNotReady = (): void => {
    // once back, probe with one message first: a stream just restarted may have no leader yet,
    // and a burst sent into it would fail whole and sit in `retry`, where nothing can be
    // dropped, so the outbox would then drop the newest lines instead of the oldest
    this.window = 1;
    if (this.inFlight.size === 0) return;
    for (const e of this.inFlight.values()) {
      e.gen = -1;
      this.addRetry(e);
    }
    this.inFlight.clear();
    this.paused = true;
    this.afterFailure();
  };

  /**
   * Publishes go out as plain messages with a reply subject, and the stream's acks come back to
   * one subscription (`<inbox>.*`) of the connection: no request object, promise, timer or error
   * per message (a JetStream request per line cost more than everything else the shuttle did).
   * A new connection (the old one closed for good) gets its own subscription; the client
   * resubscribes by itself after a reconnect.
   */
  private bind(nc: NatsConnection): { nc: NatsConnection; inbox: string } {
    if (this.bound?.nc === nc) return this.bound;
    if (this.bound && !this.bound.nc.isClosed()) this.bound.sub.unsubscribe();
    const inbox = createInbox();
    const sub = nc.subscribe(`${inbox}.*`, { callback: (err, msg) => this.onAck(inbox, err, msg) });
    this.bound = { nc, inbox, sub };
    return this.bound;
  }

  private onAck(inbox: string, err: Error | null, msg: Msg): void {
    if (err !== null || this.bound?.inbox !== inbox) return;
    const id = Number(msg.subject.slice(inbox.length + 1));
    const e = this.inFlight.get(id);
    if (e === undefined || e.gen !== id) return;
    const r = parseAck(msg);
    if ('ack' in r) this.settle(e, id, null, r.ack);
    else this.settle(e, id, r.err, undefined);
  }

  /** sends whose ack is overdue fail with a timeout (and are resent in order) */
  private expire(): void {
    if (this.inFlight.size === 0) return;
    const before = Date.now() - this.ackTimeoutMs;
    const late: Array<[number, Entry]> = [];
    for (const [id, e] of this.inFlight) {
      if (e.sentAt > before) break;
      late.push([id, e]);
    }
    for (const [id, e] of late) this.settle(e, id, namedError('TimeoutError', 'no ack from the stream in time'), undefined);
  }

  private pump(): void {
    const conn = this.opts.connection;
    if (this.paused || this.holdTimer !== null || !conn.ready) return;
    const nc = conn.nc;
    if (!nc) return;
    const out = this.bind(nc);
    const now = Date.now();
    while (this.inFlight.size < this.window) {
      const oldest = this.inFlight.values().next().value;
      if (oldest !== undefined && now - oldest.sentAt > this.stallMs) break; // see ORDER GUARANTEE
      const e = this.retry.length > 0 ? this.retry.shift()! : this.queue.shift();
      if (!e) break;
      this.send(out, e, now);
    }
    if (this.depth === 0) this.wakeIdle();
  }

  private send(out: { nc: NatsConnection; inbox: string }, e: Entry, now: number): void {
    const id = ++this.sendSeq;
    e.gen = id;
    if (e.attempts++ > 0) this.counts.retried++;
    e.sentAt = now;
    this.inFlight.set(id, e);
    try {
      out.nc.publish(e.subject, e.payload, { reply: `${out.inbox}.${id}`, headers: msgIdHeader(e.msgId, e.headers) });
    } catch (err) {
      // refused before it left (bad subject, above max_payload, connection closed): settled
      // outside this loop
      queueMicrotask(() => this.settle(e, id, err instanceof Error ? err : new Error(String(err)), undefined));
    }
  }

  private settle(e: Entry, id: number, err: Error | null, ack: PubAck | undefined): void {
    if (id !== e.gen) return; // abandoned: it is already waiting to be resent
    e.gen = -1;
    this.inFlight.delete(id);
    if (err === null) {
      this.counts.acked++;
      if (ack?.duplicate) this.counts.duplicates++;
      this.failStreak = 0;
      if (!this.paused) this.window = this.maxInFlight;
      callDone(e.done, null, ack);
      this.reportDrops();
    } else if (isPermanent(err) || (!isTransient(err) && e.attempts >= MAX_API_ERROR_ATTEMPTS)) {
      this.counts.droppedRejected++;
      this.warn('bus: message refused by the server; dropped', err, e);
      callDone(e.done, new BusError('E_BUS_REJECTED', `bus refused the message: ${err.message}`, { cause: err }));
    } else {
      this.warn('bus: publish failed; will resend in order', err, e);
      this.addRetry(e);
      this.paused = true;
    }
    if (this.paused && this.inFlight.size === 0) {
      this.paused = false;
      this.afterFailure();
      return;
    }
    this.pump();
  }

  /** keeps `retry` sorted by original order (failures mostly arrive in order: usually an append) */
  private addRetry(e: Entry): void {
    let i = this.retry.length;
    while (i > 0 && this.retry[i - 1].order > e.order) i--;
    this.retry.splice(i, 0, e);
  }

  /** every send has settled after a failure: probe with the oldest one after a short, growing wait */
  private afterFailure(): void {
    this.paused = false;
    this.window = 1;
    const wait = Math.min(1000, 50 * 2 ** this.failStreak++) * (0.5 + Math.random() / 2);
    if (this.holdTimer) clearTimeout(this.holdTimer);
    this.holdTimer = setTimeout(() => {
      this.holdTimer = null;
      this.pump();
    }, wait);
    this.holdTimer.unref?.();
  }

  /** the bus takes messages again and the outbox has room: tell the owner what each app lost */
  private reportDrops(): void {
    if (this.dropped.size === 0 || this.depth * 2 > this.outbox) return;
    const report = [...this.dropped];
    this.dropped.clear();
    for (const [app, d] of report) this.opts.onDropped?.(app, d.count, d.since);
  }

  private warn(msg: string, err: Error, e: Entry): void {
    const now = Date.now();
    if (now - this.lastWarn < 5000) return;
    this.lastWarn = now;
    this.opts.logger?.warn({ err: err.message, error: err.name, subject: e.subject, msgId: e.msgId }, msg);
  }

  private wakeIdle(): void {
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Resolves true once nothing is held, false at the deadline. */
  flush(timeoutMs = 5000): Promise<boolean> {
    if (this.depth === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(t);
        resolve(true);
      };
      this.idleWaiters.push(done);
    });
  }

  /**
   * Stops taking messages, gives those held until the deadline to be acked, then fails the
   * rest with E_BUS_CLOSED (counted as rejected). The connection is the caller's to close.
   */
  async close(timeoutMs = 5000): Promise<void> {
    if (this.closed) return;
    await this.flush(timeoutMs);
    this.closed = true;
    this.opts.connection.off('ready', this.onReady);
    this.opts.connection.off('not-ready', this.onNotReady);
    if (this.holdTimer) clearTimeout(this.holdTimer);
    clearInterval(this.ackSweep);
    if (this.bound && !this.bound.nc.isClosed()) this.bound.sub.unsubscribe();
    this.bound = null;
    const err = new BusError('E_BUS_CLOSED', 'bus publisher closed before the ack');
    const rest = [...this.inFlight.values(), ...this.retry, ...this.queue.drain()];
    this.inFlight.clear();
    this.retry = [];
    for (const e of rest) {
      e.gen = -1;
      this.counts.droppedRejected++;
      callDone(e.done, err);
    }
  }
}

export type { PubAck };
export { JetStreamApiError };
