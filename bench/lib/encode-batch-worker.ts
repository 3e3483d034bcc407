import { move } from 'piscina';
import type { LogRecord } from '../../shared/log-record.js';
import { encodeFrame } from '../../logshuttle/drains/rfc5424.js';

/**
 * piscina task for encode-offload-probe.ts: encodes a batch of records as octet-counted RFC5424
 * frames and hands them back in one transferred buffer (no copy): `n` (uint32), the end offset
 * of each frame (n uint32, relative to the frames), then the frames.
 */
export default function encodeBatch(records: LogRecord[]): Uint8Array {
  const frames = records.map(encodeFrame);
  let total = 0;
  for (const f of frames) total += f.length;
  const head = 4 * (frames.length + 1);
  const out = new Uint8Array(head + total);
  const view = new DataView(out.buffer);
  view.setUint32(0, frames.length, true);
  let at = 0;
  for (let i = 0; i < frames.length; i++) {
    out.set(frames[i], head + at);
    at += frames[i].length;
    view.setUint32(4 * (i + 1), at, true);
  }
  return move(out) as Uint8Array;
}
