import { isAscii, isUtf8 } from 'node:buffer';
import type { LogSource } from '../../shared/log-record.js';
import { MAX_LINE_BYTES } from './split-message.js';
import { MAX_APP_NAME } from './app-name.js';
import { PROCID_MAX } from '../drains/rfc5424.js';

/**
 * The ingest fast path's reader. Most syslog lines arrive exactly as the drains would write
 * them (`<PRI>1 TIMESTAMP HOSTNAME app PROCID - - MSG`, or `akkeris router|build|platform` for
 * platform lines): the timestamp in the drains' own form (`2026-11-25T10:00:00.123Z`), printable
 * ASCII names, the PRI the drains would pick, a message of valid UTF-8 without CR, LF or BOM and
 * short enough not to be split. Such a frame is read here on its bytes, without making a record:
 * the only string made is the app name, and only when it differs from the previous frame's.
 * Anything else returns null and goes the general way (parseSyslogMessage, a LogRecord); both
 * ways give the same ring lines, tail lines and drain frames (test/fuzz/canonical-frame.test.ts).
 */
export interface CanonicalFrame {
  /** the app (HOSTNAME) */
  app: string;
  source: LogSource;
  /** offsets in the buffer: TIMESTAMP (24 bytes), HOSTNAME, PROCID, MSG, and the frame's end */
  tsStart: number;
  hostStart: number;
  hostEnd: number;
  procStart: number;
  procEnd: number;
  msgStart: number;
  end: number;
}

const SP = 0x20;
const PRI_INFO = 14;
const PRI_ERR = 11;
/** `at=error`: a router line with it is severity err */
const AT_ERROR = Buffer.from('at=error', 'latin1');
const AKKERIS = Buffer.from('akkeris ', 'latin1');
const PLATFORM: readonly [Buffer, LogSource][] = [
  [Buffer.from('router'), 'router'], [Buffer.from('build'), 'build'], [Buffer.from('platform'), 'platform'],
];

// one result object, reused: the caller takes what it needs before the next frame
const view: CanonicalFrame = { app: '', source: 'app', tsStart: 0, hostStart: 0, hostEnd: 0, procStart: 0, procEnd: 0, msgStart: 0, end: 0 };
// the last app name and timestamp seen, as bytes (lines come in bursts from one app)
let lastApp: Buffer = Buffer.alloc(0);
let lastAppLen = -1;
/**
 * App names met lately, by a hash of their bytes: lines of many apps interleaved find their
 * name's string here instead of making one per line. Emptied when it reaches NAMES_MAX.
 */
interface KnownName { bytes: Buffer; name: string }
const names = new Map<number, KnownName>();
const NAMES_MAX = 16384;
const lastTs = Buffer.alloc(24);
let lastTsOk = false;

function sameBytes(buf: Buffer, from: number, to: number, ref: Buffer, refLen: number): boolean {
  if (to - from !== refLen) return false;
  for (let i = 0; i < refLen; i++) if (buf[from + i] !== ref[i]) return false;
  return true;
}

/** The app name `buf[from, to)` (printable ASCII, no `/`), its string made once; null if it is not one. */
function knownName(buf: Buffer, from: number, to: number): KnownName | null {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) {
    const c = buf[i];
    if (c < 0x21 || c > 0x7e || c === 0x2f) return null;
    h = Math.imul(h ^ c, 0x01000193);
  }
  const e = names.get(h);
  if (e !== undefined && sameBytes(buf, from, to, e.bytes, e.bytes.length)) return e;
  const name = buf.toString('latin1', from, to);
  const made = { bytes: Buffer.from(name, 'latin1'), name };
  if (names.size >= NAMES_MAX) names.clear();
  names.set(h, made);
  return made;
}

/** bytes [from, to) are printable US-ASCII (33..126), none of them `/` when `noSlash` */
function printable(buf: Buffer, from: number, to: number, noSlash: boolean): boolean {
  for (let i = from; i < to; i++) {
    const c = buf[i];
    if (c < 0x21 || c > 0x7e || (noSlash && c === 0x2f)) return false;
  }
  return true;
}

/** Offset of the first SP in `buf[from, limit)`, or -1 (a loop: the fields are short, a native indexOf call costs more). */
function spaceBefore(buf: Buffer, from: number, limit: number): number {
  for (let i = from; i < limit; i++) if (buf[i] === SP) return i;
  return -1;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** `DDDD-DD-DDTDD:DD:DD.DDDZ` that Date reads back to the same text (no Feb 30). */
function drainTimestamp(buf: Buffer, p: number): boolean {
  if (lastTsOk && sameBytes(buf, p, p + 24, lastTs, 24)) return true;
  for (let i = 0; i < 24; i++) {
    const c = buf[p + i];
    const ok = i === 4 || i === 7 ? c === 0x2d : i === 10 ? c === 0x54 : i === 13 || i === 16 ? c === 0x3a
      : i === 19 ? c === 0x2e : i === 23 ? c === 0x5a : isDigit(c);
    if (!ok) return false;
  }
  const text = buf.toString('latin1', p, p + 24);
  const time = Date.parse(text);
  if (!Number.isFinite(time) || new Date(time).toISOString() !== text) return false;
  buf.copy(lastTs, 0, p, p + 24);
  lastTsOk = true;
  return true;
}

/**
 * Whether all of `buf` is ASCII without CR or LF (`clean` for readCanonicalFrame): three native
 * scans of a received chunk instead of a JS loop over every message's bytes.
 */
export function cleanBytes(buf: Buffer): boolean {
  return buf.indexOf(0x0a) < 0 && buf.indexOf(0x0d) < 0 && isAscii(buf);
}

/**
 * Reads `buf[start, end)` if it is a frame in the drains' own form, else null. `clean`: the
 * caller checked that all of `buf` is ASCII without CR or LF (cleanBytes), so the message's
 * bytes need no look.
 */
export function readCanonicalFrame(buf: Buffer, start: number, end: number, clean = false): CanonicalFrame | null {
  // <PRI>1 and a space: PRI 11 or 14 (user.err / user.info, what the drains write)
  if (end - start < 37 || buf[start] !== 0x3c || buf[start + 3] !== 0x3e || buf[start + 4] !== 0x31 || buf[start + 5] !== SP) return null;
  const d1 = buf[start + 1] - 0x30;
  const d2 = buf[start + 2] - 0x30;
  const pri = d1 * 10 + d2;
  if (d1 !== 1 || (pri !== PRI_INFO && pri !== PRI_ERR)) return null;
  const tsStart = start + 6;
  if (buf[tsStart + 24] !== SP || !drainTimestamp(buf, tsStart)) return null;
  // HOSTNAME (the app)
  const hostStart = tsStart + 25;
  const hostEnd = spaceBefore(buf, hostStart, Math.min(end, hostStart + MAX_APP_NAME + 1));
  if (hostEnd < 0 || hostEnd === hostStart) return null;
  if (hostEnd - hostStart === 1 && buf[hostStart] === 0x2d) return null; // `-`: no app (refused the general way)
  // APP-NAME: `app` (PROCID: the process) or `akkeris` (PROCID: router, build or platform)
  const an = hostEnd + 1;
  let akkeris: boolean;
  if (buf[an] === 0x61 && buf[an + 1] === 0x70 && buf[an + 2] === 0x70 && buf[an + 3] === SP) akkeris = false;
  else if (end - an > 8 && sameBytes(buf, an, an + 8, AKKERIS, 8)) akkeris = true;
  else return null;
  const procStart = an + (akkeris ? 8 : 4);
  const procEnd = spaceBefore(buf, procStart, Math.min(end, procStart + PROCID_MAX + 1));
  if (procEnd < 0 || procEnd === procStart) return null;
  let source: LogSource = 'app';
  if (akkeris) {
    let found: LogSource | null = null;
    for (const [name, s] of PLATFORM) if (sameBytes(buf, procStart, procEnd, name, name.length)) found = s;
    if (found === null) return null;
    source = found;
  } else if (!printable(buf, procStart, procEnd, false) || (procEnd - procStart === 1 && buf[procStart] === 0x2d)) {
    return null; // (`-`: no process, shown `app[]`: the general way)
  }
  // MSGID and STRUCTURED-DATA: `- - `
  const m = procEnd + 1;
  if (end - m < 4 || buf[m] !== 0x2d || buf[m + 1] !== SP || buf[m + 2] !== 0x2d || buf[m + 3] !== SP) return null;
  const msgStart = m + 4;
  // MSG: no CR or LF (the tail line would escape them), no BOM, not split, valid UTF-8
  if (end - msgStart > MAX_LINE_BYTES) return null;
  if (end > msgStart && buf[msgStart] === 0xef && buf[msgStart + 1] === 0xbb && buf[msgStart + 2] === 0xbf) return null;
  if (!clean) {
    let high = 0;
    for (let i = msgStart; i < end; i++) {
      const c = buf[i];
      if (c === 0x0a || c === 0x0d) return null;
      high |= c;
    }
    if (high >= 0x80 && !isUtf8(buf.subarray(msgStart, end))) return null; // (ASCII is UTF-8)
  }
  // the PRI the drains would write: err for stderr, and for router lines starting at=error
  const routerError = source === 'router' && end - msgStart >= 8 && sameBytes(buf, msgStart, msgStart + 8, AT_ERROR, 8);
  if (pri === PRI_INFO && routerError) return null; // (user.info but an error line: re-encoded)
  // the app name, made a string only when it changes
  if (!sameBytes(buf, hostStart, hostEnd, lastApp, lastAppLen)) {
    const known = knownName(buf, hostStart, hostEnd);
    if (known === null) return null;
    lastApp = known.bytes;
    lastAppLen = known.bytes.length;
    view.app = known.name;
  }
  view.source = source;
  view.tsStart = tsStart;
  view.hostStart = hostStart;
  view.hostEnd = hostEnd;
  view.procStart = procStart;
  view.procEnd = procEnd;
  view.msgStart = msgStart;
  view.end = end;
  return view;
}
