import type { HerokuCodeName } from '../http/heroku-codes.js';

const REFUSED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EADDRNOTAVAIL', 'EADDRINUSE']);

/** Maps an undici/socket error to the Heroku code the client and the log line see. */
export function classifyUpstreamError(err: Error): HerokuCodeName {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (REFUSED.has(code)) return 'H10';
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ETIMEDOUT') return 'H19';
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return 'H12';
  if (code === 'UND_ERR_BODY_TIMEOUT') return 'H15';
  if (code.startsWith('HPE_') || code === 'UND_ERR_INFO' || err.name === 'HTTPParserError') return 'H17';
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
