import { write, writeSync } from 'node:fs';
import type { BusStatsSnapshot } from '../../shared/bus/bus-metrics.js';

/**
 * Where router log lines go. `write` is called on the request path: it must never block or
 * throw. The shuttle shipper (msgpack to the log shuttle) implements the same interface.
 */
export interface AccessLogSink {
  write(app: string, line: string, time: number): void;
  close?(): Promise<void>;
  /** the bus client's counters, when lines go to the bus */
  busStats?(): BusStatsSnapshot | null;
}

const MAX_PENDING_BYTES = 8 * 1024 * 1024;
const INITIAL_BYTES = 128 * 1024;
/** a batch this large is written at the end of the loop turn */
const FLUSH_BYTES = 64 * 1024;
/** a smaller one waits at most this long for more lines (like nginx's `access_log … buffer= flush=`) */
const FLUSH_MS = 50;

/** sinks with lines waiting, written synchronously when the thread or process exits */
const live = new Set<StdoutAccessLog>();
let exitHook = false;
/** room always kept for the overflow report line */
const REPORT_RESERVE = 128;

/** Buffer#utf8Write (untyped in @types/node): encodes at an offset without Buffer#write's argument juggling */
function utf8Write(buf: Buffer, s: string, offset: number, length: number): number {
  return (buf as unknown as { utf8Write(s: string, offset: number, length: number): number }).utf8Write(s, offset, length);
}

/**
 * Lines to stdout (fd 1), encoded straight into a preallocated buffer and written with one
 * asynchronous fs.write per batch: no array of strings, no join, no string copy for the thread
 * pool, and a stalled stdout reader never blocks a request. A batch goes out at the end of the
 * loop turn once it holds 64 KiB, else 50 ms after its first line (each fs.write is a round trip
 * through the thread pool: batching keeps it off the per-request cost). Two buffers take turns
 * (one being written, one filling), each growing up to 8 MiB; past 8 MiB waiting, lines are
 * dropped and counted, and the count is printed as a line once stdout drains. What waits when
 * the thread exits is written synchronously. The bytes are the lines as UTF-8, each followed by
 * `\n`.
 */
export class StdoutAccessLog implements AccessLogSink {
  private readonly fd: number;
  private buf: Buffer = Buffer.allocUnsafeSlow(INITIAL_BYTES);
  private len = 0;
  /** the other buffer, free once the write in flight is done */
  private spare: Buffer = Buffer.allocUnsafeSlow(INITIAL_BYTES);
  private writing = false;
  /** a flush is due: at the end of the turn (immediate) or after FLUSH_MS (timer) */
  private immediate: ReturnType<typeof setImmediate> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private dropped = 0;

  /** `fd` is for tests; the router writes to stdout */
  constructor(fd = 1) {
    this.fd = fd;
    live.add(this);
    if (!exitHook) {
      exitHook = true;
      process.on('exit', () => {
        for (const sink of live) sink.flushSync();
      });
    }
  }

  write(_app: string, line: string): void {
    const len = this.len;
    let room = this.buf.length - len - REPORT_RESERVE;
    // a UTF-16 unit is at most 3 bytes of UTF-8: a line that fits that bound is written as is
    if (line.length * 3 + 1 > room) {
      const need = Buffer.byteLength(line) + 1;
      if (need > room && !this.grow(len + need + REPORT_RESERVE)) {
        this.dropped++;
        return;
      }
      room = this.buf.length - len - REPORT_RESERVE;
    }
    const n = utf8Write(this.buf, line, len, room);
    this.buf[len + n] = 0x0a;
    this.len = len + n + 1;
    if (!this.writing) this.schedule();
  }

  private schedule(): void {
    if (this.immediate !== null) return;
    if (this.len >= FLUSH_BYTES || this.dropped > 0) {
      this.immediate = setImmediate(this.flush);
    } else if (this.timer === null) {
      this.timer = setTimeout(this.flush, FLUSH_MS);
      this.timer.unref();
    }
  }

  /** A larger buffer for the lines waiting, up to the bound; false past it. */
  private grow(min: number): boolean {
    if (this.len > MAX_PENDING_BYTES) return false;
    let size = this.buf.length * 2;
    while (size < min) size *= 2;
    const bigger = Buffer.allocUnsafeSlow(size);
    this.buf.copy(bigger, 0, 0, this.len);
    this.buf = bigger;
    return true;
  }

  private readonly flush = (): void => {
    if (this.immediate !== null) {
      clearImmediate(this.immediate);
      this.immediate = null;
    }
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.writing || (this.len === 0 && this.dropped === 0)) return;
    this.addReport();
    const out = this.buf;
    const n = this.len;
    this.buf = this.spare;
    this.spare = out;
    this.len = 0;
    this.writing = true;
    this.writeOut(out, 0, n);
  };

  /** Writes out[from, to) to the end (fs.write may write less than asked), then flushes what came meanwhile. */
  private writeOut(out: Buffer, from: number, to: number): void {
    write(this.fd, out, from, to - from, null, (err, written) => {
      if (!err && from + written < to) {
        this.writeOut(out, from + written, to);
        return;
      }
      if (err?.code === 'EAGAIN') {
        // a non-blocking stdout that is full: try again shortly (the lines are kept, not lost)
        setTimeout(() => this.writeOut(out, from, to), 5);
        return;
      }
      this.writing = false;
      if (this.len > 0 || this.dropped > 0) this.schedule();
    });
  }

  /** The overflow count as a line of its own (room for it is always kept). */
  private addReport(): void {
    if (this.dropped > 0) {
      const report = `at=error code=L10 desc="stdout overflow" dropped=${this.dropped}\n`;
      this.len += this.buf.write(report, this.len, 'latin1');
      this.dropped = 0;
    }
  }

  /** At exit: what waits is written now (after a write in flight, if any, has been handed over). */
  private flushSync(): void {
    this.addReport();
    let from = 0;
    try {
      while (from < this.len) from += writeSync(this.fd, this.buf, from, this.len - from);
    } catch {
      // stdout is gone: nothing more to do
    }
    this.len = 0;
  }

  async close(): Promise<void> {
    this.flush();
    for (let i = 0; i < 100 && (this.writing || this.len > 0); i++) {
      await new Promise((r) => setTimeout(r, 10));
      if (!this.writing) this.flush();
    }
    live.delete(this);
  }
}
