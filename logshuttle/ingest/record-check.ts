import { invalidLogRecordReason, type LogRecord } from '../../shared/log-record.js';
import { appNameProblem } from './app-name.js';

/** Why `value` cannot be accepted as a log record, or null (shape, then the app name). */
export function recordProblem(value: unknown): string | null {
  const shape = invalidLogRecordReason(value);
  if (shape) return shape;
  const app = appNameProblem((value as LogRecord).app);
  return app ? `app name ${app}` : null;
}

/** A fresh record with exactly the contract's keys (extra keys from the wire are dropped). */
export function cleanRecord(value: LogRecord): LogRecord {
  return { app: value.app, source: value.source, process: value.process, stream: value.stream, time: value.time, message: value.message };
}
