import { STATUS_CODES } from 'node:http';
import { CODES } from '../../shared/codes.js';
import type { HttpResponse } from 'uWebSockets.js';
import { VIA } from './request-id.js';
import { LingeringClose } from './lingering-close.js';

/** What the front learned from the client's headers in its single pass over them. */
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

/** A head refusal's code, as registered in shared/codes.ts with its status. */
type HeadCode = 'E_FRAMING' | 'E_HOST' | 'E_HEADER_VALUE' | 'E_TARGET' | 'E_URI_TOO_LONG' | 'E_HEADERS_TOO_LARGE' | 'E_DUPLICATE_HEADER';

/** The problem `code`, with the status line of its registered status (400 Bad Request, …). */
function problem(code: HeadCode, body: string): HeadProblem {
  const status = CODES[code].status;
  return Object.freeze({ code, status: `${status} ${STATUS_CODES[status]}`, body });
}

/** Every way a request head is refused (stable codes; the bodies are what the client reads). */
export const HEAD_PROBLEMS = Object.freeze({
  framing: problem('E_FRAMING', 'Bad request framing (Content-Length / Transfer-Encoding)\n'),
  host: problem('E_HOST', 'Bad or missing Host header\n'),
  headerValue: problem('E_HEADER_VALUE', 'Control character in a header value\n'),
  target: problem('E_TARGET', 'Bad request target\n'),
  uriTooLong: problem('E_URI_TOO_LONG', 'Request target too long\n'),
  headersTooLarge: problem('E_HEADERS_TOO_LARGE', 'Request headers too large\n'),
});

const DUPLICATES = new Map<string, HeadProblem>();

/** More than one line of a header the router or a filter reads (E_DUPLICATE_HEADER, 400), one problem per name. */
export function duplicateHeader(name: string): HeadProblem {
  let p = DUPLICATES.get(name);
  if (p === undefined) {
    p = problem('E_DUPLICATE_HEADER', `Repeated header field: ${name}\n`);
    if (DUPLICATES.size < 256) DUPLICATES.set(name, p);
  }
  return p;
}

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
export const PLAIN_VALUE = /^[\t\x20-\x7e]*$/;
/** control characters (but HTAB) and DEL: never forwarded */
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;
/**
 * uWS 20.30 reads at most 9 characters of Content-Length: with more (`0000000005`, 1 GB and up)
 * it calls the handler, then closes the connection as soon as the handler returns, so no
 * answer gets out. Refused here (E_FRAMING, nothing reaches a dyno); the client sees the close.
 */
const CONTENT_LENGTH = /^[0-9]{1,9}$/;

/**
 * Reads the client's headers (flat [name, value, ...], lower-case names from uWS) once: the
 * facts the router needs, and why the head must be refused, if it must. Refused: conflicting
 * or malformed Content-Length, any Transfer-Encoding but exactly one `chunked` (no CL with it),
 * zero or several Host headers or one that is not `name[:port]`, control characters in a
 * value, a header block over MAX_HEADER_BYTES, more than one line of Authorization, X-Request-Id
 * or a header in `singletons` (the ones the configured filters read: routing/singleton-headers.ts).
 */
export function readClientHead(headers: readonly string[], singletons: ReadonlySet<string> | null = null): ClientHeaderFacts {
  return readClientHeadInto(newFacts(), headers, singletons);
}

/** A facts object with nothing read yet (the values readClientHeadInto starts from). */
export function newFacts(): ClientHeaderFacts {
  return { host: '', contentLength: -1, contentLengths: 0, chunked: false, transferEncoding: false,
    requestId: '', xff: '', via: '', connection: '', problem: null, nonAscii: false };
}

/**
 * readClientHead into `facts`, every field set again (the front reuses one object for every
 * request it reads synchronously: request-front.ts copies it for whatever keeps it longer).
 */
export function readClientHeadInto(facts: ClientHeaderFacts, headers: readonly string[], singletons: ReadonlySet<string> | null): ClientHeaderFacts {
  facts.host = '';
  facts.contentLength = -1;
  facts.contentLengths = 0;
  facts.chunked = false;
  facts.transferEncoding = false;
  facts.requestId = '';
  facts.xff = '';
  facts.via = '';
  facts.connection = '';
  facts.problem = null;
  facts.nonAscii = false;
  let hosts = 0;
  let authorizations = 0;
  let requestIds = 0;
  let repeated: string | null = null;
  let seen: Set<string> | null = null;
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
      case 'authorization': authorizations++; break;
      case 'x-request-id': facts.requestId = v; requestIds++; break;
      case 'x-forwarded-for': facts.xff = facts.xff ? `${facts.xff}, ${v}` : v; break;
      case 'via': facts.via = facts.via ? `${facts.via}, ${v}` : v; break;
      case 'connection': facts.connection = facts.connection ? `${facts.connection}, ${v}` : v; break;
      default:
        if (singletons !== null && singletons.has(k)) {
          if ((seen ??= new Set()).has(k)) repeated ??= k;
          else seen.add(k);
        }
    }
  }
  if (facts.problem !== null) return facts;
  if (bytes > MAX_HEADER_BYTES) facts.problem = HEAD_PROBLEMS.headersTooLarge;
  else if (facts.contentLength === -2 || (facts.transferEncoding && (transferEncodings > 1 || !facts.chunked || facts.contentLengths > 0))) {
    facts.problem = HEAD_PROBLEMS.framing;
  } else if (hosts !== 1 || !HOST.test(facts.host)) facts.problem = HEAD_PROBLEMS.host;
  else if (authorizations > 1) facts.problem = duplicateHeader('authorization');
  else if (requestIds > 1) facts.problem = duplicateHeader('x-request-id');
  else if (repeated !== null) facts.problem = duplicateHeader(repeated);
  return facts;
}


/** a request target of printable ASCII only (the common case: nothing to encode) */
export const PLAIN_TARGET = /^[\x21-\x7e]*$/;
const HEX = '0123456789ABCDEF';

/** Percent-encodes (as UTF-8) every character of a request target outside printable ASCII. */
export function encodeTarget(s: string): string {
  return s.replace(/[^\x21-\x7e]+/g, (run) => {
    let out = '';
    for (const b of Buffer.from(run, 'utf8')) out += '%' + HEX[b >> 4] + HEX[b & 15];
    return out;
  });
}

/**
 * Refuses a request head: 4xx, then the connection closes. The answer waits for the end of the
 * current event-loop turn: uWS goes on parsing whatever else arrived with this head (a request
 * hidden behind ambiguous framing) after the handler returns, and even `end(body, true)` lets it
 * reach the handler. With this response still pending, uWS instead aborts the connection as soon
 * as it finds a second request (pipelining while a response is pending): nothing after a
 * refused head is ever routed. Alone, the head gets its status and the connection is closed;
 * with a body still arriving (`bodyFollows`), the answer is written whole and the connection
 * lingers, reading and dropping the body, before it closes (lingering-close.ts), so that a client
 * still sending reads the status instead of a reset.
 */
export function refuse(res: HttpResponse, p: HeadProblem, requestId: string, bodyFollows: boolean, headOnly: boolean): void {
  const linger = new LingeringClose(res, !bodyFollows);
  if (bodyFollows) linger.listen();
  setImmediate(() => {
    linger.answer((r) => {
      r.writeStatus(p.status).writeHeader('content-type', 'text/plain; charset=utf-8').writeHeader('x-request-id', requestId)
        .writeHeader('via', VIA);
    }, p.body, headOnly);
  });
}
