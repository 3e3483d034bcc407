import { ResponseParseError, type ParseErrorCode } from './errors.js';

/** Where the parser hands what it read. A `false` return pauses it until `execute` is called again. */
export interface ResponseSink {
  onResponseHead(statusCode: number, rawHeaders: Buffer[], statusText: string): boolean;
  onResponseData(chunk: Buffer): boolean;
}

// states
const HEAD = 0;
const NO_BODY = 1;
const LENGTH = 2;
const CLOSE = 3;
const CHUNK_SIZE = 4;
const CHUNK_SIZE_WS = 5;
const CHUNK_EXT = 6;
const CHUNK_SIZE_LF = 7;
const CHUNK_DATA = 8;
const CHUNK_DATA_CR = 9;
const CHUNK_DATA_LF = 10;
const TRAILER_START = 11;
const TRAILER_NAME = 12;
const TRAILER_VALUE = 13;
const TRAILER_LF = 14;
const TRAILER_END_LF = 15;
/** the message is complete: `execute` returned the index just past its last byte */
export const DONE = 16;

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const COLON = 58;
const SEMICOLON = 59;

/** tchar (RFC 9110 5.6.2) */
const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TOKEN[c.charCodeAt(0)] = 1;
/** field-value and reason-phrase octets: HTAB, SP, VCHAR, obs-text */
const VALUE = new Uint8Array(256);
VALUE[HTAB] = 1;
for (let c = 0x20; c <= 0x7e; c++) VALUE[c] = 1;
for (let c = 0x80; c <= 0xff; c++) VALUE[c] = 1;
/** hex digit values + 1 (0: not a hex digit) */
const HEX = new Uint8Array(256);
for (let i = 0; i < 16; i++) {
  HEX['0123456789abcdef'.charCodeAt(i)] = i + 1;
  HEX['0123456789ABCDEF'.charCodeAt(i)] = i + 1;
}

const MAX_CHUNK_LINE = 4096;
const MAX_CHUNK_SIZE_DIGITS = 13; // below 2^52

const bytes = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const CONTENT_LENGTH = bytes('content-length');
const TRANSFER_ENCODING = bytes('transfer-encoding');
const CONNECTION = bytes('connection');
const KEEP_ALIVE = bytes('keep-alive');
const NO_HEADERS: Buffer[] = [];
const EMPTY = Buffer.alloc(0);
/** header lines remembered per connection (by place in the head), their size, and misses before giving up on one */
const LINE_SLOTS = 32;
const LINE_BYTES = 256;
const LINE_MISSES = 8;
const HTTP_SLASH = bytes('HTTP/');

/** Buffer#latin1Slice (untyped in @types/node): a string of bytes without toString's argument handling */
function latin1(b: Buffer, from: number, to: number): string {
  return (b as unknown as { latin1Slice(from: number, to: number): string }).latin1Slice(from, to);
}

/** `b[start .. start+name.length)` equals the lower-case `name`, ASCII case folded (b holds a validated token). */
function sameName(b: Buffer, start: number, name: Uint8Array): boolean {
  for (let i = 0; i < name.length; i++) if ((b[start + i] | 0x20) !== name[i]) return false;
  return true;
}

function fail(code: ParseErrorCode, message: string): never {
  throw new ResponseParseError(code, message);
}

/**
 * A strict HTTP/1.1 response parser on Buffers, one response at a time (no pipelining): status
 * line, headers (CRLF only, no obs-fold, token names, size-limited), Content-Length (digits only,
 * no duplicates), chunked bodies with extensions and trailers (trailers are read and dropped),
 * close-delimited bodies, 1xx interim responses skipped, HEAD/204/304 without a body, Connection
 * and Keep-Alive read for reuse. Input may be split at any byte. Malformed input throws
 * ResponseParseError (llhttp's HPE_* codes). Bodies are handed over as views of the input, never
 * copied.
 */
export class ResponseParser {
  private readonly sink: ResponseSink;
  private readonly maxHeaderSize: number;
  state = HEAD;
  /** the response was to a HEAD request: no body whatever the headers say */
  private headRequest = false;

  // head scanning across inputs
  private headParts: Buffer[] | null = null;
  private headBytes = 0;
  private lineLen = 0;
  private prevCR = false;

  // facts of the current response
  statusCode = 0;
  /** the connection may carry another request after this response */
  keepAlive = true;
  /** ms from the dyno's `Keep-Alive: timeout=N`, -1 when none */
  keepAliveHintMs = -1;
  /** body bytes still expected (Content-Length or the current chunk) */
  private remaining = 0;
  private sizeDigits = 0;
  private lineBytes = 0;

  constructor(sink: ResponseSink, maxHeaderSize: number) {
    this.sink = sink;
    this.maxHeaderSize = maxHeaderSize;
  }

  /** Ready for the response to a new request. */
  reset(headRequest: boolean): void {
    this.state = HEAD;
    this.headRequest = headRequest;
    this.headParts = null;
    this.headBytes = 0;
    this.lineLen = 0;
    this.prevCR = false;
    this.statusCode = 0;
    this.keepAlive = true;
    this.keepAliveHintMs = -1;
    this.remaining = 0;
  }

  /** Nothing of the response has been read yet (no byte, not even an interim response). */
  get pristine(): boolean {
    return this.state === HEAD && this.headBytes === 0 && this.statusCode === 0;
  }

  /** The body runs to the end of the connection. */
  get closeDelimited(): boolean {
    return this.state === CLOSE;
  }

  /** The final response head has been read (the body may follow). */
  get headRead(): boolean {
    return this.state !== HEAD;
  }

  /**
   * Parses `buf` from `i` to `end` (the bytes read: no view made of them). Returns where it
   * stopped: `end` when all was read, less when the sink paused it (call again from there) or
   * when the message completed (`state === DONE`, the rest does not belong to this response).
   */
  execute(buf: Buffer, i: number, end = buf.length): number {
    for (;;) {
      switch (this.state) {
        case HEAD: {
          if (i >= end) return i;
          i = this.scanHead(buf, i, end);
          if (this.state === HEAD) break; // needs more input, or an interim response was skipped
          if (!this.sinkHead()) return i;
          break;
        }
        case NO_BODY:
          this.state = DONE;
          return i;
        case LENGTH: {
          if (this.remaining === 0) {
            this.state = DONE;
            return i;
          }
          if (i >= end) return i;
          const n = Math.min(end - i, this.remaining);
          const chunk = i === 0 && n === buf.length ? buf : buf.subarray(i, i + n);
          i += n;
          this.remaining -= n;
          if (!this.sink.onResponseData(chunk)) return i;
          break;
        }
        case CLOSE: {
          if (i >= end) return i;
          this.sink.onResponseData(i === 0 && end === buf.length ? buf : buf.subarray(i, end));
          return end;
        }
        case CHUNK_DATA: {
          if (i >= end) return i;
          const n = Math.min(end - i, this.remaining);
          const chunk = i === 0 && n === buf.length ? buf : buf.subarray(i, i + n);
          i += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = CHUNK_DATA_CR;
          if (!this.sink.onResponseData(chunk)) return i;
          break;
        }
        case DONE:
          return i;
        default:
          if (i >= end) return i;
          i = this.scanChunkFraming(buf, i, end);
      }
    }
  }

  /** Finds the end of the head (CRLF CRLF), then parses it. Returns the index after what it read. */
  private scanHead(buf: Buffer, start: number, end: number): number {
    // a response starts with `HTTP/`: garbage is refused at its first byte, not after a timeout
    for (let k = this.headBytes, j = start; k < 5 && j < end; k++, j++) {
      if (buf[j] !== HTTP_SLASH[k]) fail('HPE_INVALID_CONSTANT', 'Expected HTTP/');
    }
    let lineLen = this.lineLen;
    let prevCR = this.prevCR;
    let i = start;
    for (; i < end; i++) {
      const b = buf[i];
      if (prevCR) {
        if (b !== LF) fail('HPE_LF_EXPECTED', 'Expected LF after CR');
        prevCR = false;
        if (lineLen === 0) break;
        lineLen = 0;
      } else if (b === CR) {
        prevCR = true;
      } else if (b === LF) {
        fail('HPE_CR_EXPECTED', 'Expected CR before LF');
      } else {
        lineLen++;
      }
    }
    const total = this.headBytes + (i < end ? i + 1 : end) - start;
    if (total > this.maxHeaderSize) fail('HPE_HEADER_OVERFLOW', 'Header overflow');
    if (i === end) {
      // the head goes on in the next input
      (this.headParts ??= []).push(buf.subarray(start, end));
      this.headBytes = total;
      this.lineLen = lineLen;
      this.prevCR = prevCR;
      return end;
    }
    let head: Buffer;
    if (this.headParts === null) head = buf.subarray(start, i + 1);
    else {
      this.headParts.push(buf.subarray(start, i + 1));
      head = Buffer.concat(this.headParts, total);
    }
    this.headParts = null;
    this.headBytes = 0;
    this.lineLen = 0;
    this.prevCR = false;
    this.parseHead(head);
    return i + 1;
  }

  // what parseHead found, for sinkHead
  private rawHeaders: Buffer[] = NO_HEADERS;
  /**
   * the raw headers of the current response: one array per parser, reused (the sink is done with
   * it when its response is over, before the next one is parsed)
   */
  private readonly raw: Buffer[] = [];
  /** the previous responses' header lines by place (copies), their name and value views, misses in a row */
  private readonly lines: (Buffer | null)[] = [];
  private readonly lineNames: Buffer[] = [];
  private readonly lineValues: Buffer[] = [];
  private readonly lineMisses = new Uint8Array(LINE_SLOTS);
  private statusText = '';

  /** Parses a complete head (status line + header lines + CRLF), all CRLFs already checked. */
  private parseHead(h: Buffer): void {
    const n = h.length;
    if (n < 14 || h[0] !== 0x48 || h[1] !== 0x54 || h[2] !== 0x54 || h[3] !== 0x50 || h[4] !== 0x2f) {
      fail('HPE_INVALID_CONSTANT', 'Expected HTTP/');
    }
    if (h[5] !== 0x31 || h[6] !== 0x2e || (h[7] !== 0x31 && h[7] !== 0x30) || h[8] !== SP) fail('HPE_INVALID_VERSION', 'Invalid HTTP version');
    const http10 = h[7] === 0x30;
    const d0 = h[9] - 48;
    const d1 = h[10] - 48;
    const d2 = h[11] - 48;
    if (d0 < 1 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9 || (h[12] !== SP && h[12] !== CR)) fail('HPE_INVALID_STATUS', 'Invalid status code');
    const status = d0 * 100 + d1 * 10 + d2;
    let i = 12;
    let statusText = '';
    if (h[12] === SP) {
      const from = 13;
      i = from;
      while (h[i] !== CR) {
        if (VALUE[h[i]] !== 1) fail('HPE_INVALID_STATUS', 'Invalid character in reason phrase');
        i++;
      }
      if (i - from === 2 && h[from] === 0x4f && h[from + 1] === 0x4b) statusText = 'OK';
      else if (i > from) statusText = latin1(h, from, i);
    }
    i += 2; // CRLF
    const raw = this.raw;
    let r = 0;
    let contentLength = -1;
    let transferEncoding = false;
    let chunked = false;
    let close = http10;
    let hintMs = -1;
    while (i < n - 2) {
      // name
      const ns = i;
      while (TOKEN[h[i]] === 1) i++;
      const nameLen = i - ns;
      if (nameLen === 0 || h[i] !== COLON) fail('HPE_INVALID_HEADER_TOKEN', 'Invalid header field name');
      i++;
      while (h[i] === SP || h[i] === HTAB) i++;
      const vs = i;
      while (h[i] !== CR) {
        if (VALUE[h[i]] !== 1) fail('HPE_INVALID_HEADER_TOKEN', 'Invalid header value char');
        i++;
      }
      let ve = i;
      while (ve > vs && (h[ve - 1] === SP || h[ve - 1] === HTAB)) ve--;
      i += 2;
      this.headerViews(h, ns, nameLen, vs, ve, r);
      r += 2;
      if (nameLen === 14 && sameName(h, ns, CONTENT_LENGTH)) {
        if (contentLength !== -1) fail('HPE_UNEXPECTED_CONTENT_LENGTH', 'Duplicate Content-Length');
        contentLength = parseLength(h, vs, ve);
      } else if (nameLen === 17 && sameName(h, ns, TRANSFER_ENCODING)) {
        // codings in order, over every Transfer-Encoding line: chunked only as the last one
        for (const token of latin1(h, vs, ve).split(',')) {
          const t = token.trim().toLowerCase();
          if (t === '') continue;
          if (chunked) fail('HPE_INVALID_TRANSFER_ENCODING', 'Invalid Transfer-Encoding: chunked is not the last coding');
          transferEncoding = true;
          chunked = t === 'chunked';
        }
      } else if (nameLen === 10) {
        if (sameName(h, ns, CONNECTION)) {
          for (const token of latin1(h, vs, ve).split(',')) {
            const t = token.trim().toLowerCase();
            if (t === 'close') close = true;
            else if (t === 'keep-alive' && http10) close = false;
          }
        } else if (sameName(h, ns, KEEP_ALIVE)) {
          const m = /(?:^|[\s,;])timeout\s*=\s*(\d{1,9})/i.exec(latin1(h, vs, ve));
          if (m !== null) hintMs = Number(m[1]) * 1000;
        }
      }
    }
    if (raw.length !== r) raw.length = r;
    if (status < 200) {
      if (status === 101) fail('HPE_PAUSED_UPGRADE', 'Unexpected protocol switch (101) for a request without Upgrade');
      // an interim response: skipped, the final one follows
      this.statusCode = status;
      return;
    }
    this.statusCode = status;
    this.statusText = statusText;
    this.rawHeaders = raw;
    this.keepAliveHintMs = hintMs;
    if (transferEncoding && contentLength !== -1) fail('HPE_UNEXPECTED_CONTENT_LENGTH', 'Content-Length with Transfer-Encoding');
    if (this.headRequest || status === 204 || status === 304) {
      this.state = NO_BODY;
    } else if (transferEncoding) {
      if (chunked) {
        this.state = CHUNK_SIZE;
        this.remaining = 0;
        this.sizeDigits = 0;
        this.lineBytes = 0;
      } else {
        this.state = CLOSE;
        close = true;
      }
    } else if (contentLength !== -1) {
      this.state = LENGTH;
      this.remaining = contentLength;
    } else {
      this.state = CLOSE;
      close = true;
    }
    this.keepAlive = !close;
  }

  /**
   * The header line at h[ns, ve) as two views (name, value) in `raw` at `r`, r + 1. A dyno sends
   * mostly the same lines on every response of a connection (Content-Type, Server, Date within
   * its second): a line equal to the one at the same place of the previous response gets the
   * same two views again, kept over a copy of its bytes, instead of two new views of the input.
   */
  private headerViews(h: Buffer, ns: number, nameLen: number, vs: number, ve: number, r: number): void {
    const raw = this.raw;
    const slot = r >> 1;
    const len = ve - ns;
    if (slot >= LINE_SLOTS || len > LINE_BYTES) {
      raw[r] = h.subarray(ns, ns + nameLen);
      raw[r + 1] = h.subarray(vs, ve);
      return;
    }
    const lines = this.lines;
    const cached = slot < lines.length ? lines[slot] : null;
    if (cached !== null && cached.length === len && this.lineNames[slot].length === nameLen) {
      let k = 0;
      while (k < len && cached[k] === h[ns + k]) k++;
      if (k === len) {
        this.lineMisses[slot] = 0;
        raw[r] = this.lineNames[slot];
        raw[r + 1] = this.lineValues[slot];
        return;
      }
    }
    // a line that keeps changing (a cookie, an id) is not copied again after a few misses in a row
    if (this.lineMisses[slot] >= LINE_MISSES) {
      raw[r] = h.subarray(ns, ns + nameLen);
      raw[r + 1] = h.subarray(vs, ve);
      return;
    }
    if (cached !== null) this.lineMisses[slot]++;
    const copy = Buffer.allocUnsafe(len);
    h.copy(copy, 0, ns, ve);
    const name = copy.subarray(0, nameLen);
    const value = copy.subarray(vs - ns, len);
    while (lines.length <= slot) {
      lines.push(null);
      this.lineNames.push(EMPTY);
      this.lineValues.push(EMPTY);
    }
    lines[slot] = copy;
    this.lineNames[slot] = name;
    this.lineValues[slot] = value;
    raw[r] = name;
    raw[r + 1] = value;
  }

  /** Hands the final head to the sink (the state is already the body's). */
  private sinkHead(): boolean {
    const raw = this.rawHeaders;
    this.rawHeaders = NO_HEADERS;
    return this.sink.onResponseHead(this.statusCode, raw, this.statusText);
  }

  /** Chunk size lines, the CRLF after chunk data, and the trailer section, byte by byte. */
  private scanChunkFraming(buf: Buffer, i: number, end: number): number {
    for (; i < end; i++) {
      const b = buf[i];
      switch (this.state) {
        case CHUNK_SIZE: {
          const v = HEX[b];
          if (v !== 0) {
            if (++this.sizeDigits > MAX_CHUNK_SIZE_DIGITS) fail('HPE_INVALID_CHUNK_SIZE', 'Chunk size too large');
            this.remaining = this.remaining * 16 + (v - 1);
          } else if (this.sizeDigits === 0) {
            fail('HPE_INVALID_CHUNK_SIZE', 'Invalid character in chunk size');
          } else if (b === CR) {
            this.state = CHUNK_SIZE_LF;
          } else if (b === SEMICOLON) {
            this.state = CHUNK_EXT;
          } else if (b === SP || b === HTAB) {
            this.state = CHUNK_SIZE_WS;
          } else {
            fail('HPE_INVALID_CHUNK_SIZE', 'Invalid character in chunk size');
          }
          this.lineBytes++;
          break;
        }
        case CHUNK_SIZE_WS:
          // BWS before a chunk extension
          if (b === SEMICOLON) this.state = CHUNK_EXT;
          else if (b !== SP && b !== HTAB) fail('HPE_INVALID_CHUNK_SIZE', 'Invalid character in chunk size');
          if (++this.lineBytes > MAX_CHUNK_LINE) fail('HPE_INVALID_CHUNK_SIZE', 'Chunk extensions too long');
          break;
        case CHUNK_EXT:
          if (b === CR) this.state = CHUNK_SIZE_LF;
          else if (VALUE[b] !== 1) fail('HPE_STRICT', 'Invalid character in chunk extensions');
          if (++this.lineBytes > MAX_CHUNK_LINE) fail('HPE_INVALID_CHUNK_SIZE', 'Chunk extensions too long');
          break;
        case CHUNK_SIZE_LF:
          if (b !== LF) fail('HPE_LF_EXPECTED', 'Expected LF after chunk size');
          this.sizeDigits = 0;
          this.lineBytes = 0;
          if (this.remaining === 0) {
            this.state = TRAILER_START;
            this.headBytes = 0;
            break;
          }
          this.state = CHUNK_DATA;
          return i + 1;
        case CHUNK_DATA_CR:
          if (b !== CR) fail('HPE_CR_EXPECTED', 'Expected CRLF after chunk data');
          this.state = CHUNK_DATA_LF;
          break;
        case CHUNK_DATA_LF:
          if (b !== LF) fail('HPE_LF_EXPECTED', 'Expected LF after chunk data');
          this.state = CHUNK_SIZE;
          this.remaining = 0;
          break;
        case TRAILER_START:
          if (b === CR) this.state = TRAILER_END_LF;
          else if (TOKEN[b] === 1) this.state = TRAILER_NAME;
          else fail('HPE_INVALID_HEADER_TOKEN', 'Invalid trailer field name');
          this.countTrailer();
          break;
        case TRAILER_NAME:
          if (b === COLON) this.state = TRAILER_VALUE;
          else if (TOKEN[b] !== 1) fail('HPE_INVALID_HEADER_TOKEN', 'Invalid trailer field name');
          this.countTrailer();
          break;
        case TRAILER_VALUE:
          if (b === CR) this.state = TRAILER_LF;
          else if (VALUE[b] !== 1) fail('HPE_INVALID_HEADER_TOKEN', 'Invalid trailer value char');
          this.countTrailer();
          break;
        case TRAILER_LF:
          if (b !== LF) fail('HPE_LF_EXPECTED', 'Expected LF after trailer');
          this.state = TRAILER_START;
          this.countTrailer();
          break;
        case TRAILER_END_LF:
          if (b !== LF) fail('HPE_LF_EXPECTED', 'Expected LF at the end of the trailers');
          this.state = DONE;
          return i + 1;
        default:
          return i;
      }
    }
    return i;
  }

  private countTrailer(): void {
    if (++this.headBytes > this.maxHeaderSize) fail('HPE_HEADER_OVERFLOW', 'Trailer overflow');
  }
}

/** Content-Length: 1 to 15 digits, nothing else (OWS already trimmed). */
function parseLength(h: Buffer, from: number, to: number): number {
  if (to === from || to - from > 15) fail('HPE_INVALID_CONTENT_LENGTH', 'Invalid Content-Length');
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = h[i] - 48;
    if (d < 0 || d > 9) fail('HPE_INVALID_CONTENT_LENGTH', 'Invalid character in Content-Length');
    n = n * 10 + d;
  }
  return n;
}
