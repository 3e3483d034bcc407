import type { Logger } from '../../shared/logger.js';

export type IngestName = 'msgpack' | 'syslog_tcp' | 'syslog_udp' | 'http';
export const INGEST_NAMES: readonly IngestName[] = ['msgpack', 'syslog_tcp', 'syslog_udp', 'http'];

const LOG_EVERY_MS = 5000;

/**
 * Counts bad input by ingest and reason and logs it, at most once per `LOG_EVERY_MS` per
 * (ingest, reason), with how many were not logged in between.
 */
export class BadInput {
  private readonly logger: Logger;
  private readonly counts = new Map<string, { ingest: IngestName; reason: string; count: number; lastLog: number; unlogged: number }>();

  constructor(logger: Logger) {
    this.logger = logger;
  }

  report(ingest: IngestName, reason: string, detail?: string): void {
    const key = `${ingest}\0${reason}`;
    let c = this.counts.get(key);
    if (!c) this.counts.set(key, (c = { ingest, reason, count: 0, lastLog: 0, unlogged: 0 }));
    c.count++;
    const now = Date.now();
    if (now - c.lastLog >= LOG_EVERY_MS) {
      this.logger.warn({ ingest, reason, detail: detail?.slice(0, 200), notLoggedSinceLast: c.unlogged }, `bad input skipped: ${reason}`);
      c.lastLog = now;
      c.unlogged = 0;
    } else {
      c.unlogged++;
    }
  }

  /** Every (ingest, reason) with its count, for metrics. */
  entries(): Array<{ ingest: IngestName; reason: string; count: number }> {
    return [...this.counts.values()].map(({ ingest, reason, count }) => ({ ingest, reason, count }));
  }
}
