import type { HttpResponse } from 'uWebSockets.js';
import { connectionNamed, HOP_BY_HOP } from '../front/hop-by-hop.js';

/**
 * Response headers removed on the way to the client: hop-by-hop ones, those uWS writes itself
 * (content-length, date) and x-request-id (the router echoes its own). The dyno's Via is kept:
 * the router's own follows it.
 */
const DROP: ReadonlySet<string> = new Set([...HOP_BY_HOP, 'content-length', 'date', 'x-request-id']);
// first letters (lower and upper case) and lengths of DROP names: most headers are copied
// without making a string of their name
const DROP_FIRST = new Uint8Array(256);
const DROP_LENGTH = new Uint8Array(32);
for (const n of DROP) {
  DROP_FIRST[n.charCodeAt(0)] = 1;
  DROP_FIRST[n.toUpperCase().charCodeAt(0)] = 1;
  DROP_LENGTH[n.length] = 1;
}

/** `access-control-`, the prefix of the CORS response headers */
const ACCESS_CONTROL = 'access-control-';

/**
 * Copies the dyno's headers (raw Buffers, passed to uWS as they are) to the client, minus the
 * hop-by-hop ones and those named in Connection, and minus its `Access-Control-*` headers when
 * the router owns CORS for this response (`dropCors`: the app's CORS filter applied; the browser
 * must never see two allow-origins, or the dyno's `*` for an origin the filter refused).
 * Returns the dyno's Content-Length, -1 if none.
 */
export function copyResponseHeaders(res: HttpResponse, raw: Buffer[], dropCors = false): number {
  let contentLength = -1;
  let named: Set<string> | null = null;
  // Connection-named headers are rare: find the Connection header first only if there is one
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i];
    if (k.length === 10 && (k[0] | 0x20) === 0x63 && k.toString('latin1').toLowerCase() === 'connection') {
      named = connectionNamed(raw[i + 1].toString('latin1'), named); // every Connection line counts
    }
  }
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i];
    if ((DROP_FIRST[k[0]] === 1 && k.length < 32 && DROP_LENGTH[k.length] === 1) || named !== null || (dropCors && (k[0] | 0x20) === 0x61 /* a */)) {
      const name = k.toString('latin1').toLowerCase();
      if (dropCors && name.startsWith(ACCESS_CONTROL)) continue;
      if (name === 'content-length') {
        const n = Number(raw[i + 1].toString('latin1'));
        if (Number.isSafeInteger(n) && n >= 0) contentLength = n;
        continue;
      }
      if (DROP.has(name) || (named !== null && named.has(name))) continue;
    }
    res.writeHeader(k, raw[i + 1]);
  }
  return contentLength;
}

/**
 * The same relay for a response Node's HTTP client parsed (a dyno's answer to a WebSocket
 * handshake: raw names and values as strings): the same headers are removed, and `alsoDrop`
 * (lower-case) too.
 */
export function relayResponseHeaders(res: HttpResponse, raw: readonly string[], dropCors: boolean,
  alsoDrop: ReadonlySet<string> | null = null): void {
  let named: Set<string> | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].toLowerCase() === 'connection') named = connectionNamed(raw[i + 1], named);
  }
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (DROP.has(name) || (named !== null && named.has(name)) || (alsoDrop !== null && alsoDrop.has(name))) continue;
    if (dropCors && name.startsWith(ACCESS_CONTROL)) continue;
    res.writeHeader(raw[i], raw[i + 1]);
  }
}
