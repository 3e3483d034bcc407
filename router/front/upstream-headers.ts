import type { ListenerInfo } from './request-handler.js';

/** What the handler learned from the client's headers in its single pass over them. */
export interface ClientHeaderFacts {
  host: string;
  /** -1 none, -2 invalid or conflicting duplicates */
  contentLength: number;
  contentLengths: number;
  chunked: boolean;
  transferEncoding: boolean;
  requestId: string;
  xff: string;
  via: string;
  connection: string;
  /** why the head is refused (set by readClientHead), null when it is fine */
  problem?: HeadProblem | null;
  /** some header value has characters outside printable ASCII (sent to the dyno byte for byte) */
  nonAscii?: boolean;
}

/** A refusal of the request head before routing: status line and short body. */
export interface HeadProblem {
  readonly code: string;
  readonly status: string;
  readonly body: string;
}

function problem(code: string, status: string, body: string): HeadProblem {
  return Object.freeze({ code, status, body });
}

/** Every way a request head is refused (stable codes; the bodies are what the client reads). */
export const HEAD_PROBLEMS = Object.freeze({
  framing: problem('E_FRAMING', '400 Bad Request', 'Bad request framing (Content-Length / Transfer-Encoding)\n'),
  host: problem('E_HOST', '400 Bad Request', 'Bad or missing Host header\n'),
  headerValue: problem('E_HEADER_VALUE', '400 Bad Request', 'Control character in a header value\n'),
  target: problem('E_TARGET', '400 Bad Request', 'Bad request target\n'),
  uriTooLong: problem('E_URI_TOO_LONG', '414 URI Too Long', 'Request target too long\n'),
  headersTooLarge: problem('E_HEADERS_TOO_LARGE', '431 Request Header Fields Too Large', 'Request headers too large\n'),
});

/** Longest request target (path and query) accepted: 414 above. */
export const MAX_TARGET_BYTES = 8192;
/** What is wrong with a request target (not origin-form, or too long), or null: 400 / 414. */
export function targetProblem(url: string, query: string): HeadProblem | null {
  if (url.charCodeAt(0) !== 47 /* / */) return HEAD_PROBLEMS.target;
  if (url.length + query.length > MAX_TARGET_BYTES) return HEAD_PROBLEMS.uriTooLong;
  return null;
}

/** Largest header block accepted (names, values, 4 bytes of framing each): 431 above. */
export const MAX_HEADER_BYTES = 16384;

/** `host[:port]` with a DNS-style name (letters, digits, `.`, `-`, `_`) or an IP literal; port digits only. */
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::[0-9]{0,5})?$/;
/** a value made only of HTAB and printable ASCII: the common case, nothing to check further */
const PLAIN_VALUE = /^[\t\x20-\x7e]*$/;
/** control characters (but HTAB) and DEL: never forwarded */
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;
const CONTENT_LENGTH = /^[0-9]{1,15}$/;

/**
 * Reads the client's headers (flat [name, value, ...], lower-case names from uWS) once: the
 * facts the router needs, and why the head must be refused, if it must. Refused: conflicting
 * or malformed Content-Length, any Transfer-Encoding but exactly one `chunked` (no CL with it),
 * zero or several Host headers or one that is not `name[:port]`, control characters in a
 * value, a header block over MAX_HEADER_BYTES.
 */
export function readClientHead(headers: readonly string[]): ClientHeaderFacts {
  const facts: ClientHeaderFacts = { host: '', contentLength: -1, contentLengths: 0, chunked: false, transferEncoding: false,
    requestId: '', xff: '', via: '', connection: '', problem: null, nonAscii: false };
  let hosts = 0;
  let transferEncodings = 0;
  let bytes = 0;
  for (let i = 0; i < headers.length; i += 2) {
    const k = headers[i];
    const v = headers[i + 1];
    bytes += k.length + v.length + 4;
    if (!PLAIN_VALUE.test(v)) {
      if (CONTROL.test(v)) facts.problem ??= HEAD_PROBLEMS.headerValue;
      facts.nonAscii = true;
    }
    switch (k) {
      case 'host': facts.host = v; hosts++; break;
      case 'content-length': {
        const n = CONTENT_LENGTH.test(v) ? Number(v) : -2;
        if (facts.contentLengths > 0 && n !== facts.contentLength) facts.contentLength = -2;
        else facts.contentLength = n;
        facts.contentLengths++;
        break;
      }
      case 'transfer-encoding':
        facts.transferEncoding = true;
        transferEncodings++;
        facts.chunked = v.trim().toLowerCase() === 'chunked';
        break;
      case 'x-request-id': facts.requestId = v; break;
      case 'x-forwarded-for': facts.xff = facts.xff ? `${facts.xff}, ${v}` : v; break;
      case 'via': facts.via = facts.via ? `${facts.via}, ${v}` : v; break;
      case 'connection': facts.connection = facts.connection ? `${facts.connection}, ${v}` : v; break;
    }
  }
  if (facts.problem !== null) return facts;
  if (bytes > MAX_HEADER_BYTES) facts.problem = HEAD_PROBLEMS.headersTooLarge;
  else if (facts.contentLength === -2 || (facts.transferEncoding && (transferEncodings > 1 || !facts.chunked || facts.contentLengths > 0))) {
    facts.problem = HEAD_PROBLEMS.framing;
  } else if (hosts !== 1 || !HOST.test(facts.host)) facts.problem = HEAD_PROBLEMS.host;
  return facts;
}

/** Request headers never forwarded: hop-by-hop, ones undici refuses, and the ones the router sets. */
const DROP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade',
  'expect', 'proxy-authorization', 'x-request-id', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-port',
  'x-forwarded-host', 'x-forwarded-path', 'x-request-start', 'via']);

/** Names a client's Connection header may not remove: the dyno needs Host to know the request. */
const KEEP_WHEN_NAMED = new Set(['host']);

function connectionNamed(value: string): Set<string> {
  const names = new Set<string>();
  for (const token of value.split(',')) {
    const t = token.trim().toLowerCase();
    if (t && t !== 'close' && t !== 'keep-alive' && !KEEP_WHEN_NAMED.has(t)) names.add(t);
  }
  return names;
}

/**
 * uWS hands header values over decoded as UTF-8; undici writes them as latin1. A value with
 * characters beyond ASCII goes back to its UTF-8 bytes, one character per byte, so the dyno gets
 * the bytes the client sent (an invalid UTF-8 byte arrives as U+FFFD's three bytes).
 */
export function asWireValue(v: string): string {
  return PLAIN_VALUE.test(v) ? v : Buffer.from(v, 'utf8').toString('latin1');
}

/**
 * The flat header list for undici: the client's headers (lower-case names from uWS) minus the
 * dropped ones, plus X-Forwarded-*, X-Request-Id, X-Request-Start, Via and filter additions.
 * A repeated Content-Length (identical values, or readClientHead refused it) is sent once.
 * `strip`: client headers the app's filters alone may set (JWT claims_headers), never forwarded.
 */
export function buildUpstreamHeaders(headers: readonly string[], facts: ClientHeaderFacts, listener: ListenerInfo,
  originalPath: string, fwd: string, requestId: string, extra: readonly [string, string][] | null,
  strip: ReadonlySet<string> | null = null): string[] {
  const out: string[] = [];
  const named = facts.connection ? connectionNamed(facts.connection) : null;
  const recode = facts.nonAscii === true;
  let contentLength = false;
  for (let i = 0; i < headers.length; i += 2) {
    const k = headers[i];
    if (DROP.has(k) || (named !== null && named.has(k)) || (strip !== null && strip.has(k))) continue;
    if (k === 'content-length') {
      if (contentLength) continue;
      contentLength = true;
    }
    out.push(k, recode ? asWireValue(headers[i + 1]) : headers[i + 1]);
  }
  out.push(
    'x-forwarded-for', recode ? asWireValue(fwd) : fwd,
    'x-forwarded-proto', listener.protocol,
    'x-forwarded-port', listener.port,
    'x-forwarded-host', facts.host,
    'x-forwarded-path', originalPath,
    'x-request-id', requestId,
    'x-request-start', String(Date.now()),
    'via', facts.via ? `${recode ? asWireValue(facts.via) : facts.via}, 1.1 edgeplane` : '1.1 edgeplane',
  );
  if (extra !== null) for (const [k, v] of extra) out.push(k, v);
  return out;
}
