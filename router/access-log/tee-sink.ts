import type { AccessLogSink } from './access-log-sink.js';

/** Writes every line to several sinks (the shuttle and stdout with --log-stdout). */
export class TeeSink implements AccessLogSink {
  constructor(private readonly sinks: readonly AccessLogSink[]) {}

  write(app: string, line: string, time: number): void {
    for (const s of this.sinks) s.write(app, line, time);
  }

  async close(): Promise<void> {
    await Promise.all(this.sinks.map((s) => s.close?.()));
  }
}
