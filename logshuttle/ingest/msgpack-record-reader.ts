import { Decoder } from '@msgpack/msgpack';
import { MAX_RECORD_BYTES } from './record-limits.js';

/** keys a record map may have (the contract has 6; extra keys are dropped later) */
export const MAX_RECORD_KEYS = 64;
/**
 * The most one msgpack value may take, in bytes: a record of MAX_RECORD_BYTES of message plus its
 * other fields. A value not complete within this many bytes closes the connection.
 */
export const MAX_VALUE_BYTES = MAX_RECORD_BYTES + 64 * 1024;
/** an ext value (none is in the record format) longer than this is undecodable here */
const MAX_EXT_BYTES = 1024;

/** What the next value of the stream is. */
export type ReadResult =
  /** a flat map: decoded, to be checked as a record */
  | { readonly kind: 'value'; readonly value: unknown }
  /** a whole value that cannot be a record (skipped, nothing decoded) */
  | { readonly kind: 'skipped'; readonly reason: string }
  /** the stream cannot go on: bytes that are not msgpack, or a value over MAX_VALUE_BYTES */
  | { readonly kind: 'fatal'; readonly reason: 'undecodable' | 'too large' };

const NOT_A_MAP = 'not a map';
const UNDECODABLE_RECORD = 'undecodable record (skipped)';
const TOO_MANY_KEYS = `map over ${MAX_RECORD_KEYS} keys`;

/**
 * Reads a stream of msgpack values with bounded memory, whatever their shape. Each value's extent
 * is walked first with a counter of pending items (no stack, no allocation, resumable where the
 * bytes stop), so nothing is built for a value that cannot be a log record: only a map of at
 * most MAX_RECORD_KEYS keys is decoded, and only its keys and scalar values (an array or map
 * under a key is never built: it stands as NESTED_STAND_IN, dropped with the other extra keys or
 * refused as that field's bad value). A value of any other shape (an array, a scalar, a map of
 * too many keys) is skipped as a whole once its last byte has arrived, holding only its bytes
 * meanwhile; one that is not complete within MAX_VALUE_BYTES ends the stream. Memory per stream:
 * at most 2 x MAX_VALUE_BYTES of buffer plus one decoded flat record, whatever the input.
 */
export class MsgpackRecordReader {
  private buf = Buffer.allocUnsafe(0);
  private len = 0;
  /** where the value being walked starts */
  private start = 0;
  /** the walk of the value under way (`pending` 0 = none) */
  private readonly w: WalkState = newWalk();
  private readonly decoder = recordDecoder();

  /** Adds bytes from the stream. */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.start === this.len) {
      // nothing held: start over at the beginning of the buffer
      this.len = 0;
      this.start = 0;
      this.w.pos = 0;
    }
    const need = this.len + chunk.length;
    if (need > this.buf.length) {
      const held = this.len - this.start;
      if (held + chunk.length <= this.buf.length && this.start > 0) {
        this.buf.copy(this.buf, 0, this.start, this.len);
      } else {
        const next = Buffer.allocUnsafe(Math.max(held + chunk.length, Math.min(2 * this.buf.length, 2 * MAX_VALUE_BYTES), 64 * 1024));
        this.buf.copy(next, 0, this.start, this.len);
        this.buf = next;
      }
      this.w.pos -= this.start;
      this.len = held;
      this.start = 0;
    }
    this.buf.set(chunk, this.len);
    this.len += chunk.length;
  }

  /** bytes held that are not yet a whole value */
  get held(): number {
    return this.len - this.start;
  }

  /** The next whole value, or null until more bytes arrive. */
  next(): ReadResult | null {
    if (this.start === this.len) return null;
    if (this.w.pending === 0) beginWalk(this.w, this.start);
    const walked = walk(this.buf, this.start, this.len, this.w);
    if (walked === 'more') {
      return this.len - this.start > MAX_VALUE_BYTES ? { kind: 'fatal', reason: 'too large' } : null;
    }
    if (walked !== 'done') return { kind: 'fatal', reason: walked };
    const from = this.start;
    this.start = this.w.pos;
    return walkedValue(this.decoder, this.buf, from, this.w);
  }
}

/** What one message that should hold exactly one value holds (`readOneValue`). */
export type OneValueResult =
  | ReadResult
  /** the bytes end inside the value (nothing decoded) */
  | { readonly kind: 'fatal'; readonly reason: 'incomplete' }
  /** bytes after the value (nothing decoded) */
  | { readonly kind: 'fatal'; readonly reason: 'trailing bytes' };

/** the decoder of `readOneValue` (one per thread; `decode` is synchronous) */
let oneValueDecoder: Decoder | null = null;
const oneValueWalk = newWalk();

/**
 * Reads a message that is exactly one msgpack value (a bus message) with the same bounds as
 * MsgpackRecordReader: the bytes are walked first (no stack, no allocation), only a flat map of
 * at most MAX_RECORD_KEYS keys is decoded, any nested value under a key stands as
 * NESTED_STAND_IN unbuilt. A message over MAX_VALUE_BYTES is 'too large' unwalked; bytes after
 * the value, or a value the bytes do not complete, make the message bad. Memory: the decoded flat
 * record, whatever the input.
 */
export function readOneValue(data: Uint8Array): OneValueResult {
  if (data.length > MAX_VALUE_BYTES) return { kind: 'fatal', reason: 'too large' };
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const w = oneValueWalk;
  beginWalk(w, 0);
  const walked = walk(b, 0, b.length, w);
  if (walked === 'more') return { kind: 'fatal', reason: 'incomplete' };
  if (walked !== 'done') return { kind: 'fatal', reason: walked };
  if (w.pos !== b.length) return { kind: 'fatal', reason: 'trailing bytes' };
  return walkedValue((oneValueDecoder ??= recordDecoder()), b, 0, w);
}

function recordDecoder(): Decoder {
  return new Decoder({
    maxStrLength: MAX_RECORD_BYTES, maxBinLength: MAX_RECORD_BYTES, maxArrayLength: 0, maxMapLength: MAX_RECORD_KEYS, maxExtLength: MAX_EXT_BYTES,
  });
}

/** The walk of one value, resumable where the bytes stop. */
interface WalkState {
  /** how far the walk got (the first byte of the next item to read) */
  pos: number;
  /** items still to walk in the value; 0 = no value under way */
  pending: number;
  topIsMap: boolean;
  topKeys: number;
  /** an array or map below the top level */
  nested: boolean;
}

function newWalk(): WalkState {
  return { pos: 0, pending: 0, topIsMap: false, topKeys: 0, nested: false };
}

function beginWalk(w: WalkState, start: number): void {
  w.pos = start;
  w.pending = 1;
  w.topIsMap = false;
  w.topKeys = 0;
  w.nested = false;
}

/**
 * Walks items of the value starting at `start` until it is whole ('done'), the bytes run out at
 * `end` ('more': resumes from `w.pos` on the next call), or a byte that starts no msgpack value
 * or a length over the limits.
 */
function walk(b: Buffer, start: number, end: number, w: WalkState): 'done' | 'more' | 'undecodable' | 'too large' {
  let pos = w.pos;
  let pending = w.pending;
  let first = pos === start;
  while (pending > 0) {
    const h = readHead(b, pos, end);
    if (h === MORE) break;
    if (h !== OK) return h;
    if (head.items >= 0) {
      if (first) {
        w.topIsMap = head.isMap;
        w.topKeys = head.keys;
      } else {
        w.nested = true;
      }
      pending += head.items;
    }
    first = false;
    pending -= 1;
    pos += head.size;
  }
  w.pos = pos;
  w.pending = pending;
  return pending > 0 ? 'more' : 'done';
}

/** The value walked whole from `from` to `w.pos`: decoded if it is a flat-enough map, else skipped. */
function walkedValue(decoder: Decoder, b: Buffer, from: number, w: WalkState): ReadResult {
  if (!w.topIsMap) return { kind: 'skipped', reason: NOT_A_MAP };
  if (w.topKeys > MAX_RECORD_KEYS) return { kind: 'skipped', reason: TOO_MANY_KEYS };
  try {
    return { kind: 'value', value: w.nested ? decodeWithStandIns(decoder, b, from, w.pos, w.topKeys) : decoder.decode(b.subarray(from, w.pos)) };
  } catch {
    // well-formed bytes (the walk read them) the decoder refuses: a key that is not a string
    // or a number, a malformed timestamp; the stream is still in step
    return { kind: 'skipped', reason: UNDECODABLE_RECORD };
  }
}

/**
 * A record map whose values include arrays or maps (under keys the contract does not have, or
 * bad values of its keys): keys and scalar values are decoded, each container value is
 * replaced by NESTED_STAND_IN without being built, so a bad field still gets its reason.
 */
function decodeWithStandIns(decoder: Decoder, b: Buffer, from: number, to: number, keys: number): unknown {
  if (readHead(b, from, to) !== OK) throw new Error('walked value no longer reads');
  const out: Record<string, unknown> = {};
  let pos = from + head.size;
  for (let k = 0; k < keys; k++) {
    const keyEnd = itemEnd(b, pos, to);
    const key = decoder.decode(b.subarray(pos, keyEnd));
    if (typeof key !== 'string' && typeof key !== 'number') throw new Error('map key not a string');
    const valueEnd = itemEnd(b, keyEnd, to);
    if (readHead(b, keyEnd, to) !== OK) throw new Error('walked value no longer reads');
    out[key] = head.items >= 0 ? NESTED_STAND_IN : decoder.decode(b.subarray(keyEnd, valueEnd));
    pos = valueEnd;
  }
  return out;
}

/** what a nested value in a record stands as: an object that is no field's type */
const NESTED_STAND_IN: readonly unknown[] = Object.freeze([]);

const OK = 0;
const MORE = 1;
/** the last item read by readHead (one per thread: no allocation per item) */
const head = { size: 0, items: -1, keys: 0, isMap: false };

/**
 * Reads the item starting at `pos` into `head`: its size in bytes when it is a scalar, string,
 * bin or ext (whole, with its body), or its header's size and the items it contains when it is
 * an array or a map (a map's keys and values count 2 per key).
 */
function readHead(b: Buffer, pos: number, end: number): typeof OK | typeof MORE | 'undecodable' | 'too large' {
  if (pos >= end) return MORE;
  const t = b[pos];
  let size = 1;
  let body = 0;
  head.items = -1;
  head.keys = 0;
  head.isMap = false;
  if (t <= 0x7f || t >= 0xe0 || t === 0xc0 || t === 0xc2 || t === 0xc3) {
    // fixint, nil, bool
  } else if (t >= 0x80 && t <= 0x8f) {
    head.keys = t & 0x0f;
    head.items = 2 * head.keys;
    head.isMap = true;
  } else if (t >= 0x90 && t <= 0x9f) {
    head.items = t & 0x0f;
  } else if (t >= 0xa0 && t <= 0xbf) {
    body = t & 0x1f;
  } else {
    const sized = HEADS[t];
    if (sized === null) return 'undecodable';
    size = 1 + sized.lenBytes + sized.fixed;
    if (pos + 1 + sized.lenBytes > end) return MORE;
    const n = sized.lenBytes === 0 ? 0 : readLength(b, pos + 1, sized.lenBytes);
    if (sized.kind === 'bytes') {
      if (n > MAX_RECORD_BYTES) return 'too large';
      body = n;
    } else if (sized.kind === 'ext') {
      if (n > MAX_EXT_BYTES) return 'undecodable';
      body = n;
    } else if (sized.kind === 'array') {
      head.items = n;
    } else if (sized.kind === 'map') {
      head.keys = n;
      head.items = 2 * n;
      head.isMap = true;
    }
  }
  if (pos + size + body > end) return MORE;
  head.size = size + body;
  return OK;
}

/** Where the whole item at `pos` ends (bytes known to hold whole values). */
function itemEnd(b: Buffer, pos: number, end: number): number {
  let pending = 1;
  while (pending > 0) {
    if (readHead(b, pos, end) !== OK) throw new Error('walked value no longer reads');
    if (head.items >= 0) pending += head.items;
    pending -= 1;
    pos += head.size;
  }
  return pos;
}

interface SizedHead {
  readonly kind: 'scalar' | 'bytes' | 'ext' | 'array' | 'map';
  /** bytes of the length field after the type byte */
  readonly lenBytes: number;
  /** fixed bytes after the length field that are not counted by it (ext type byte, numbers) */
  readonly fixed: number;
}

const HEADS: (SizedHead | null)[] = new Array(256).fill(null);
const set = (t: number, kind: SizedHead['kind'], lenBytes: number, fixed: number): void => {
  HEADS[t] = { kind, lenBytes, fixed };
};
set(0xc4, 'bytes', 1, 0); set(0xc5, 'bytes', 2, 0); set(0xc6, 'bytes', 4, 0);
set(0xc7, 'ext', 1, 1); set(0xc8, 'ext', 2, 1); set(0xc9, 'ext', 4, 1);
set(0xca, 'scalar', 0, 4); set(0xcb, 'scalar', 0, 8);
set(0xcc, 'scalar', 0, 1); set(0xcd, 'scalar', 0, 2); set(0xce, 'scalar', 0, 4); set(0xcf, 'scalar', 0, 8);
set(0xd0, 'scalar', 0, 1); set(0xd1, 'scalar', 0, 2); set(0xd2, 'scalar', 0, 4); set(0xd3, 'scalar', 0, 8);
set(0xd4, 'scalar', 0, 2); set(0xd5, 'scalar', 0, 3); set(0xd6, 'scalar', 0, 5); set(0xd7, 'scalar', 0, 9); set(0xd8, 'scalar', 0, 17);
set(0xd9, 'bytes', 1, 0); set(0xda, 'bytes', 2, 0); set(0xdb, 'bytes', 4, 0);
set(0xdc, 'array', 2, 0); set(0xdd, 'array', 4, 0);
set(0xde, 'map', 2, 0); set(0xdf, 'map', 4, 0);

function readLength(b: Buffer, at: number, bytes: number): number {
  if (bytes === 1) return b[at];
  if (bytes === 2) return b.readUInt16BE(at);
  return b.readUInt32BE(at);
}
