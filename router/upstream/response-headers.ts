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
    if (DROP_FIRST[k[0]] === 1 && k.length < 32 && DROP_LENGTH[k.length] === 1) {
      // a DROP name, compared byte by byte (no string made of the name)
      const d = dropIndex(k);
      if (d === CONTENT_LENGTH) {
        const n = lengthOf(raw[i + 1]);
        if (Number.isSafeInteger(n) && n >= 0) contentLength = n;
        continue;
      }
      if (d >= 0) continue;
    }
    if (named !== null || (dropCors && (k[0] | 0x20) === 0x61 /* a */)) {
      const name = k.toString('latin1').toLowerCase();
      if (dropCors && name.startsWith(ACCESS_CONTROL)) continue;
      if (named !== null && named.has(name)) continue;
    }
    res.writeHeader(k, raw[i + 1]);
  }
  return contentLength;
}

/** DROP's names as lower-case bytes, by length */
const DROP_BYTES: Buffer[][] = [];
for (const n of DROP) (DROP_BYTES[n.length] ??= []).push(Buffer.from(n, 'latin1'));
const CONTENT_LENGTH_NAME = DROP_BYTES[14].find((b) => b.toString('latin1') === 'content-length')!;
/** what dropIndex returns for content-length */
const CONTENT_LENGTH = -2;

/**
 * Whether the header name `k` (a token: no byte of it differs from a letter or `-` by case alone
 * unless it is that letter) is one of DROP: CONTENT_LENGTH for content-length, 0 for another, -1 for none.
 */
function dropIndex(k: Buffer): number {
  const names = DROP_BYTES[k.length];
  if (names === undefined) return -1;
  for (let j = 0; j < names.length; j++) {
    const n = names[j];
    let i = 0;
    while (i < n.length && (k[i] | 0x20) === n[i]) i++;
    if (i === n.length) return n === CONTENT_LENGTH_NAME ? CONTENT_LENGTH : 0;
  }
  return -1;
}

/** A Content-Length value: its digits' number, else what Number() makes of its text (NaN for junk). */
function lengthOf(v: Buffer): number {
  let n = 0;
  if (v.length === 0 || v.length > 15) return Number(v.toString('latin1'));
  for (let i = 0; i < v.length; i++) {
    const d = v[i] - 48;
    if (d < 0 || d > 9) return Number(v.toString('latin1'));
    n = n * 10 + d;
  }
  return n;
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
