/** Longest syslog frame accepted (its message is then split into 10,000-byte lines). */
export const MAX_FRAME_BYTES = 1024 * 1024;

export interface FrameHandler {
  /**
   * One frame, `buf[start, end)`. `head`: where its octet count starts (`buf[head, start)` is
   * `LEN SP`), or -1 for an LF-framed one. `buf` stays as it is until `flush`.
   */
  frame(buf: Buffer, start: number, end: number, head: number): void;
  bad(reason: string): void;
  /** the frames of one received chunk were all handed over (optional) */
  flush?(): void;
}

/** Longest octet count accepted, in digits (leading zeros included). */
const MAX_COUNT_DIGITS = 8;

/**
 * Cuts a syslog TCP byte stream into frames, deciding per frame (RFC 6587): a frame starting
 * with a digit is octet-counted (`LEN SP MSG`), one starting with `<` runs to the next LF (a CR
 * before the LF is not part of it). An octet-counted frame over `maxFrameBytes` is reported
 * bad and its LEN bytes skipped (the frames after it are kept); anything else that is not a
 * frame, and LF frames over the limit, are reported bad and skipped to the next LF. `end()`
 * settles a partial frame when the stream ends. Bytes are scanned in
 * the received Buffers; a partial frame waits for the next chunk, holding at most
 * `maxFrameBytes + 9` bytes. How the stream is cut into chunks never changes the frames.
 */
export class SyslogFramer {
  /** the received Buffers holding the partial frame, oldest first */
  private chunks: Buffer[] = [];
  /** bytes in `chunks` */
  private held = 0;
  /** bytes the held partial frame needs before it can be cut (0: look for LF) */
  private need = 0;
  private skipToLf = false;
  /** bytes of a refused octet-counted frame still to skip */
  private skipBytes = 0;

  constructor(private readonly handler: FrameHandler, private readonly maxFrameBytes = MAX_FRAME_BYTES) {}

  /** true while a partial frame waits for more bytes */
  get pending(): boolean {
    return this.held > 0;
  }

  /** bytes held for a partial frame (at most maxFrameBytes + 9) */
  get heldBytes(): number {
    return this.held;
  }

  push(chunk: Buffer): void {
    if (this.skipBytes > 0) {
      if (chunk.length <= this.skipBytes) {
        this.skipBytes -= chunk.length;
        return;
      }
      chunk = chunk.subarray(this.skipBytes);
      this.skipBytes = 0;
    }
    if (this.skipToLf) {
      const lf = chunk.indexOf(0x0a);
      if (lf < 0) return;
      this.skipToLf = false;
      chunk = chunk.subarray(lf + 1);
    }
    if (this.held > 0) {
      // only the held frame is completed from the new chunk; the rest is scanned where it is
      let take = chunk.length;
      if (this.need > 0) take = Math.min(take, this.need - this.held);
      else {
        const lf = chunk.indexOf(0x0a);
        if (lf >= 0) take = lf + 1;
      }
      const piece = chunk.subarray(0, take);
      this.chunks.push(Buffer.from(piece)); // copy: the caller's buffer may be reused
      this.held += take;
      if (this.need > 0 ? this.held < this.need : take === chunk.length && piece[take - 1] !== 0x0a && this.held <= this.maxFrameBytes) return;
      const whole = Buffer.concat(this.chunks, this.held);
      this.chunks = [];
      this.held = 0;
      this.scan(whole);
      this.handler.flush?.();
      if (take === chunk.length) return;
      chunk = chunk.subarray(take);
      if (this.held > 0 || this.skipBytes > 0 || this.skipToLf) {
        // the held bytes were a count cut short (held again, now waiting for the frame), or a
        // frame being skipped: the rest goes the same way as a new chunk
        this.push(chunk);
        return;
      }
    }
    this.scan(chunk);
    this.handler.flush?.();
  }

  private scan(buf: Buffer): void {
    const end = buf.length;
    let p = 0;
    while (p < end) {
      const c = buf[p];
      if (c === 0x0a || c === 0x0d || c === 0x20 || c === 0x00) {
        p++;
        continue;
      }
      if (c >= 0x30 && c <= 0x39) {
        let q = p;
        let len = 0;
        while (q < end && q - p < MAX_COUNT_DIGITS && buf[q] >= 0x30 && buf[q] <= 0x39) len = len * 10 + (buf[q++] - 0x30);
        // the byte after the digits decides (SP: a count), so wait for it
        if (q === end) return this.hold(buf, p, end - p + 1);
        if (buf[q] !== 0x20 || len === 0) {
          this.handler.bad('bad octet count');
          p = this.skipLine(buf, q);
          continue;
        }
        const from = q + 1;
        if (len > this.maxFrameBytes) {
          // a well-formed count: skip exactly the frame, so the frames after it are kept
          this.handler.bad('frame too long');
          if (from + len > end) {
            this.skipBytes = from + len - end;
            return;
          }
          p = from + len;
          continue;
        }
        if (from + len > end) return this.hold(buf, p, from + len - p);
        this.handler.frame(buf, from, from + len, p);
        p = from + len;
        continue;
      }
      if (c === 0x3c) {
        const lf = buf.indexOf(0x0a, p);
        if (lf < 0) {
          if (end - p > this.maxFrameBytes) {
            this.handler.bad('frame too long');
            this.skipToLf = true;
            return;
          }
          return this.hold(buf, p, 0);
        }
        if (lf - p > this.maxFrameBytes) {
          // the same verdict whether the frame came whole or in pieces
          this.handler.bad('frame too long');
          p = lf + 1;
          continue;
        }
        const stop = lf > p && buf[lf - 1] === 0x0d ? lf - 1 : lf;
        this.handler.frame(buf, p, stop, -1);
        p = lf + 1;
        continue;
      }
      this.handler.bad('not a syslog frame');
      p = this.skipLine(buf, p);
    }
  }

  /**
   * The stream ended: a held LF-framed frame is complete without its LF; a held octet-counted
   * one (or a count cut short) is reported `truncated frame at end of stream`.
   */
  end(): void {
    if (this.held > 0) {
      const buf = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.held);
      if (this.need === 0 && buf[0] === 0x3c) {
        const stop = buf[buf.length - 1] === 0x0d ? buf.length - 1 : buf.length;
        this.handler.frame(buf, 0, stop, -1);
        this.handler.flush?.();
      } else {
        this.handler.bad('truncated frame at end of stream');
      }
    }
    this.chunks = [];
    this.held = 0;
    this.need = 0;
    this.skipToLf = false;
    this.skipBytes = 0;
  }

  /** Offset after the next LF from `p`; with none, skips the rest of the stream up to one. */
  private skipLine(buf: Buffer, p: number): number {
    const lf = buf.indexOf(0x0a, p);
    if (lf >= 0) return lf + 1;
    this.skipToLf = true;
    return buf.length;
  }

  private hold(buf: Buffer, from: number, need: number): void {
    // copy: the caller's buffer may be reused
    const rest = Buffer.from(buf.subarray(from));
    this.chunks = [rest];
    this.held = rest.length;
    this.need = need;
  }
}
