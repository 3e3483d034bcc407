import type { LogRecord } from './log-record.js';

/**
 * Encodes a LogRecord as one msgpack map, by hand (the shape is fixed: six keys, five strings
 * and a float64 time), into a Buffer ready to write. Decodes with @msgpack/msgpack like any map;
 * a test checks that both agree.
 */
const KEYS = ['app', 'source', 'process', 'stream', 'time', 'message'].map((k) => Buffer.from([0xa0 | k.length, ...Buffer.from(k)]));

function strHeaderSize(bytes: number): number {
  return bytes < 32 ? 1 : bytes < 256 ? 2 : bytes < 65536 ? 3 : 5;
}

function writeStr(buf: Buffer, off: number, s: string, bytes: number): number {
  if (bytes < 32) buf[off++] = 0xa0 | bytes;
  else if (bytes < 256) { buf[off++] = 0xd9; buf[off++] = bytes; }
  else if (bytes < 65536) { buf[off++] = 0xda; buf.writeUInt16BE(bytes, off); off += 2; }
  else { buf[off++] = 0xdb; buf.writeUInt32BE(bytes, off); off += 4; }
  return off + buf.write(s, off, bytes, 'utf8');
}

export function encodeLogRecord(r: LogRecord): Buffer {
  const values = [r.app, r.source, r.process, r.stream];
  const lens = values.map((v) => Buffer.byteLength(v));
  const msgLen = Buffer.byteLength(r.message);
  let size = 1 + KEYS.reduce((n, k) => n + k.length, 0) + 9 + strHeaderSize(msgLen) + msgLen;
  for (const l of lens) size += strHeaderSize(l) + l;
  const buf = Buffer.allocUnsafe(size);
  let off = 0;
  buf[off++] = 0x86; // fixmap, 6 entries
  for (let i = 0; i < 4; i++) {
    off += KEYS[i].copy(buf, off);
    off = writeStr(buf, off, values[i], lens[i]);
  }
  off += KEYS[4].copy(buf, off);
  buf[off++] = 0xcb;
  buf.writeDoubleBE(r.time, off);
  off += 8;
  off += KEYS[5].copy(buf, off);
  off = writeStr(buf, off, r.message, msgLen);
  return off === size ? buf : buf.subarray(0, off);
}
