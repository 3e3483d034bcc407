/** Close codes a peer may send (RFC 6455 7.4, what `ws` accepts). */
export function isSendableCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

/** A close reason that fits a control frame (123 bytes), as text. */
export function reasonText(reason: Buffer | ArrayBuffer): string {
  const b = Buffer.isBuffer(reason) ? reason : Buffer.from(reason);
  if (b.length === 0) return '';
  return b.subarray(0, 123).toString('utf8');
}

/**
 * The close code the client gets for a dyno error after the upgrade (`ws` error codes): 1009
 * message too big, 1007 invalid UTF-8, 1002 any other protocol error, 1011 the rest.
 */
export function closeCodeForDynoError(err: Error): number {
  const c = (err as NodeJS.ErrnoException).code;
  return c === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 1009 : c === 'WS_ERR_INVALID_UTF8' ? 1007
    : typeof c === 'string' && c.startsWith('WS_ERR_') ? 1002 : 1011;
}

/**
 * The code the client's close frame carries when the dyno's side closed with `code`: the dyno's
 * error's code (`errorClose`, 0 when none), 1005 (no code) as it is, a sendable code as it is,
 * else 1011 (1006: the dyno vanished without a close frame).
 */
export function clientCloseCode(code: number, errorClose: number): number {
  if (errorClose !== 0) return errorClose;
  if (code === 1005) return 1005; // uWS sends an empty close frame: the client sees 1005 too
  if (isSendableCode(code)) return code;
  return 1011;
}
