import type { Socket } from 'node:net';
import { startRawDyno, type RawDyno } from '../../../support/router-harness.js';

/** One request as the recording dyno parsed it off the wire. */
export interface Recorded {
  method: string;
  target: string;
  /** lower-cased names, values as sent (latin1), in order */
  headers: [string, string][];
  body: string;
}

export interface RecordingDyno extends RawDyno {
  /** every request parsed, in arrival order */
  readonly seen: Recorded[];
  /** every byte received, per connection, as latin1 */
  readonly raw: string[];
  /** requests whose bytes could not be parsed as HTTP/1.1 (a smuggled fragment would land here) */
  readonly garbage: string[];
  header(r: Recorded, name: string): string | undefined;
}

/**
 * A raw TCP dyno that parses every request the router sends it, strictly by the framing the
 * router declared (Content-Length or chunked; anything else after a head is garbage), records it,
 * and answers each with 200 `ok` on the same connection (keep-alive). It sees what a real
 * backend's parser would see: a request the router smuggled through would show up in `seen` or,
 * malformed, in `garbage`.
 */
export async function startRecordingDyno(): Promise<RecordingDyno> {
  const seen: Recorded[] = [];
  const raw: string[] = [];
  const garbage: string[] = [];
  const dyno = await startRawDyno((sock: Socket) => {
    const index = raw.push('') - 1;
    let buf = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      raw[index] += d.toString('latin1');
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const r = parseOne(buf);
        if (r === null) return;
        if (r === 'garbage') {
          garbage.push(buf.toString('latin1'));
          sock.destroy();
          return;
        }
        buf = buf.subarray(r.used);
        seen.push(r.request);
        sock.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok');
      }
    });
  });
  return Object.assign(dyno, {
    seen,
    raw,
    garbage,
    header(r: Recorded, name: string): string | undefined {
      return r.headers.find((h) => h[0] === name)?.[1];
    },
  });
}

const REQUEST_LINE = /^([A-Z]+) (\S+) HTTP\/1\.1$/;

/** One request off the front of `buf`: null when more bytes are needed, 'garbage' when it is not HTTP. */
function parseOne(buf: Buffer): { request: Recorded; used: number } | 'garbage' | null {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return buf.length > 1 << 20 ? 'garbage' : null;
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const m = REQUEST_LINE.exec(lines[0]);
  if (m === null) return 'garbage';
  const headers: [string, string][] = [];
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i <= 0 || /[\s]/.test(line.slice(0, i))) return 'garbage';
    headers.push([line.slice(0, i).toLowerCase(), line.slice(i + 1).trim()]);
  }
  const te = headers.filter((h) => h[0] === 'transfer-encoding');
  const cl = headers.filter((h) => h[0] === 'content-length');
  let at = end + 4;
  let body = '';
  if (te.length > 0) {
    if (te.length > 1 || te[0][1].toLowerCase() !== 'chunked' || cl.length > 0) return 'garbage';
    const parts: Buffer[] = [];
    for (;;) {
      const le = buf.indexOf('\r\n', at);
      if (le < 0) return null;
      const sizeText = buf.subarray(at, le).toString('latin1');
      if (!/^[0-9a-fA-F]+$/.test(sizeText)) return 'garbage';
      const size = parseInt(sizeText, 16);
      if (buf.length < le + 2 + size + 2) return null;
      if (buf.subarray(le + 2 + size, le + 4 + size).toString('latin1') !== '\r\n') return 'garbage';
      parts.push(buf.subarray(le + 2, le + 2 + size));
      at = le + 4 + size;
      if (size === 0) break;
    }
    body = Buffer.concat(parts).toString('latin1');
  } else if (cl.length > 0) {
    if (cl.length > 1 || !/^[0-9]+$/.test(cl[0][1])) return 'garbage';
    const n = Number(cl[0][1]);
    if (buf.length < at + n) return null;
    body = buf.subarray(at, at + n).toString('latin1');
    at += n;
  }
  return { request: { method: m[1], target: m[2], headers, body }, used: at };
}
