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
  /**
   * The same, for a line that arrived as RFC5424 bytes: `raw` is the message as received
   * (`<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG`, no octet count) and `record` was
   * parsed from it with MSG unchanged (not split, no BOM or LF removed). When its header is the
   * one the drains would write, the bytes are passed through without re-encoding; otherwise it
   * is `deliver(record)`. Optional fast path for the syslog ingest.
   */
  deliverRaw?(record: LogRecord, raw: Buffer): void;
  /**
   * The same for a message already known to be in the drains' own form (the ingest's fast path,
   * ingest/canonical-frame.ts), `buf[from, to)`: framed as `LEN SP message` without a check.
   */
  deliverCanonical(app: string, buf: Buffer, from: number, to: number): void;
  /**
   * `lines` such messages of one app at once, already framed: `buf[from, to)` is exactly
   * `lines` octet-counted frames (`LEN SP message`, LEN without leading zeros) back to back, the
   * bytes `deliverCanonical` would have framed one by one. Optional (the ingest falls back to
   * `deliverCanonical` per line).
   */
  deliverCanonicalRun?(app: string, buf: Buffer, from: number, to: number, lines: number): void;
  /** Adds a drain; throws DrainUrlError (code E_DRAIN_URL) for a bad URL or scheme. */
  add(app: string, url: string): DrainInfo;
  list(app: string): DrainInfo[];
  /** false when there is no such drain */
  remove(app: string, id: string): boolean;
  /** Flush what is queued to reachable drains, at most `deadlineMs`, then close everything. */
  close(deadlineMs: number): Promise<void>;
}

/**
 * What the drains API routes need: a DrainSet (answers at once), or the bus registry (answers
 * once the bus has taken the change).
 */
export interface DrainApi {
  /** throws (or rejects with) DrainUrlError, code E_DRAIN_URL, for a bad URL or scheme */
  add(app: string, url: string): DrainInfo | Promise<DrainInfo>;
  list(app: string): DrainInfo[] | Promise<DrainInfo[]>;
  /** false when there is no such drain */
  remove(app: string, id: string): boolean | Promise<boolean>;
}
