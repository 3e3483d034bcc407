import { copyBytes } from '../buffer/copy-bytes.js';
import type { CanonicalFrame } from '../ingest/canonical-frame.js';

const SP = 0x20;
const APP_TAG_OPEN = Buffer.from('app[');
const AKKERIS_TAG_OPEN = Buffer.from('akkeris/');

/** where a canonical frame's parts are in its buffer (readCanonicalFrame finds them) */
export type FrameParts = Pick<CanonicalFrame, 'source' | 'tsStart' | 'hostStart' | 'hostEnd' | 'procStart' | 'procEnd' | 'msgStart' | 'end'>;

/**
 * Bytes of the tail line of frame `f`: `<ISO time> <app> app[<process>]: <message>` LF, as
 * formatTailLine writes the line of the record parsed from it, or `... akkeris/<source>: ...`
 * for platform lines (their PROCID is the source: format-line.ts PLATFORM_TAGS).
 */
export function tailLineBytes(f: FrameParts): number {
  const tag = (f.source === 'app' ? 5 : 8) + (f.procEnd - f.procStart);
  return 24 + 1 + (f.hostEnd - f.hostStart) + 1 + tag + 2 + (f.end - f.msgStart) + 1;
}

/** Writes the tail line of frame `f` (in `buf`) into `out` at `at`; returns the offset after it. */
export function writeTailLine(f: FrameParts, buf: Uint8Array, out: Uint8Array, at: number): number {
  let n = copyBytes(buf, f.tsStart, f.tsStart + 24, out, at);
  out[n++] = SP;
  n = copyBytes(buf, f.hostStart, f.hostEnd, out, n); // the app name (printable ASCII)
  out[n++] = SP;
  if (f.source === 'app') {
    n = copyBytes(APP_TAG_OPEN, 0, 4, out, n);
    n = copyBytes(buf, f.procStart, f.procEnd, out, n);
    out[n++] = 0x5d;
  } else {
    n = copyBytes(AKKERIS_TAG_OPEN, 0, 8, out, n);
    n = copyBytes(buf, f.procStart, f.procEnd, out, n);
  }
  out[n++] = 0x3a;
  out[n++] = SP;
  n = copyBytes(buf, f.msgStart, f.end, out, n);
  out[n++] = 0x0a;
  return n;
}

const parts: FrameParts = { source: 'app', tsStart: 0, hostStart: 0, hostEnd: 0, procStart: 0, procEnd: 0, msgStart: 0, end: 0 };

/**
 * The tail line of a stored canonical frame. The ring keeps syslog lines as they arrived, as
 * `LEN SP <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID - - MSG` (canonical-frame.ts checked them:
 * a 24-byte drain timestamp, printable ASCII names, `app` or `akkeris` with PROCID router, build
 * or platform, a message without CR, LF or BOM), so their parts are found by their spaces. The
 * tail line is always shorter than the frame (by at least the octet count, its space and
 * `<PRI>1 `).
 *
 * Writes the tail line of the frame `src[from, to)` into `out` at `at`; returns the offset after it.
 */
export function writeFrameTailLine(src: Uint8Array, from: number, to: number, out: Uint8Array, at: number): number {
  let p = from;
  while (src[p] !== SP) p++; // the octet count
  parts.tsStart = p + 7; // past SP and `<PRI>1 `
  const hostStart = parts.tsStart + 25;
  let hostEnd = hostStart;
  while (src[hostEnd] !== SP) hostEnd++;
  const an = hostEnd + 1;
  const akkeris = src[an] === 0x61 && src[an + 1] === 0x6b; // `ak`kkeris, else `app`
  const procStart = an + (akkeris ? 8 : 4);
  let procEnd = procStart;
  while (src[procEnd] !== SP) procEnd++;
  parts.source = akkeris ? 'platform' : 'app'; // (only `app` or not matters to writeTailLine)
  parts.hostStart = hostStart;
  parts.hostEnd = hostEnd;
  parts.procStart = procStart;
  parts.procEnd = procEnd;
  parts.msgStart = procEnd + 5; // past ` - - `
  parts.end = to;
  return writeTailLine(parts, src, out, at);
}
