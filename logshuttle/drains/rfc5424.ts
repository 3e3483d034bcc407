import { isUtf8 } from 'node:buffer';
import { copyBytes } from '../buffer/copy-bytes.js';
import type { LogRecord } from '../../shared/log-record.js';

/**
 * RFC5424 encoding of a log record as the drains send it (DESIGN.md "Drains"):
 * `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID - - MSG`, framed with octet counting
 * (`LEN SP MSG`, RFC 6587 §3.4.1 / RFC 5425) where LEN is the byte length of the UTF-8 message.
 *
 * A frame is encoded once per line into one Buffer and shared by every drain of the app: TCP,
 * TLS and HTTPS send it as is, UDP sends the part after the first space (`datagramOf`).
 */

export const FACILITY_USER = 1;
export const SEVERITY_ERR = 3;
export const SEVERITY_INFO = 6;
export const HOSTNAME_MAX = 255;
export const APP_NAME_MAX = 48;
export const PROCID_MAX = 128;
/** Largest UDP datagram a drain sends; longer messages are cut on a UTF-8 boundary. */
export const UDP_MAX_BYTES = 2048;

const PRI_INFO = `<${FACILITY_USER * 8 + SEVERITY_INFO}>1 `;
const PRI_ERR = `<${FACILITY_USER * 8 + SEVERITY_ERR}>1 `;
const PRINTABLE = /^[\x21-\x7e]+$/;

/** severity err for stderr lines and router `at=error` lines, info otherwise */
export function severityOf(record: LogRecord): number {
  if (record.stream === 'stderr') return SEVERITY_ERR;
  if (record.source === 'router' && record.message.startsWith('at=error')) return SEVERITY_ERR;
  return SEVERITY_INFO;
}

/** Printable US-ASCII (33..126) only, at most `max` characters, `-` (NILVALUE) when empty. */
export function sanitizeField(value: string, max: number): string {
  if (value.length > 0 && value.length <= max && PRINTABLE.test(value)) return value;
  const cleaned = value.replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return cleaned.length === 0 ? '-' : cleaned;
}

/** Small memo of sanitised field values (app and process names repeat line after line). */
class FieldCache {
  private map = new Map<string, string>();
  constructor(private readonly max: number) {}
  get(value: string): string {
    let v = this.map.get(value);
    if (v === undefined) {
      if (this.map.size >= 4096) this.map.clear();
      v = sanitizeField(value, this.max);
      this.map.set(value, v);
    }
    return v;
  }
}

const hostnames = new FieldCache(HOSTNAME_MAX);
const procids = new FieldCache(PROCID_MAX);
let lastTime = NaN;
let lastStamp = '';

function timestamp(time: number): string {
  if (time !== lastTime) {
    const d = new Date(time);
    lastStamp = Number.isNaN(d.getTime()) ? new Date().toISOString() : d.toISOString();
    lastTime = time;
  }
  return lastStamp;
}

/**
 * The RFC5424 header, up to and including the space before MSG (ASCII only). MSGID is `-`, or
 * `msgid` (bus mode: the stream sequence, so receivers can drop duplicates).
 */
export function headerOf(record: LogRecord, msgid = '-'): string {
  const pri = severityOf(record) === SEVERITY_ERR ? PRI_ERR : PRI_INFO;
  const isApp = record.source === 'app';
  const appName = isApp ? 'app' : 'akkeris';
  const procid = isApp ? procids.get(record.process) : record.source;
  return `${pri}${timestamp(record.time)} ${hostnames.get(record.app)} ${appName} ${procid} ${msgid} - `;
}

/** Buffer's fast internal writers (present on every Node Buffer; not in @types/node). */
interface FastWrite {
  utf8Write(s: string, offset: number): number;
  latin1Write(s: string, offset: number): number;
}

/**
 * Frames are carved from small slabs (like Buffer.allocUnsafe's pool, but written in place: the
 * message is written first at a reserved offset, so no separate Buffer.byteLength pass and no
 * per-line allocation). Small slabs keep what one queued line can pin to a few KiB.
 */
const SLAB_BYTES = 16 * 1024;
const SLAB_MAX_LINE = 4 * 1024;
/** room for the octet count and its space: up to 10 digits */
const PREFIX_ROOM = 11;
let slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
let slabOff = 0;

let lastHeaderKeyApp = '';
let lastHeaderKeyProc = '';
let lastHeaderKeySrc = '';
let lastHeaderKeyTime = NaN;
let lastHeaderKeySev = 0;
let lastHeader = '';

function cachedHeader(record: LogRecord): string {
  const sev = severityOf(record);
  if (record.time === lastHeaderKeyTime && record.app === lastHeaderKeyApp && record.process === lastHeaderKeyProc
    && record.source === lastHeaderKeySrc && sev === lastHeaderKeySev) return lastHeader;
  lastHeader = headerOf(record);
  lastHeaderKeyApp = record.app;
  lastHeaderKeyProc = record.process;
  lastHeaderKeySrc = record.source;
  lastHeaderKeyTime = record.time;
  lastHeaderKeySev = sev;
  return lastHeader;
}

/** `LEN SP <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID - - MSG` as one Buffer. */
export function encodeFrame(record: LogRecord): Buffer {
  return encodeWithHeader(record, cachedHeader(record));
}

/**
 * The same with MSGID `msgid` (printable ASCII, at most 32 characters: RFC 5424): bus mode
 * puts the stream sequence there.
 */
export function encodeFrameWithMsgid(record: LogRecord, msgid: string): Buffer {
  return encodeWithHeader(record, headerOf(record, msgid));
}

function encodeWithHeader(record: LogRecord, header: string): Buffer {
  const message = record.message;
  const worst = PREFIX_ROOM + header.length + message.length * 3;
  if (worst > SLAB_MAX_LINE) {
    const msgBytes = Buffer.byteLength(message, 'utf8');
    const prefix = `${header.length + msgBytes} ${header}`;
    const buf = Buffer.allocUnsafeSlow(prefix.length + msgBytes);
    (buf as unknown as FastWrite).latin1Write(prefix, 0);
    if (msgBytes > 0) (buf as unknown as FastWrite).utf8Write(message, prefix.length);
    return buf;
  }
  if (slabOff + worst > SLAB_BYTES) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    slabOff = 0;
  }
  const s = slab as unknown as FastWrite;
  const msgStart = slabOff + PREFIX_ROOM + header.length;
  const msgBytes = message.length === 0 ? 0 : s.utf8Write(message, msgStart);
  const prefix = `${header.length + msgBytes} ${header}`;
  const start = msgStart - prefix.length;
  s.latin1Write(prefix, start);
  const end = msgStart + msgBytes;
  slabOff = end;
  return slab.subarray(start, end);
}

/**
 * Pass-through: when `raw` (an RFC5424 message as the shuttle received it, from which `record`
 * was parsed with MSG unchanged) starts with exactly the header the drains would write for
 * `record`, the frame is `LEN SP raw`: the bytes are copied, the message is not re-encoded.
 * Returns null when the header differs, or MSG is not exactly the record's message as valid
 * UTF-8 (the caller encodes the record instead).
 */
export function passThroughFrame(record: LogRecord, raw: Buffer): Buffer | null {
  const header = cachedHeader(record);
  const hl = header.length;
  const n = raw.length;
  if (n < hl) return null;
  for (let i = 0; i < hl; i++) if (raw[i] !== header.charCodeAt(i)) return null;
  // MSG as received: the parser strips a trailing LF and a BOM, so such messages are re-encoded
  if (n > hl && (raw[n - 1] === 0x0a || (raw[hl] === 0xef && n >= hl + 3 && raw[hl + 1] === 0xbb && raw[hl + 2] === 0xbf))) return null;
  // MSG must be the record's message byte for byte: valid UTF-8 (else the record holds U+FFFD
  // where the bytes were bad) of the same length (a parser that changed the text is caught)
  if (!isUtf8(raw) || Buffer.byteLength(record.message, 'utf8') !== n - hl) return null;
  return octetFrame(raw, 0, n);
}

/** `LEN SP` and `src[from, to)` (RFC 6587 octet counting), carved from the slab like encodeFrame's frames. */
export function octetFrame(src: Buffer, from: number, to: number): Buffer {
  const n = to - from;
  const digits = n < 10 ? 1 : n < 100 ? 2 : n < 1000 ? 3 : n < 10000 ? 4 : String(n).length;
  const total = digits + 1 + n;
  let buf: Buffer;
  let start: number;
  if (total > SLAB_MAX_LINE) {
    buf = Buffer.allocUnsafeSlow(total);
    start = 0;
  } else {
    if (slabOff + total > SLAB_BYTES) {
      slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
      slabOff = 0;
    }
    buf = slab;
    start = slabOff;
    slabOff += total;
  }
  let at = start + digits + 1;
  // the count's digits, last first (a string write costs more than the few bytes)
  for (let v = n, i = at - 2; i >= start; i--, v = Math.floor(v / 10)) buf[i] = 0x30 + (v % 10);
  buf[at - 1] = 0x20;
  at = copyBytes(src, from, to, buf, at);
  return buf.subarray(start, start + total);
}

/** The syslog message of an octet-counted frame (shares memory with it). */
export function messageOf(frame: Buffer): Buffer {
  return frame.subarray(frame.indexOf(0x20) + 1);
}

/**
 * The UDP datagram for a frame: its message, cut to at most `max` bytes on a UTF-8 character
 * boundary. `truncated` tells whether anything was cut.
 */
export function datagramOf(frame: Buffer, max = UDP_MAX_BYTES): { datagram: Buffer; truncated: boolean } {
  const msg = messageOf(frame);
  if (msg.length <= max) return { datagram: msg, truncated: false };
  let cut = max;
  while (cut > 0 && (msg[cut] & 0xc0) === 0x80) cut--;
  return { datagram: msg.subarray(0, cut), truncated: true };
}
