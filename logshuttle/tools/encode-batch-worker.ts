import { move } from 'piscina';
import type { LogRecord } from '../../shared/log-record.js';
import { encodeFrame } from '../drains/rfc5424.js';

/**
 * piscina task for encode-offload-probe.ts: encodes a batch of records as octet-counted RFC5424
 * frames into one Buffer, handed back without a copy (transferred).
 */
export default function encodeBatch(records: LogRecord[]): ArrayBufferView {
  const frames = records.map(encodeFrame);
  const out = Buffer.concat(frames);
  // a Buffer from concat may share a pooled ArrayBuffer: copy into its own before transferring
  const own = new Uint8Array(out.length);
  own.set(out);
  return move(own) as ArrayBufferView;
}
