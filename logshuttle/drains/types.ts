import type { LogRecord } from '../../shared/log-record.js';

/** A drain as the HTTP API shows it. */
export interface DrainInfo {
  id: string;
  url: string;
}

/**
 * What the shuttle core needs of the drains (implemented in drains/drain-manager.ts).
 * `deliver` is on the ingest hot path: it never blocks, never throws, never waits on a socket.
 */
export interface DrainSet {
  /** Hand one line of `record.app` to every drain of that app. */
  deliver(record: LogRecord): void;
  /** Adds a drain; throws DrainUrlError (code E_DRAIN_URL) for a bad URL or scheme. */
  add(app: string, url: string): DrainInfo;
  list(app: string): DrainInfo[];
  /** false when there is no such drain */
  remove(app: string, id: string): boolean;
  /** Flush what is queued to reachable drains, at most `deadlineMs`, then close everything. */
  close(deadlineMs: number): Promise<void>;
}
