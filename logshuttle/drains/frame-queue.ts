import { copyBytes } from '../buffer/copy-bytes.js';
import type { SettleTicket } from './settle-ticket.js';

/**
 * A drain's bounded queue of encoded frames, at most `capacity` LINES. It holds entries, oldest
 * first: an entry is either one frame pushed as a Buffer (`push`, one line: the general path's
 * encoded frames, bus-mode lines with their SettleTicket), or a run of octet-counted frames
 * (`LEN SP MSG`, several lines) copied into the queue's current block (`appendFrame`,
 * `appendFrames`): consecutive frames of the drain's app are written once, back to back, and
 * grow one entry, so a line costs no object of its own. When full, the oldest LINE goes and is
 * counted (an entry of several frames loses its first frame: frames carry their own length);
 * the next batch taken starts with an L10 frame reporting the count, so delivered + reported
 * dropped = lines handed to the drain. A line may carry a SettleTicket (bus mode, one-frame
 * entries only): it is settled when the line is dropped here, and by the sender (`done`) once
 * the batch holding it is delivered. Block bytes are written once and never reused: a batch's
 * chunks are views of them and stay valid however long a socket holds them.
 */

/** Frames taken from the queue for one write (or one HTTPS POST). */
export interface FrameBatch {
  /** byte chunks to send in order; a chunk holds one or more whole frames */
  frames: Buffer[];
  /** app lines in `frames` (the L10 frame, if any, is not one) */
  lines: number;
  bytes: number;
  /** when set, frames[0] is an L10 frame reporting `count` lines dropped since `since` */
  l10: { count: number; since: number } | null;
  /** bus mode: the tickets of the chunks, aligned with `frames` (undefined for the L10 frame and lines without one) */
  tickets?: (SettleTicket | undefined)[];
  /** lines in each chunk, aligned with `frames` (0 for the L10 frame); absent when every other chunk is one line */
  counts?: number[];
}

/** Builds the L10 frame for `count` lines dropped since epoch ms `since`. */
export type L10FrameBuilder = (count: number, since: number) => Buffer;

/** entry slots of a new queue; doubled as entries come, up to `capacity` */
const FIRST_SLOTS = 16;
/**
 * Blocks for appended frames: sized to twice what the queue holds or lately sent in one batch
 * (whichever is more) with the new frames, within these bounds (or one run, if longer): a busy
 * drain gets blocks of several batches, a quiet one small blocks. An empty queue keeps a block
 * up to KEEP_BLOCK (an idle drain holds no more), a bigger one goes.
 */
const MIN_BLOCK = 2048;
const MAX_BLOCK = 64 * 1024;
const KEEP_BLOCK = 8 * 1024;

/** Offset after the octet-counted frame at `at` (`LEN SP MSG`). */
export function frameEnd(buf: Uint8Array, at: number): number {
  let len = 0;
  let c = buf[at];
  while (c !== 0x20) {
    len = len * 10 + (c - 0x30);
    c = buf[++at];
  }
  return at + 1 + len;
}

function digitsOf(n: number): number {
  return n < 10 ? 1 : n < 100 ? 2 : n < 1000 ? 3 : n < 10000 ? 4 : n < 100000 ? 5 : String(n).length;
}

export class FrameQueue {
  /** entry ring: the Buffer holding the entry, its bytes [start, end) and its lines */
  private bufs: (Buffer | undefined)[];
  private starts: Int32Array;
  private ends: Int32Array;
  private counts: Int32Array;
  /** tickets aligned with the entry ring; allocated at the first line that has one */
  private tickets: (SettleTicket | undefined)[] | null = null;
  private head = 0;
  private entries = 0;
  /** lines held */
  private count = 0;
  private byteCount = 0;
  /** where appended frames go: `block[blockPos..]` is unwritten */
  private block: Buffer | null = null;
  private blockPos = 0;
  /** bytes of the last batch taken, halved at each batch since a bigger one: sizes the next block */
  private demand = 0;
  /** dropped and not yet reported in an L10 frame */
  private unreported = 0;
  private unreportedSince = 0;
  /** every line ever dropped from this queue */
  droppedTotal = 0;

  constructor(readonly capacity: number, private readonly l10Frame: L10FrameBuilder) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
    const slots = Math.min(capacity, FIRST_SLOTS);
    this.bufs = new Array<Buffer | undefined>(slots).fill(undefined);
    this.starts = new Int32Array(slots);
    this.ends = new Int32Array(slots);
    this.counts = new Int32Array(slots);
  }

  /** lines held */
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

  /** One line: `frame` as one entry (kept as given, not copied). */
  push(frame: Buffer, ticket?: SettleTicket): void {
    if (this.count === this.capacity) this.dropLines(1, Date.now());
    const i = this.newEntry();
    this.bufs[i] = frame;
    this.starts[i] = 0;
    this.ends[i] = frame.length;
    this.counts[i] = 1;
    if (ticket !== undefined) (this.tickets ??= new Array<SettleTicket | undefined>(this.bufs.length).fill(undefined))[i] = ticket;
    this.count++;
    this.byteCount += frame.length;
  }

  /** One line: the frame `LEN SP src[from, to)`, written into the current block. */
  appendFrame(src: Uint8Array, from: number, to: number): void {
    const n = to - from;
    const digits = digitsOf(n);
    const total = digits + 1 + n;
    if (this.count === this.capacity) this.dropLines(1, Date.now());
    const i = this.openEntry(total);
    const b = this.block!;
    let at = this.blockPos + digits;
    for (let v = n, k = at - 1; k >= this.blockPos; k--, v = Math.floor(v / 10)) b[k] = 0x30 + (v % 10);
    b[at++] = 0x20;
    at = copyBytes(src, from, to, b, at);
    this.blockPos = at;
    this.ends[i] = at;
    this.counts[i]++;
    this.count++;
    this.byteCount += total;
  }

  /**
   * `lines` lines: `src[from, to)` holds exactly that many whole octet-counted frames
   * (`LEN SP MSG`, the count without leading zeros), copied once into the current block.
   */
  appendFrames(src: Uint8Array, from: number, to: number, lines: number): void {
    if (lines <= 0) return;
    const cap = this.capacity;
    if (lines > cap) {
      // only the newest `capacity` frames of the run can be held: the older ones are dropped now
      const skip = lines - cap;
      for (let k = 0; k < skip; k++) from = frameEnd(src, from);
      this.noteDropped(skip, Date.now());
      lines = cap;
    }
    if (this.count + lines > cap) this.dropLines(this.count + lines - cap, Date.now());
    const total = to - from;
    const i = this.openEntry(total);
    const b = this.block!;
    if (total > 256) b.set(src.subarray(from, to), this.blockPos);
    else copyBytes(src, from, to, b, this.blockPos);
    this.blockPos += total;
    this.ends[i] = this.blockPos;
    this.counts[i] += lines;
    this.count += lines;
    this.byteCount += total;
  }

  /** The entry appended frames of `total` bytes go to: the last one if it ends where the block's free room starts. */
  private openEntry(total: number): number {
    const b = this.block;
    if (b !== null && this.blockPos + total <= b.length) {
      if (this.entries > 0) {
        let last = this.head + this.entries - 1;
        if (last >= this.bufs.length) last -= this.bufs.length;
        if (this.bufs[last] === b && this.ends[last] === this.blockPos) return last;
      }
    } else {
      // a block sized to what the queue holds (so a quiet drain keeps a small one), or to the run
      let size = MIN_BLOCK;
      const want = 2 * (Math.max(this.byteCount, this.demand) + total);
      while (size < want && size < MAX_BLOCK) size *= 2;
      this.block = Buffer.allocUnsafe(Math.max(size, total));
      this.blockPos = 0;
    }
    const i = this.newEntry();
    this.bufs[i] = this.block!;
    this.starts[i] = this.blockPos;
    this.ends[i] = this.blockPos;
    this.counts[i] = 0;
    return i;
  }

  /** A slot after the last entry (the ring grows when full), counted as an entry. */
  private newEntry(): number {
    let slots = this.bufs.length;
    if (this.entries === slots) {
      this.grow();
      slots = this.bufs.length;
    }
    let i = this.head + this.entries;
    if (i >= slots) i -= slots;
    this.entries++;
    return i;
  }

  /** Doubles the entry ring (there are fewer entries than lines, so at most `capacity` slots). */
  private grow(): void {
    const old = this.bufs.length;
    const slots = Math.min(this.capacity, old * 2);
    const bufs = new Array<Buffer | undefined>(slots).fill(undefined);
    const starts = new Int32Array(slots);
    const ends = new Int32Array(slots);
    const counts = new Int32Array(slots);
    const tickets = this.tickets !== null ? new Array<SettleTicket | undefined>(slots).fill(undefined) : null;
    for (let k = 0; k < this.entries; k++) {
      const j = (this.head + k) % old;
      bufs[k] = this.bufs[j];
      starts[k] = this.starts[j];
      ends[k] = this.ends[j];
      counts[k] = this.counts[j];
      if (tickets !== null) tickets[k] = this.tickets![j];
    }
    this.bufs = bufs;
    this.starts = starts;
    this.ends = ends;
    this.counts = counts;
    this.tickets = tickets;
    this.head = 0;
  }

  /** Removes the oldest entry. */
  private shift(): void {
    const h = this.head;
    this.bufs[h] = undefined;
    this.head = h + 1 === this.bufs.length ? 0 : h + 1;
    this.entries--;
  }

  /** Drops the `n` oldest lines (n ≤ lines held), counted as dropped at `now`; their tickets settle. */
  private dropLines(n: number, now: number): void {
    this.noteDropped(n, now);
    this.count -= n;
    while (n > 0) {
      const h = this.head;
      const c = this.counts[h];
      if (c <= n) {
        n -= c;
        this.byteCount -= this.ends[h] - this.starts[h];
        if (this.tickets !== null) this.settleAt(h);
        this.shift();
      } else {
        const b = this.bufs[h]!;
        let at = this.starts[h];
        for (let k = 0; k < n; k++) at = frameEnd(b, at);
        this.byteCount -= at - this.starts[h];
        this.starts[h] = at;
        this.counts[h] = c - n;
        n = 0;
      }
    }
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

  /** One chunk of the batch was delivered or lost (UDP sends one datagram at a time). */
  doneAt(batch: FrameBatch, i: number): void {
    const t = batch.tickets?.[i];
    if (t !== undefined) {
      batch.tickets![i] = undefined;
      t.settle();
    }
  }

  /**
   * Takes up to `maxLines` lines and about `maxBytes` bytes (at least one line), preceded by the
   * L10 frame owed, if any. Returns null when there is nothing to send. Each entry taken whole
   * is one chunk; an entry of several frames may be cut between frames.
   */
  take(maxLines: number, maxBytes: number): FrameBatch | null {
    if (!this.pending) return null;
    const frames: Buffer[] = [];
    const tickets = this.tickets;
    let batchTickets: (SettleTicket | undefined)[] | undefined;
    let batchCounts: number[] | undefined;
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
    let lines = 0;
    while (this.entries > 0 && lines < maxLines) {
      const h = this.head;
      const buf = this.bufs[h]!;
      const start = this.starts[h];
      const end = this.ends[h];
      const c = this.counts[h];
      if (c === 0) {
        // an empty entry (a block's first run not appended yet cannot be; kept for safety)
        this.shift();
        continue;
      }
      let chunk: Buffer;
      let taken: number;
      if (lines + c <= maxLines && (lines === 0 || bytes + (end - start) <= maxBytes)
        && (c === 1 || bytes + (end - start) <= maxBytes)) {
        chunk = start === 0 && end === buf.length ? buf : buf.subarray(start, end);
        taken = c;
        if (tickets !== null) {
          const t = tickets[h];
          if (t !== undefined) {
            tickets[h] = undefined;
            (batchTickets ??= new Array<SettleTicket | undefined>(frames.length).fill(undefined))[frames.length] = t;
          }
        }
        this.shift();
      } else if (c > 1) {
        // cut the entry between frames: as many as the limits allow, at least one line per batch
        let at = start;
        taken = 0;
        const maxTake = Math.min(c, maxLines - lines);
        while (taken < maxTake) {
          const next = frameEnd(buf, at);
          if ((lines > 0 || taken > 0) && bytes + (next - start) > maxBytes) break;
          at = next;
          taken++;
        }
        if (taken === 0) break;
        chunk = buf.subarray(start, at);
        this.starts[h] = at;
        this.counts[h] = c - taken;
      } else {
        break;
      }
      if (taken !== 1 || batchCounts !== undefined) {
        if (batchCounts === undefined) {
          batchCounts = new Array<number>(frames.length).fill(1);
          if (l10 !== null) batchCounts[0] = 0;
        }
        batchCounts.push(taken);
      }
      frames.push(chunk);
      bytes += chunk.length;
      this.byteCount -= chunk.length;
      this.count -= taken;
      lines += taken;
      if (taken < c) break;
    }
    this.demand = Math.max(bytes, this.demand >> 1);
    // nothing left: a big block goes (an idle drain holds little memory)
    if (this.entries === 0 && this.block !== null && this.block.length > KEEP_BLOCK) this.block = null;
    const batch: FrameBatch = { frames, lines, bytes, l10 };
    if (batchTickets !== undefined) batch.tickets = batchTickets;
    if (batchCounts !== undefined) batch.counts = batchCounts;
    return batch;
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
    const counts = batch.counts;
    batch.tickets = undefined;
    for (let i = batch.frames.length - 1; i >= start; i--) {
      let chunk = batch.frames[i];
      let c = counts !== undefined ? counts[i] : 1;
      const room = cap - this.count;
      let last = false;
      if (room < c) {
        // the newest `room` frames of this chunk fit (a chunk of several frames carries no
        // ticket); its older frames and every older chunk are dropped
        let dropped = c - room;
        for (let j = start; j < i; j++) dropped += counts !== undefined ? counts[j] : 1;
        this.noteDropped(dropped, now);
        if (tickets !== undefined) for (let j = start; j <= (room > 0 ? i - 1 : i); j++) tickets[j]?.settle();
        if (room === 0) break;
        let at = 0;
        for (let k = 0; k < c - room; k++) at = frameEnd(chunk, at);
        chunk = chunk.subarray(at);
        c = room;
        last = true;
      }
      if (this.entries === this.bufs.length) this.grow();
      this.head = this.head === 0 ? this.bufs.length - 1 : this.head - 1;
      this.entries++;
      const h = this.head;
      this.bufs[h] = chunk;
      this.starts[h] = 0;
      this.ends[h] = chunk.length;
      this.counts[h] = c;
      const t = last ? undefined : tickets?.[i];
      if (t !== undefined) (this.tickets ??= new Array<SettleTicket | undefined>(this.bufs.length).fill(undefined))[h] = t;
      else if (this.tickets !== null) this.tickets[h] = undefined;
      this.count += c;
      this.byteCount += chunk.length;
      if (last) break;
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
    this.bufs.fill(undefined);
    this.head = 0;
    this.entries = 0;
    this.count = 0;
    this.byteCount = 0;
    this.block = null;
    this.blockPos = 0;
    this.demand = 0;
    return n;
  }
}
