import type { ClientHeaderFacts } from './head-checks.js';
import { PLAIN_VALUE } from './head-checks.js';
import { connectionNamed, HOP_BY_HOP } from './hop-by-hop.js';
import type { ListenerInfo } from './listeners.js';
import { VIA } from './request-id.js';

/**
 * Request headers never forwarded: hop-by-hop, Expect (undici refuses it; uWS has answered any
 * `100-continue`), and the ones the router sets itself.
 */
const DROP: ReadonlySet<string> = new Set([...HOP_BY_HOP, 'expect', 'x-request-id', 'x-forwarded-for', 'x-forwarded-proto',
  'x-forwarded-port', 'x-forwarded-host', 'x-forwarded-path', 'x-request-start', 'via']);

/**
 * uWS hands header values over decoded as UTF-8; undici writes them as latin1. A value with
 * characters beyond ASCII goes back to its UTF-8 bytes, one character per byte, so the dyno gets
 * the bytes the client sent (an invalid UTF-8 byte arrives as U+FFFD's three bytes).
 */
export function asWireValue(v: string): string {
  return PLAIN_VALUE.test(v) ? v : Buffer.from(v, 'utf8').toString('latin1');
}

/** a Connection value that names no header */
const PLAIN_CONNECTION = /^[ \t]*(?:keep-alive|close)[ \t]*$/i;

let startMs = 0;
let startText = '0';
/** X-Request-Start: the epoch ms, its string made once per millisecond */
function requestStart(): string {
  const now = Date.now();
  if (now !== startMs) {
    startMs = now;
    startText = String(now);
  }
  return startText;
}

/**
 * The forwarding headers: the flat header list the dyno gets (HTTP exchange and WebSocket
 * handshake alike): the client's headers (lower-case names from uWS) minus the
 * dropped ones, plus X-Forwarded-*, X-Request-Id, X-Request-Start, Via and filter additions.
 * A repeated Content-Length (identical values, or readClientHead refused it) is sent once.
 * `strip`: client headers the app's filters alone may set (JWT claims_headers), never forwarded.
 */
export function buildUpstreamHeaders(headers: readonly string[], facts: ClientHeaderFacts, listener: ListenerInfo,
  originalPath: string, fwd: string, requestId: string, extra: readonly [string, string][] | null,
  strip: ReadonlySet<string> | null = null): string[] {
  // one array of its final size: no regrowth (a push per header made two or three backing stores)
  const out: string[] = new Array<string>(headers.length + 16 + (extra === null ? 0 : extra.length * 2));
  let n = 0;
  const c = facts.connection;
  // `keep-alive` or `close` alone (what clients send) names no header: no split for it
  const named = c === '' || PLAIN_CONNECTION.test(c) ? null : connectionNamed(c);
  const recode = facts.nonAscii === true;
  let contentLength = false;
  for (let i = 0; i < headers.length; i += 2) {
    const k = headers[i];
    if (DROP.has(k) || (named !== null && named.has(k)) || (strip !== null && strip.has(k))) continue;
    if (k === 'content-length') {
      if (contentLength) continue;
      contentLength = true;
    }
    out[n++] = k;
    out[n++] = recode ? asWireValue(headers[i + 1]) : headers[i + 1];
  }
  out[n++] = 'x-forwarded-for';
  out[n++] = recode ? asWireValue(fwd) : fwd;
  out[n++] = 'x-forwarded-proto';
  out[n++] = listener.protocol;
  out[n++] = 'x-forwarded-port';
  out[n++] = listener.port;
  out[n++] = 'x-forwarded-host';
  out[n++] = facts.host;
  out[n++] = 'x-forwarded-path';
  out[n++] = originalPath;
  out[n++] = 'x-request-id';
  out[n++] = requestId;
  out[n++] = 'x-request-start';
  out[n++] = requestStart();
  out[n++] = 'via';
  out[n++] = facts.via ? `${recode ? asWireValue(facts.via) : facts.via}, ${VIA}` : VIA;
  if (extra !== null) {
    for (let i = 0; i < extra.length; i++) {
      out[n++] = extra[i][0];
      out[n++] = extra[i][1];
    }
  }
  // the dropped headers' room (the array is trimmed in place)
  if (n !== out.length) out.length = n;
  return out;
}
