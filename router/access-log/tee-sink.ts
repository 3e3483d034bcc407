import type { BusStatsSnapshot } from '../../shared/bus/bus-metrics.js';
import type { AccessLogSink } from './access-log-sink.js';

/** Writes every line to several sinks (the shuttle and stdout with --log-stdout). */
export class TeeSink implements AccessLogSink {
  constructor(private readonly sinks: readonly AccessLogSink[]) {}

  write(app: string, line: string, time: number): void {
    for (const s of this.sinks) s.write(app, line, time);
  }

  busStats(): BusStatsSnapshot | null {
    for (const s of this.sinks) {
      const b = s.busStats?.();
      if (b) return b;
    }
    return null;
  }

  async close(): Promise<void> {
    await Promise.all(this.sinks.map((s) => s.close?.()));
  }
}
