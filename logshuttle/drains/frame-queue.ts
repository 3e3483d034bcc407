import type { SettleTicket } from './settle-ticket.js';

/**
 * A drain's bounded queue: a ring of encoded frames (one Buffer per line), at most `capacity`
 * lines. When full, the oldest line goes and is counted; the next batch taken starts with an
 * L10 frame reporting the count, so delivered + reported dropped = lines handed to the drain.
 * A line may carry a SettleTicket (bus mode): it is settled when the line is dropped here, and
 * by the sender (`done`) once the batch holding it is delivered.
 */

/** Frames taken from the queue for one write (or one HTTPS POST). */
export interface FrameBatch {
  frames: Buffer[];
  /** app lines in `frames` (the L10 frame, if any, is not one) */
  lines: number;
  bytes: number;
  /** when set, frames[0] is an L10 frame reporting `count` lines dropped since `since` */
  l10: { count: number; since: number } | null;
  /** bus mode: the tickets of the frames, aligned with `frames` (undefined for the L10 frame and lines without one) */
  tickets?: (SettleTicket | undefined)[];
}

/** Builds the L10 frame for `count` lines dropped since epoch ms `since`. */
export type L10FrameBuilder = (count: number, since: number) => Buffer;

export class FrameQueue {
  private readonly ring: (Buffer | undefined)[];
  /** tickets aligned with `ring`; allocated at the first line that has one */
  private tickets: (SettleTicket | undefined)[] | null = null;
  private head = 0;
  private count = 0;
  private byteCount = 0;
  /** dropped and not yet reported in an L10 frame */
  private unreported = 0;
  private unreportedSince = 0;
  /** every line ever dropped from this queue */
  droppedTotal = 0;

  constructor(readonly capacity: number, private readonly l10Frame: L10FrameBuilder) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
    this.ring = new Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  get bytes(): number {
    return this.byteCount;
  }

  /** true when there is something to send (lines, or an L10 report still owed) */
  get pending(): boolean {
    return this.count > 0 || this.unreported > 0;
  }

  get unreportedDrops(): number {
    return this.unreported;
  }

  push(frame: Buffer, ticket?: SettleTicket): void {
    const cap = this.capacity;
    if (this.count === cap) {
      const old = this.ring[this.head] as Buffer;
      this.ring[this.head] = undefined;
      if (this.tickets !== null) this.settleAt(this.head);
      this.byteCount -= old.length;
      this.head = this.head + 1 === cap ? 0 : this.head + 1;
      this.count--;
      this.noteDropped(1, Date.now());
    }
    let tail = this.head + this.count;
    if (tail >= cap) tail -= cap;
    this.ring[tail] = frame;
    if (ticket !== undefined) (this.tickets ??= new Array(cap))[tail] = ticket;
    this.count++;
    this.byteCount += frame.length;
  }

  private settleAt(i: number): void {
    const t = this.tickets![i];
    if (t !== undefined) {
      this.tickets![i] = undefined;
      t.settle();
    }
  }

  /** The batch was delivered (or refused for good): its lines' tickets are settled. */
  done(batch: FrameBatch): void {
    const tickets = batch.tickets;
    if (tickets === undefined) return;
    batch.tickets = undefined;
    for (let i = 0; i < tickets.length; i++) tickets[i]?.settle();
  }

  /** One frame of the batch was delivered or lost (UDP sends one datagram at a time). */
  doneAt(batch: FrameBatch, i: number): void {
    const t = batch.tickets?.[i];
    if (t !== undefined) {
      batch.tickets![i] = undefined;
      t.settle();
    }
  }

  /**
   * Takes up to `maxLines` lines and about `maxBytes` bytes (at least one line), preceded by the
   * L10 frame owed, if any. Returns null when there is nothing to send.
   */
  take(maxLines: number, maxBytes: number): FrameBatch | null {
    if (!this.pending) return null;
    const frames: Buffer[] = [];
    const tickets = this.tickets;
    let batchTickets: (SettleTicket | undefined)[] | undefined;
    let bytes = 0;
    let l10: FrameBatch['l10'] = null;
    if (this.unreported > 0) {
      l10 = { count: this.unreported, since: this.unreportedSince };
      const f = this.l10Frame(l10.count, l10.since);
      frames.push(f);
      bytes += f.length;
      this.unreported = 0;
      this.unreportedSince = 0;
    }
    const cap = this.capacity;
    let lines = 0;
    while (this.count > 0 && lines < maxLines) {
      const f = this.ring[this.head] as Buffer;
      if (lines > 0 && bytes + f.length > maxBytes) break;
      if (tickets !== null) {
        const t = tickets[this.head];
        if (t !== undefined) {
          tickets[this.head] = undefined;
          (batchTickets ??= new Array(l10 ? 1 : 0))[frames.length] = t;
        }
      }
      this.ring[this.head] = undefined;
      this.head = this.head + 1 === cap ? 0 : this.head + 1;
      this.count--;
      this.byteCount -= f.length;
      frames.push(f);
      bytes += f.length;
      lines++;
    }
    return batchTickets !== undefined ? { frames, lines, bytes, l10, tickets: batchTickets } : { frames, lines, bytes, l10 };
  }

  /**
   * Puts a batch that was not delivered back at the front (oldest first), keeping the bound:
   * lines that no longer fit are dropped (the oldest of the batch) and counted; an L10 report
   * the batch carried is owed again.
   */
  requeue(batch: FrameBatch): void {
    const now = Date.now();
    if (batch.l10) this.oweReport(batch.l10);
    const start = batch.l10 ? 1 : 0;
    const cap = this.capacity;
    const tickets = batch.tickets;
    batch.tickets = undefined;
    for (let i = batch.frames.length - 1; i >= start; i--) {
      if (this.count === cap) {
        this.noteDropped(i - start + 1, now);
        if (tickets !== undefined) for (let j = start; j <= i; j++) tickets[j]?.settle();
        break;
      }
      this.head = this.head === 0 ? cap - 1 : this.head - 1;
      this.ring[this.head] = batch.frames[i];
      const t = tickets?.[i];
      if (t !== undefined) (this.tickets ??= new Array(cap))[this.head] = t;
      this.count++;
      this.byteCount += batch.frames[i].length;
    }
  }

  /** An L10 report that was not delivered is owed again (its lines are already counted). */
  oweReport(l10: { count: number; since: number }): void {
    if (this.unreported === 0 || l10.since < this.unreportedSince) this.unreportedSince = l10.since;
    this.unreported += l10.count;
  }

  /** Counts lines lost elsewhere (e.g. a UDP send error) so the next L10 reports them. */
  noteDropped(n: number, since: number): void {
    if (n <= 0) return;
    if (this.unreported === 0 || since < this.unreportedSince) this.unreportedSince = since;
    this.unreported += n;
    this.droppedTotal += n;
  }

  /** Empties the queue (drain removed); returns the number of lines discarded. */
  clear(): number {
    const n = this.count;
    if (this.tickets !== null) {
      const tickets = this.tickets;
      this.tickets = null;
      for (const t of tickets) t?.settle();
    }
    this.ring.fill(undefined);
    this.head = 0;
    this.count = 0;
    this.byteCount = 0;
    return n;
  }
}
