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
