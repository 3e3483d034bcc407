import type { LogRecord, LogSource } from '../../shared/log-record.js';
import { appNameProblem } from './app-name.js';

const SP = 0x20;
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/;
// a Map, not an object literal: `SOURCES['constructor']` would find Object.prototype's
const SOURCES: ReadonlyMap<string, LogSource> = new Map<string, LogSource>([['app', 'app'], ['router', 'router'], ['build', 'build'], ['platform', 'platform']]);

/** Result of parsing one message: a record, or the reason it was rejected. */
export type SyslogParse = LogRecord | string;

/** Maps APP-NAME (and PROCID for `akkeris`) to the record's source (DESIGN.md). */
export function sourceOf(appName: string, procId: string): LogSource {
  return SOURCES.get(appName === 'akkeris' ? procId : appName) ?? 'app';
}

/**
 * Parses one RFC 5424 message in `buf[start, end)`: HOSTNAME = app, APP-NAME = source,
 * PROCID = process, severity err or worse = stderr. STRUCTURED-DATA is skipped; logplex
 * frames that omit it are accepted. A BOM at the start of MSG and one trailing LF (or CRLF)
 * are removed. Returns the record or a reason string.
 */
export function parseSyslogMessage(buf: Buffer, start: number, end: number, now: number): SyslogParse {
  let p = start;
  if (p >= end || buf[p] !== 0x3c) return 'does not start with <PRI>';
  p++;
  let pri = 0;
  let digits = 0;
  while (p < end && buf[p] >= 0x30 && buf[p] <= 0x39 && digits < 4) {
    pri = pri * 10 + (buf[p] - 0x30);
    p++;
    digits++;
  }
  if (digits === 0 || digits > 3 || p >= end || buf[p] !== 0x3e || pri > 191) return 'bad PRI';
  p++;
  // VERSION
  const v = p;
  while (p < end && buf[p] >= 0x30 && buf[p] <= 0x39) p++;
  if (p === v || p - v > 3 || p >= end || buf[p] !== SP) return 'bad VERSION (not RFC 5424)';
  p++;
  const fields: string[] = [];
  for (let i = 0; i < 5; i++) {
    const s = p;
    while (p < end && buf[p] !== SP) p++;
    if (p === s) return 'empty header field';
    fields.push(buf.toString('utf8', s, p));
    if (p < end) p++;
    else if (i < 4) return 'truncated header';
  }
  const [ts, host, appName, procId] = fields;
  let time: number;
  if (ts === '-') time = now;
  else {
    if (!RFC3339.test(ts)) return 'bad TIMESTAMP';
    time = Date.parse(ts);
    if (!Number.isFinite(time)) return 'bad TIMESTAMP';
  }
  if (host === '-') return 'no HOSTNAME (the app)';
  const nameProblem = appNameProblem(host);
  if (nameProblem) return `HOSTNAME (app) ${nameProblem}`;
  // STRUCTURED-DATA
  if (p < end) {
    if (buf[p] === 0x2d && (p + 1 === end || buf[p + 1] === SP)) {
      p += 2;
    } else if (buf[p] === 0x5b) {
      const after = skipStructuredData(buf, p, end);
      if (after < 0) return 'bad STRUCTURED-DATA';
      p = after < end && buf[after] === SP ? after + 1 : after;
    } // else: logplex framing without STRUCTURED-DATA, MSG starts here
  }
  let mEnd = end;
  if (mEnd > p && buf[mEnd - 1] === 0x0a) {
    mEnd--;
    if (mEnd > p && buf[mEnd - 1] === 0x0d) mEnd--;
  }
  if (p + 3 <= mEnd && buf[p] === 0xef && buf[p + 1] === 0xbb && buf[p + 2] === 0xbf) p += 3;
  const message = p < mEnd ? buf.toString('utf8', p, mEnd) : '';
  const process = procId === '-' ? '' : procId;
  return {
    app: host,
    source: sourceOf(appName, process),
    process,
    stream: (pri & 7) <= 3 ? 'stderr' : 'stdout',
    time,
    message,
  };
}

/** Skips `[id k="v"...]...` from `p`; returns the offset after the last `]`, or -1. */
function skipStructuredData(buf: Buffer, p: number, end: number): number {
  while (p < end && buf[p] === 0x5b) {
    p++;
    let inQuote = false;
    for (;;) {
      if (p >= end) return -1;
      const c = buf[p];
      if (inQuote) {
        if (c === 0x5c) p++; // backslash escapes the next byte
        else if (c === 0x22) inQuote = false;
      } else if (c === 0x22) inQuote = true;
      else if (c === 0x5d) break;
      p++;
    }
    p++; // past ]
  }
  return p;
}
