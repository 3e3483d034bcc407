import type { LogRecord } from '../../shared/log-record.js';
import type { IngestContext } from './ingest-context.js';
import { recordProblem, cleanRecord } from './record-check.js';
import { SyslogFramer } from './syslog-framer.js';
import { parseSyslogMessage } from './syslog-message.js';
import { MAX_RECORD_BYTES } from './record-limits.js';

/** Counts of one POST /ingest body. */
export interface IngestResult {
  accepted: number;
  rejected: number;
}

/**
 * Where a valid record goes: the core by default; bus mode passes its own (publish and keep the
 * ack's promise).
 */
export type RecordSink = (record: LogRecord, raw?: Buffer) => void;

function coreSink(ctx: IngestContext): RecordSink {
  return (record, raw) => ctx.core.accept(record, 'http', raw);
}

/** `application/x-ndjson`: one JSON record per line; blank lines are ignored. */
export function ingestNdjson(body: Buffer, ctx: IngestContext, sink: RecordSink = coreSink(ctx)): IngestResult {
  const result = { accepted: 0, rejected: 0 };
  let p = 0;
  while (p < body.length) {
    let lf = body.indexOf(0x0a, p);
    if (lf < 0) lf = body.length;
    const text = body.toString('utf8', p, lf).trim();
    p = lf + 1;
    if (text === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      ctx.bad.report('http', 'not valid JSON', text.slice(0, 120));
      result.rejected++;
      continue;
    }
    const problem = recordProblem(value) ?? messageTooLong((value as LogRecord).message);
    if (problem) {
      ctx.bad.report('http', problem, text.slice(0, 120));
      result.rejected++;
      continue;
    }
    sink(cleanRecord(value as LogRecord));
    result.accepted++;
  }
  return result;
}

/** The same cap as the other ingests (1 MiB, record-limits.ts). */
function messageTooLong(message: string): string | null {
  if (message.length * 3 <= MAX_RECORD_BYTES || Buffer.byteLength(message, 'utf8') <= MAX_RECORD_BYTES) return null;
  return 'record over 1 MiB';
}

/** `application/logplex-1`: octet-counted RFC 5424 frames, as logplex-compatible senders POST. */
export function ingestLogplex(body: Buffer, ctx: IngestContext, sink: RecordSink = coreSink(ctx)): IngestResult {
  const result = { accepted: 0, rejected: 0 };
  const now = Date.now();
  const framer = new SyslogFramer({
    frame(buf, start, end) {
      const r = parseSyslogMessage(buf, start, end, now);
      if (typeof r === 'string') {
        ctx.bad.report('http', r, buf.toString('utf8', start, Math.min(end, start + 120)));
        result.rejected++;
      } else {
        sink(r, buf.subarray(start, end));
        result.accepted++;
      }
    },
    bad(reason) {
      ctx.bad.report('http', reason);
      result.rejected++;
    },
  });
  framer.push(body);
  framer.end(); // a truncated last frame is reported (and counted) by bad()
  return result;
}
