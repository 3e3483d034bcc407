import { formatTailLine, isoTime } from './format-line.js';

/** Where a tail's bytes go (an HTTP response). */
export interface TailSink {
  /** Writes a chunk; false when the peer is not keeping up (wait for `resume`). */
  write(chunk: string): boolean;
  /** Asks the sink to send bytes it still holds (called when the peer is writable again). */
  drain?(): void;
  /** Ends the response (the shuttle is stopping). */
  end?(): void;
}

export type TailFormat = 'text' | 'sse';

export interface TailLimits {
  /** lines held for a client that is not reading before the oldest are dropped */
  maxLines: number;
  /** bytes (UTF-16 units, close enough) held before the oldest are dropped */
  maxBytes: number;
}

export const DEFAULT_TAIL_LIMITS: TailLimits = { maxLines: 2000, maxBytes: 2 * 1024 * 1024 };

/**
 * One tail client: a bounded queue between the shuttle and a response. When the client does
 * not keep up the oldest queued lines are dropped and counted, and the next write starts with
 * `Error L11 (tail buffer overflow): N messages dropped since <ISO time>`.
 */
export class TailStream {
  readonly app: string;
  private readonly sink: TailSink;
  private readonly format: TailFormat;
  private readonly limits: TailLimits;
  private queue: string[] = [];
  private head = 0;
  private queuedBytes = 0;
  private blocked = false;
  private closed = false;
  private dropped = 0;
  private droppedSince = 0;
  /** lines dropped over the client's life (metrics) */
  droppedTotal = 0;

  constructor(app: string, sink: TailSink, format: TailFormat, limits: TailLimits = DEFAULT_TAIL_LIMITS) {
    this.app = app;
    this.sink = sink;
    this.format = format;
    this.limits = limits;
  }

  /** Wraps one tail line (LF included) for the wire. */
  frame(line: string): string {
    return this.format === 'sse' ? `data: ${line.slice(0, -1)}\n\n` : line;
  }

  /** Queues one formatted tail line (LF included); returns true when a flush is wanted. */
  enqueue(line: string, now: number): boolean {
    if (this.closed) return false;
    this.queue.push(line);
    this.queuedBytes += line.length;
    while (this.queue.length - this.head > this.limits.maxLines || (this.queuedBytes > this.limits.maxBytes && this.queue.length - this.head > 1)) {
      const old = this.queue[this.head];
      this.queue[this.head++] = '';
      this.queuedBytes -= old.length;
      if (this.dropped === 0) this.droppedSince = now;
      this.dropped++;
      this.droppedTotal++;
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return !this.blocked;
  }

  /** Writes what is queued unless the client is behind. */
  flush(now: number): void {
    if (this.closed || this.blocked) return;
    this.write(now, false);
  }

  /**
   * The peer took bytes: write on. The sink may still hold bytes from before, so the first
   * write is one line (a probe): only when the sink takes it whole does the rest follow. With
   * nothing queued, the sink is asked to drain what it holds.
   */
  resume(now: number): void {
    if (this.closed) return;
    this.blocked = false;
    if (this.head === this.queue.length && this.dropped === 0) {
      this.sink.drain?.();
      return;
    }
    this.write(now, true);
  }

  private write(now: number, probe: boolean): void {
    if (this.head === this.queue.length && this.dropped === 0) return;
    let chunk = '';
    if (this.dropped > 0) {
      chunk = this.frame(formatTailLine({
        app: this.app, source: 'platform', process: 'tail', stream: 'stderr', time: now,
        message: `Error L11 (tail buffer overflow): ${this.dropped} messages dropped since ${isoTime(this.droppedSince)}`,
      }));
      this.dropped = 0;
    }
    if (probe) {
      if (chunk === '') {
        const line = this.queue[this.head];
        this.queue[this.head++] = '';
        this.queuedBytes -= line.length;
        chunk = this.frame(line);
      }
      if (!this.sink.write(chunk)) {
        this.blocked = true;
        return;
      }
      if (this.head === this.queue.length) return;
      chunk = '';
    }
    const lines = this.head === 0 ? this.queue : this.queue.slice(this.head);
    chunk += this.format === 'sse' ? lines.map((l) => this.frame(l)).join('') : lines.join('');
    this.queue = [];
    this.head = 0;
    this.queuedBytes = 0;
    if (!this.sink.write(chunk)) this.blocked = true;
  }

  /** The peer has not taken what was written (e.g. the history): queue until `resume`. */
  markBlocked(): void {
    this.blocked = true;
  }

  get isBlocked(): boolean {
    return this.blocked;
  }

  /** Writes what is queued (if the client takes it) and ends the response. */
  end(now: number): void {
    this.flush(now);
    this.close();
    this.sink.end?.();
  }

  close(): void {
    this.closed = true;
    this.queue = [];
    this.head = 0;
  }
}
