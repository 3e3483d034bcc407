import { InvalidArgumentError } from './errors.js';

/** How the request body is framed on the wire. */
export const NO_BODY = 0;
export const LENGTH_BODY = 1;
export const CHUNKED_BODY = 2;

export type Framing = typeof NO_BODY | typeof LENGTH_BODY | typeof CHUNKED_BODY;

/** Where buildRequestHead puts the head (an UpstreamRequest: no object per request). */
export interface RequestHead {
  /** request line, headers and the blank line as latin1 bytes: one write */
  head: Buffer;
  framing: Framing;
  /** the body's Content-Length (LENGTH_BODY), else -1 */
  contentLength: number;
  /**
   * the pooled store `head` is a view of (null: the head has its own bytes); given back with
   * releaseHeadStore once nothing can write the head again
   */
  headStore: Buffer | null;
}

/** methods whose requests carry a body by definition: an empty one is sent as `content-length: 0` (like undici) */
const EXPECTS_PAYLOAD = new Set(['PUT', 'POST', 'PATCH', 'QUERY', 'PROPFIND', 'PROPPATCH']);
/** header names undici refuses to send (framing and connection management are the client's) */
const REFUSED = new Set(['transfer-encoding', 'keep-alive', 'upgrade', 'connection', 'expect']);
const REFUSED_LENGTH = new Uint8Array(32);
for (const n of REFUSED) REFUSED_LENGTH[n.length] = 1;
/** a request target undici would write: no control characters, spaces or characters past latin1 */
const INVALID_PATH = /[^\u0021-\u00ff]/;
const CONTENT_LENGTH_VALUE = /^\d{1,15}$/;

/** bytes that would break the framing of a head: CR, LF, NUL */
const BREAKS = new Uint8Array(256);
BREAKS[13] = 1;
BREAKS[10] = 1;
BREAKS[0] = 1;

/**
 * Heads are written into pooled stores of this size (a larger head gets bytes of its own). A
 * store goes back to the free list when its request is over and the socket holds none of it.
 */
export const HEAD_STORE_BYTES = 4096;
const FREE_MAX = 256;
const free: Buffer[] = [];
/** where new stores are cut from */
let slab: Buffer = Buffer.alloc(0);
let slabOff = 0;
const SLAB_STORES = 16;

function takeStore(): Buffer {
  const s = free.pop();
  if (s !== undefined) return s;
  if (slabOff === slab.length) {
    slab = Buffer.allocUnsafeSlow(HEAD_STORE_BYTES * SLAB_STORES);
    slabOff = 0;
  }
  const store = slab.subarray(slabOff, slabOff + HEAD_STORE_BYTES);
  slabOff += HEAD_STORE_BYTES;
  return store;
}

/** Gives a pooled store back (its request is over and no socket holds its bytes). */
export function releaseHeadStore(store: Buffer): void {
  if (free.length < FREE_MAX) free.push(store);
}

/** how many stores are free (tests) */
export function freeHeadStores(): number {
  return free.length;
}

/** latin1 bytes of `s` at `o` (the low byte of each character, as Buffer's latin1 does); returns the end */
function put(b: Buffer, o: number, s: string): number {
  const n = s.length;
  for (let i = 0; i < n; i++) b[o + i] = s.charCodeAt(i);
  return o + n;
}

/** the same, refusing CR, LF and NUL */
function putChecked(b: Buffer, o: number, s: string): number {
  const n = s.length;
  let bad = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i) & 0xff;
    bad |= BREAKS[c];
    b[o + i] = c;
  }
  if (bad !== 0) throw new InvalidArgumentError('invalid header value (CR, LF or NUL)');
  return o + n;
}

const REQUEST_LINE_END = ' HTTP/1.1\r\nhost: ';
const KEEP_ALIVE_LINE = '\r\nconnection: keep-alive\r\n';
const CLOSE_LINE = '\r\nconnection: close\r\n';
const CHUNKED_LINES = 'transfer-encoding: chunked\r\n\r\n';
const EMPTY_LENGTH_LINES = 'content-length: 0\r\n\r\n';
const LENGTH_NAME = 'content-length: ';

/**
 * Writes the request head as latin1 bytes into `out.head` (a pooled store when it fits) from
 * the flat header list Exchange hands over (see router/front/forwarding-headers.ts
 * buildUpstreamHeaders), the way undici writes it: `METHOD path HTTP/1.1`, `host` (the list's,
 * else the dyno's address), `connection: keep-alive` (`close` for HEAD, as undici does: a dyno's
 * stray HEAD body cannot poison the connection), the headers in order, then the framing: the
 * list's Content-Length for a body of known length, `transfer-encoding: chunked` for one
 * without, `content-length: 0` for a bodyless POST/PUT/PATCH. Refuses (InvalidArgumentError,
 * code UND_ERR_INVALID_ARG, as undici) a path or value that would break the framing (CR, LF,
 * NUL), a second Host or Content-Length, and headers undici refuses; nothing is taken from the
 * pool then. `out.headStore` must be null (given back) before the call.
 */
export function buildRequestHead(out: RequestHead, method: string, path: string, headers: readonly string[] | null | undefined,
  hasBody: boolean, defaultHost: string): void {
  if (INVALID_PATH.test(path)) throw new InvalidArgumentError('invalid request path');
  let host = '';
  let contentLength = -1;
  let hostAt = -1;
  let lengthAt = -1;
  // first pass: the checks, and the size
  let size = method.length + 1 + path.length + REQUEST_LINE_END.length + KEEP_ALIVE_LINE.length;
  if (headers != null) {
    for (let i = 0; i < headers.length; i += 2) {
      const k = headers[i];
      const v = headers[i + 1];
      if (k.length === 4 && k === 'host') {
        if (host !== '') throw new InvalidArgumentError('duplicate host header');
        host = v;
        hostAt = i;
        continue;
      }
      if (k.length === 14 && k === 'content-length') {
        if (contentLength !== -1) throw new InvalidArgumentError('duplicate content-length header');
        if (!CONTENT_LENGTH_VALUE.test(v)) throw new InvalidArgumentError('invalid content-length header');
        contentLength = Number(v);
        lengthAt = i;
        continue;
      }
      if (k.length < 32 && REFUSED_LENGTH[k.length] === 1 && REFUSED.has(k.toLowerCase())) {
        throw new InvalidArgumentError(`invalid ${k} header`);
      }
      size += k.length + v.length + 4;
    }
  }
  if (host === '') host = defaultHost;
  size += host.length;
  let framing: Framing = NO_BODY;
  let tail: string;
  let lengthText = '';
  if (hasBody) {
    if (contentLength === -1) {
      tail = CHUNKED_LINES;
      framing = CHUNKED_BODY;
    } else {
      lengthText = String(contentLength);
      tail = '\r\n\r\n';
      size += LENGTH_NAME.length + lengthText.length;
      framing = LENGTH_BODY;
    }
  } else {
    // undici: no Content-Length for an empty body unless the method expects one
    tail = EXPECTS_PAYLOAD.has(method) ? EMPTY_LENGTH_LINES : '\r\n';
    contentLength = -1;
  }
  size += tail.length;

  // second pass: the bytes, CR, LF and NUL refused in every piece that comes from outside
  const store = size <= HEAD_STORE_BYTES ? takeStore() : null;
  const b = store ?? Buffer.allocUnsafe(size);
  let o: number;
  try {
    o = putChecked(b, 0, method);
    b[o++] = 32;
    o = put(b, o, path); // INVALID_PATH has refused what breaks the line
    o = put(b, o, REQUEST_LINE_END);
    o = putChecked(b, o, host);
    o = put(b, o, method === 'HEAD' ? CLOSE_LINE : KEEP_ALIVE_LINE);
    if (headers != null) {
      for (let i = 0; i < headers.length; i += 2) {
        if (i === hostAt || i === lengthAt) continue;
        o = putChecked(b, o, headers[i]);
        b[o++] = 58; // ':'
        b[o++] = 32;
        o = putChecked(b, o, headers[i + 1]);
        b[o++] = 13;
        b[o++] = 10;
      }
    }
    if (lengthText !== '') {
      o = put(b, o, LENGTH_NAME);
      o = put(b, o, lengthText);
    }
    o = put(b, o, tail);
  } catch (err) {
    if (store !== null) releaseHeadStore(store);
    throw err;
  }
  const prev = out.head;
  // the same length as the request before on this store: its view is still the right one
  out.head = store !== null && prev.length === o && prev.buffer === store.buffer && prev.byteOffset === store.byteOffset
    ? prev : b.subarray(0, o);
  out.headStore = store;
  out.framing = framing;
  out.contentLength = contentLength;
}
