import { copyBytes } from './copy-bytes.js';
import { writeFrameTailLine } from '../tail/frame-line.js';

/** smallest byte store; the first line gets room for itself and half as much again */
const MIN_BYTES = 64;
const FIRST_ROOM = 1.5;
/** growth while the ring fills (small steps: the stores freed are reused by the next rings growing, less RSS), and once it holds `capacity` lines (line sizes drift slowly) */
const GROW = 1.15;
const GROW_FULL = 1.06;
/** shrink once the held lines use less than this share of the storage, to this much above them */
const SHRINK_BELOW = 0.6;
const SHRINK_BELOW_FULL = 0.8;
const SHRINK_TO = 1.15;
const SHRINK_TO_FULL = 1.03;
/**
 * once it holds this many lines, a filling ring grows no further than `capacity` lines of their
 * average size need (times SHRINK_TO_FULL); when it fills it is shrunk only if its store is
 * over SHRINK_FIRST_FULL times the bytes held (a copy less per ring, and less memory freed
 * into the allocator's free lists: the RSS of 10,000 rings filling at once)
 */
const PROJECT_AFTER = 16;
const SHRINK_FIRST_FULL = 1.07;
/** index slots of a new ring; doubled as lines come, up to `capacity` */
const FIRST_SLOTS = 4;

let scratch = Buffer.allocUnsafeSlow(64 * 1024);
const EMPTY = Buffer.alloc(0);
/** a lone frame's `LEN SP` (pushFrame) */
const lenHead = Buffer.allocUnsafeSlow(16);
const SP = 0x20;

/** where a held line starts in the store: its index entry is the offset, or `~offset` (negative) for a frame */
function offsetOf(entry: number): number {
  return entry < 0 ? ~entry : entry;
}

/** digits of the octet count `n` (no leading zeros) */
function countDigits(n: number): number {
  return n < 10 ? 1 : n < 100 ? 2 : n < 1000 ? 3 : n < 10000 ? 4 : n < 100000 ? 5 : String(n).length;
}

/**
 * The newest `capacity` lines of one app, as UTF-8 bytes in one circular byte store with an
 * Int32 index of line starts: O(1) amortised append, no object per line. Both grow with the
 * lines held, so an app with one line costs a few hundred bytes; a full ring's storage stays
 * within ~1.06x of the bytes held plus 4 bytes of index per line.
 *
 * A line is held in one of two forms, told apart by its index entry: a tail line (opaque bytes,
 * the formatted tail line with its LF: `push`, `pushBytes`), or a canonical syslog
 * frame `LEN SP MSG` as received (`pushFrames`, `pushFrame`; index entry `~offset`), whose tail
 * line is written only when it is read (tail/frame-line.ts). A run of frames of the app, back
 * to back in a received chunk, goes in with one copy and no formatting. Readers (`newest`,
 * `newestLines`) always get tail lines. `bytesHeld` counts the bytes as stored: a frame is
 * ~10 bytes longer than its tail line.
 */
export class AppRing {
  readonly capacity: number;
  private store: Buffer;
  /** start offset of each held line in `store`, circular over `starts.length` slots */
  private starts: Int32Array;
  private first = 0; // slot of the oldest line
  private count = 0;
  private byteHead = 0; // offset of the oldest line's first byte
  private byteTail = 0; // offset one past the newest line's last byte
  private used = 0;
  private full = false;
  /** lines pushed out by newer ones since the ring was created */
  evicted = 0;
  /** epoch ms of the last line (kept here: one object per app) */
  lastLineAt = 0;
  /** the app's name, and its neighbours in the least-recently-written list (app-rings.ts) */
  app = '';
  older: AppRing | null = null;
  newer: AppRing | null = null;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.starts = new Int32Array(Math.min(capacity, FIRST_SLOTS));
    this.store = EMPTY;
  }

  get length(): number {
    return this.count;
  }

  /** bytes of the lines held */
  get bytesHeld(): number {
    return this.used;
  }

  /** bytes allocated for the lines and their index */
  get bytesAllocated(): number {
    return this.store.length + this.starts.byteLength;
  }

  /** Appends one line; the oldest goes when the ring holds `capacity` lines. */
  push(line: string): void {
    let n = Buffer.byteLength(line, 'utf8');
    if (n > scratch.length) scratch = Buffer.allocUnsafeSlow(n * 2);
    n = scratch.write(line, 0, 'utf8');
    this.pushBytes(scratch, 0, n);
  }

  /** Appends bytes `src[from, to)` as one line. */
  pushBytes(src: Buffer, from: number, to: number): void {
    const n = to - from;
    this.copyIn(src, from, to, this.beginLine(n));
    this.endLine(n);
  }

  /**
   * Makes room for a line of `n` bytes (the oldest goes when the ring holds `capacity` lines)
   * and returns the offset in the store where it starts. The caller writes the line there,
   * going on at offset 0 past the store's end (`copyIn`), then calls
   * `endLine(n)`; nothing else may touch the ring in between.
   */
  private beginLine(n: number, frame = false): number {
    if (this.count === this.capacity) this.dropOldest();
    else if (this.count === this.starts.length) this.growIndex();
    this.roomFor(n);
    let at = this.byteTail;
    if (this.count === 0) at = this.byteHead = 0;
    let slot = this.first + this.count;
    if (slot >= this.starts.length) slot -= this.starts.length;
    this.starts[slot] = frame ? ~at : at;
    return at;
  }

  /** Grows (or shrinks) the store so that `n` more bytes fit after the lines held. */
  private roomFor(n: number): void {
    const size0 = this.store.length;
    if (size0 - this.used < n) {
      let grown = this.store === EMPTY ? Math.ceil(n * FIRST_ROOM) : Math.ceil(size0 * (this.full ? GROW_FULL : GROW));
      if (!this.full && this.count >= PROJECT_AFTER) {
        // not past what the full ring will need at the lines' average size (no shrinking copy when it fills)
        const projected = Math.ceil((this.used / this.count) * this.capacity * SHRINK_TO_FULL);
        if (grown > projected) grown = projected;
      }
      this.resize(Math.max(grown, this.used + n));
    } else if (this.count > 8 && size0 > MIN_BYTES * 4 && (this.used + n) < size0 * (this.full ? SHRINK_BELOW_FULL : SHRINK_BELOW)) {
      this.resize(Math.ceil((this.used + n) * (this.full ? SHRINK_TO_FULL : SHRINK_TO)));
    }
  }

  /**
   * Appends the canonical frame `src[from, to)` (the message from PRI on, canonical-frame.ts)
   * as one line, stored as `LEN SP` and those bytes.
   */
  pushFrame(src: Buffer, from: number, to: number): void {
    const len = to - from;
    const digits = countDigits(len);
    let d = digits;
    lenHead[d] = SP;
    for (let v = len; d > 0; v = Math.floor(v / 10)) lenHead[--d] = 0x30 + (v % 10);
    const n = digits + 1 + len;
    this.copyIn(src, from, to, this.copyIn(lenHead, 0, digits + 1, this.beginLine(n, true)));
    this.endLine(n);
  }

  /**
   * Appends the `lines` canonical frames `src[from, to)`, each `LEN SP MSG` (no leading zeros),
   * back to back as received: one copy of the bytes, then an index entry per frame. When the
   * run holds more than `capacity` frames, the ones it pushes out itself are skipped (counted
   * as evicted, as line by line).
   */
  pushFrames(src: Buffer, from: number, to: number, lines: number): void {
    if (lines > this.capacity) {
      for (let k = lines - this.capacity; k > 0; k--) from = this.frameEnd(src, from);
      this.evicted += lines - this.capacity;
      lines = this.capacity;
    }
    const total = to - from;
    if (this.count + lines > this.capacity) this.dropOldestN(this.count + lines - this.capacity);
    while (this.count + lines > this.starts.length) this.growIndex();
    this.roomFor(total);
    let at = this.byteTail;
    if (this.count === 0) at = this.byteHead = 0;
    this.copyIn(src, from, to, at);
    const size = this.store.length;
    const starts = this.starts;
    const slots = starts.length;
    let slot = this.first + this.count;
    if (slot >= slots) slot -= slots;
    let p = from;
    let o = at;
    for (let k = 0; k < lines; k++) {
      starts[slot] = ~o;
      const s = p;
      p = this.frameEnd(src, p);
      o += p - s;
      if (o >= size) o -= size;
      if (++slot === slots) slot = 0;
    }
    if (p !== to) throw new Error(`AppRing.pushFrames: ${lines} frames end at ${p}, not ${to}`);
    this.byteTail = o;
    this.used += total;
    this.count += lines;
    this.settleFull();
  }

  /** the offset after the `LEN SP MSG` frame at `src[p]` */
  private frameEnd(src: Buffer, p: number): number {
    let len = 0;
    let c = src[p];
    while (c !== SP) {
      len = len * 10 + c - 0x30;
      c = src[++p];
    }
    return p + 1 + len;
  }

  /** Copies `src[from, to)` into the store at `at`, going on at 0 past its end; returns the offset after it. */
  private copyIn(src: Buffer, from: number, to: number, at: number): number {
    const store = this.store;
    const room = store.length - at;
    const n = to - from;
    if (n < room) {
      copyBytes(src, from, to, store, at);
      return at + n;
    }
    copyBytes(src, from, from + room, store, at);
    copyBytes(src, from + room, to, store, 0);
    return n - room;
  }

  /** The line begun by `beginLine(n)` is written. */
  private endLine(n: number): void {
    const size = this.store.length;
    let at = this.byteTail;
    if (this.count === 0) at = this.byteHead;
    at += n;
    if (at >= size) at -= size;
    this.byteTail = at;
    this.used += n;
    this.count++;
    this.settleFull();
  }

  private settleFull(): void {
    if (!this.full && this.count === this.capacity) {
      // full for the first time: from now on the storage follows the bytes held closely
      this.full = true;
      if (this.store.length > this.used * SHRINK_FIRST_FULL) this.resize(Math.ceil(this.used * SHRINK_TO_FULL));
    }
  }

  private lineLength(i: number): number {
    // i-th held line, 0 = oldest
    const slots = this.starts.length;
    const slot = (this.first + i) % slots;
    const start = offsetOf(this.starts[slot]);
    const end = i + 1 < this.count ? offsetOf(this.starts[(slot + 1) % slots]) : this.byteTail;
    const len = end - start;
    return len > 0 || (len === 0 && this.used === 0) ? len : len + this.store.length;
  }

  private dropOldest(): void {
    const len = this.lineLength(0);
    this.used -= len;
    this.first = (this.first + 1) % this.starts.length;
    this.count--;
    this.evicted++;
    this.byteHead = this.count === 0 ? this.byteTail : offsetOf(this.starts[this.first]);
  }

  /** Drops the `k` oldest lines (k <= count). */
  private dropOldestN(k: number): void {
    if (k === this.count) {
      this.used = 0;
      this.first = 0;
      this.count = 0;
      this.evicted += k;
      this.byteHead = this.byteTail;
      return;
    }
    let slot = this.first + k;
    if (slot >= this.starts.length) slot -= this.starts.length;
    const head = offsetOf(this.starts[slot]);
    let dropped = head - this.byteHead;
    if (dropped < 0) dropped += this.store.length;
    if (dropped === 0) {
      // (empty lines, or lines filling the whole store: one by one)
      for (let i = 0; i < k; i++) this.dropOldest();
      return;
    }
    this.used -= dropped;
    this.first = slot;
    this.count -= k;
    this.evicted += k;
    this.byteHead = head;
  }

  /** Doubles the index (up to `capacity` slots), oldest line in slot 0. */
  private growIndex(): void {
    const old = this.starts;
    const next = new Int32Array(Math.min(this.capacity, old.length * 2));
    for (let i = 0; i < this.count; i++) next[i] = old[(this.first + i) % old.length];
    this.starts = next;
    this.first = 0;
  }

  private resize(size: number): void {
    const next = Buffer.allocUnsafeSlow(Math.max(MIN_BYTES, size));
    const old = this.store;
    const oldSize = old.length;
    const head = this.byteHead;
    const used = this.used;
    // the held bytes, oldest first, to offset 0
    if (used > 0) {
      if (head + used <= oldSize) {
        old.copy(next, 0, head, head + used);
      } else {
        old.copy(next, 0, head, oldSize);
        old.copy(next, oldSize - head, 0, used - (oldSize - head));
      }
    }
    // rebase the index: every line moves back by `head`, round the old store
    const starts = this.starts;
    const slots = starts.length;
    let slot = this.first;
    for (let i = 0; i < this.count; i++) {
      const v = starts[slot];
      let o = (v < 0 ? ~v : v) - head;
      if (o < 0) o += oldSize;
      starts[slot] = v < 0 ? ~o : o;
      if (++slot === slots) slot = 0;
    }
    this.store = next;
    this.byteHead = 0;
    this.byteTail = used === next.length ? 0 : used;
  }

  /** Copies held lines [i, j) (0 = oldest) into `dst` at `at`; returns the bytes written. */
  private copyOut(i: number, j: number, dst: Buffer, at: number): number {
    if (i >= j) return 0;
    const size = this.store.length;
    const start = offsetOf(this.starts[(this.first + i) % this.starts.length]);
    let total = 0;
    for (let k = i; k < j; k++) total += this.lineLength(k);
    if (start + total <= size) {
      this.store.copy(dst, at, start, start + total);
    } else {
      const room = size - start;
      this.store.copy(dst, at, start, size);
      this.store.copy(dst, at + room, 0, total - room);
    }
    return total;
  }

  /**
   * The newest `n` held lines (oldest first) as tail lines, concatenated, in a new Buffer; with
   * `lens`, each line's length is pushed onto it.
   */
  newest(n: number, lens?: number[]): Buffer {
    const k = Math.max(0, Math.min(n, this.count));
    let total = 0;
    let frames = false;
    const slots = this.starts.length;
    for (let i = this.count - k; i < this.count; i++) {
      total += this.lineLength(i);
      if (this.starts[(this.first + i) % slots] < 0) frames = true;
    }
    const held = Buffer.allocUnsafe(total);
    this.copyOut(this.count - k, this.count, held, 0);
    if (!frames) {
      if (lens !== undefined) for (let i = this.count - k; i < this.count; i++) lens.push(this.lineLength(i));
      return held;
    }
    // frames become their tail lines (never longer than the frame)
    const out = Buffer.allocUnsafe(total);
    let from = 0;
    let at = 0;
    for (let i = this.count - k; i < this.count; i++) {
      const len = this.lineLength(i);
      const start = at;
      if (this.starts[(this.first + i) % slots] < 0) at = writeFrameTailLine(held, from, from + len, out, at);
      else at = copyBytes(held, from, from + len, out, at);
      lens?.push(at - start);
      from += len;
    }
    return out.subarray(0, at);
  }

  /** The newest `n` lines (oldest first) as separate strings (tail lines). */
  newestLines(n: number): string[] {
    const lens: number[] = [];
    const all = this.newest(n, lens);
    const lines: string[] = [];
    let off = 0;
    for (const len of lens) {
      lines.push(all.toString('utf8', off, off + len));
      off += len;
    }
    return lines;
  }
}
