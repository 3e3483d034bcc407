/** The log record both programs share (DESIGN.md "Log record"). */
export type LogSource = 'app' | 'router' | 'build' | 'platform';
export type LogStream = 'stdout' | 'stderr';

export interface LogRecord {
  app: string;
  source: LogSource;
  process: string;
  stream: LogStream;
  /** epoch milliseconds */
  time: number;
  message: string;
}

export const LOG_SOURCES: readonly LogSource[] = Object.freeze(['app', 'router', 'build', 'platform']);

/** Returns a reason string when `value` is not a valid LogRecord, else null. */
export function invalidLogRecordReason(value: unknown): string | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'not a map';
  const r = value as Record<string, unknown>;
  if (typeof r.app !== 'string' || r.app.length === 0) return 'app missing or not a string';
  if (typeof r.source !== 'string' || !LOG_SOURCES.includes(r.source as LogSource)) return 'source not one of app|router|build|platform';
  if (typeof r.process !== 'string') return 'process missing or not a string';
  if (r.stream !== 'stdout' && r.stream !== 'stderr') return 'stream not stdout|stderr';
  if (typeof r.time !== 'number' || !Number.isFinite(r.time)) return 'time not a number';
  if (typeof r.message !== 'string') return 'message not a string';
  return null;
}
