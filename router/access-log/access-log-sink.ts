import { write } from 'node:fs';

/**
 * Where router log lines go. `write` is called on the request path: it must never block or
 * throw. The shuttle shipper (msgpack to the log shuttle) implements the same interface.
 */
export interface AccessLogSink {
  write(app: string, line: string, time: number): void;
  close?(): Promise<void>;
}

const MAX_PENDING_BYTES = 8 * 1024 * 1024;
const INITIAL_BYTES = 64 * 1024;
/** room always kept for the overflow report line */
const REPORT_RESERVE = 128;

/** Buffer#utf8Write (untyped in @types/node): encodes at an offset without Buffer#write's argument juggling */
function utf8Write(buf: Buffer, s: string, offset: number, length: number): number {
  return (buf as unknown as { utf8Write(s: string, offset: number, length: number): number }).utf8Write(s, offset, length);
}

/**
 * Lines to stdout (fd 1), encoded straight into a preallocated buffer and written once per loop
 * turn with one asynchronous fs.write: no array of strings, no join, no string copy for the
 * thread pool, and a stalled stdout reader never blocks a request. Two buffers take turns (one
 * being written, one filling), each growing up to 8 MiB; past 8 MiB waiting, lines are dropped
 * and counted, and the count is printed as a line once stdout drains. The bytes are the lines
 * as UTF-8, each followed by `\n`.
 */
export class StdoutAccessLog implements AccessLogSink {
  private readonly fd: number;
  private buf: Buffer = Buffer.allocUnsafeSlow(INITIAL_BYTES);
  private len = 0;
  /** the other buffer, free once the write in flight is done */
  private spare: Buffer = Buffer.allocUnsafeSlow(INITIAL_BYTES);
  private writing = false;
  private scheduled = false;
  private dropped = 0;

  /** `fd` is for tests; the router writes to stdout */
  constructor(fd = 1) {
    this.fd = fd;
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
    if (!this.scheduled && !this.writing) {
      this.scheduled = true;
      setImmediate(this.flush);
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
    this.scheduled = false;
    if (this.writing || (this.len === 0 && this.dropped === 0)) return;
    if (this.dropped > 0) {
      const report = `at=error code=L10 desc="stdout overflow" dropped=${this.dropped}\n`;
      this.len += this.buf.write(report, this.len, 'latin1');
      this.dropped = 0;
    }
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
      if (this.len > 0 || this.dropped > 0) this.flush();
    });
  }

  async close(): Promise<void> {
    for (let i = 0; i < 100 && (this.writing || this.len > 0); i++) {
      if (!this.writing) this.flush();
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}
