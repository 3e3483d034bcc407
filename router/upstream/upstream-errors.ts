import type { HerokuCodeName } from '../front/heroku-codes.js';

const REFUSED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EADDRNOTAVAIL', 'EADDRINUSE']);

/**
 * undici codes for a response that breaks HTTP/1.1 (H17): a parser error (`HPE_*`, e.g. a bad
 * status line, header or chunk size); a body that does not match its Content-Length, or two
 * different Content-Length headers (llhttp's error reaches us as this mismatch); a header block
 * over undici's limit; a body over a size limit.
 */
const MALFORMED = new Set(['UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'UND_ERR_HEADERS_OVERFLOW', 'UND_ERR_RES_EXCEEDED_MAX_SIZE']);

/**
 * undici's SocketError messages for a response that no request asked for: an unsolicited
 * `100 Continue` or a response before any request ('bad response'), an unasked-for upgrade.
 */
const MALFORMED_SOCKET = new Set(['bad response', 'bad upgrade']);

/**
 * Maps an undici/socket error to the Heroku code the client and the log line see. Connection
 * closed or reset (`UND_ERR_SOCKET` "other side closed", `ECONNRESET`, `EPIPE`) and anything
 * unknown, `UND_ERR_INFO` (undici's informational socket resets) included: H13.
 */
export function classifyUpstreamError(err: Error): HerokuCodeName {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (REFUSED.has(code)) return 'H10';
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ETIMEDOUT') return 'H19';
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return 'H12';
  if (code === 'UND_ERR_BODY_TIMEOUT') return 'H15';
  if (code.startsWith('HPE_') || MALFORMED.has(code) || err.name === 'HTTPParserError') return 'H17';
  if (code === 'UND_ERR_SOCKET' && MALFORMED_SOCKET.has(err.message)) return 'H17';
  return 'H13';
}

/** Codes for which the request never reached the dyno (safe to send to another one). */
export function isNeverSent(code: HerokuCodeName): boolean {
  return code === 'H10' || code === 'H19';
}

/**
 * undici refused the request itself before sending it (a header value or path it will not
 * write, a body not matching its Content-Length): a bad request, not a dyno failure.
 */
export function isRequestRefused(err: Error): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'UND_ERR_INVALID_ARG' || code === 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH';
}
