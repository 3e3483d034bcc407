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
  const out: string[] = [];
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
    out.push(k, recode ? asWireValue(headers[i + 1]) : headers[i + 1]);
  }
  out.push(
    'x-forwarded-for', recode ? asWireValue(fwd) : fwd,
    'x-forwarded-proto', listener.protocol,
    'x-forwarded-port', listener.port,
    'x-forwarded-host', facts.host,
    'x-forwarded-path', originalPath,
    'x-request-id', requestId,
    'x-request-start', requestStart(),
    'via', facts.via ? `${recode ? asWireValue(facts.via) : facts.via}, ${VIA}` : VIA,
  );
  if (extra !== null) for (const [k, v] of extra) out.push(k, v);
  return out;
}
