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

/**
 * Lines to stdout (fd 1), batched per loop turn and written asynchronously: a stalled stdout
 * reader never blocks a request. Past 8 MiB waiting, lines are dropped and counted, and the
 * count is printed as a line once stdout drains.
 */
export class StdoutAccessLog implements AccessLogSink {
  private pending: string[] = [];
  private pendingBytes = 0;
  private writing = false;
  private scheduled = false;
  private dropped = 0;

  write(_app: string, line: string): void {
    if (this.pendingBytes > MAX_PENDING_BYTES) {
      this.dropped++;
      return;
    }
    this.pending.push(line);
    this.pendingBytes += line.length + 1;
    if (!this.scheduled && !this.writing) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    if (this.writing || this.pending.length === 0) return;
    if (this.dropped > 0) {
      this.pending.push(`at=error code=L10 desc="stdout overflow" dropped=${this.dropped}`);
      this.dropped = 0;
    }
    const text = this.pending.join('\n') + '\n';
    this.pending = [];
    this.pendingBytes = 0;
    this.writing = true;
    write(1, text, () => {
      this.writing = false;
      if (this.pending.length > 0) this.flush();
    });
  };

  async close(): Promise<void> {
    for (let i = 0; i < 100 && (this.writing || this.pending.length > 0); i++) {
      if (!this.writing) this.flush();
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}
