import { copyBytes } from '../buffer/copy-bytes.js';

const SP = 0x20;
const APP_TAG_OPEN = Buffer.from('app[');
const AKKERIS_TAG_OPEN = Buffer.from('akkeris/');

/**
 * The tail line of a stored canonical frame. The ring keeps syslog lines as they arrived, as
 * `LEN SP <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID - - MSG` (canonical-frame.ts checked them:
 * a 24-byte drain timestamp, printable ASCII names, `app` or `akkeris` with PROCID router, build
 * or platform, a message without CR, LF or BOM); a tail reads them as formatTailLine writes the
 * line of the record parsed from them: `<ISO time> <app> app[<process>]: <message>` LF, or
 * `... akkeris/<source>: ...` for platform lines. The tail line is always shorter than the frame
 * (by at least the octet count, its space and `<PRI>1 `).
 *
 * Writes the tail line of the frame `src[from, to)` into `out` at `at`; returns the offset after it.
 */
export function writeFrameTailLine(src: Uint8Array, from: number, to: number, out: Uint8Array, at: number): number {
  let p = from;
  while (src[p] !== SP) p++; // the octet count
  const ts = p + 7; // past SP and `<PRI>1 `
  const hostStart = ts + 25;
  let hostEnd = hostStart;
  while (src[hostEnd] !== SP) hostEnd++;
  const an = hostEnd + 1;
  const akkeris = src[an] === 0x61 && src[an + 1] === 0x6b; // `ak`kkeris, else `app`
  const procStart = an + (akkeris ? 8 : 4);
  let procEnd = procStart;
  while (src[procEnd] !== SP) procEnd++;
  const msgStart = procEnd + 5; // past ` - - `
  let n = copyBytes(src, ts, ts + 24, out, at);
  out[n++] = SP;
  n = copyBytes(src, hostStart, hostEnd, out, n);
  out[n++] = SP;
  if (akkeris) {
    n = copyBytes(AKKERIS_TAG_OPEN, 0, 8, out, n);
    n = copyBytes(src, procStart, procEnd, out, n);
  } else {
    n = copyBytes(APP_TAG_OPEN, 0, 4, out, n);
    n = copyBytes(src, procStart, procEnd, out, n);
    out[n++] = 0x5d;
  }
  out[n++] = 0x3a;
  out[n++] = SP;
  n = copyBytes(src, msgStart, to, out, n);
  out[n++] = 0x0a;
  return n;
}
