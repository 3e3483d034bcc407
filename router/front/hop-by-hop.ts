/**
 * Hop-by-hop headers (RFC 9110 7.6.1, with the older `Keep-Alive`, `Proxy-Connection`,
 * `Proxy-Authenticate`, `Proxy-Authorization`): they describe one connection, so the router
 * never forwards them, in either direction, for HTTP and WebSocket alike.
 */
export const HOP_BY_HOP: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer',
  'transfer-encoding', 'upgrade', 'proxy-authenticate', 'proxy-authorization']);

/** Names a Connection header may not remove: the dyno needs Host to know the request. */
const KEEP_WHEN_NAMED = 'host';

/**
 * The header names a Connection value lists (RFC 9110 7.6.1: hop-by-hop too), lower-cased,
 * added to `into` (every Connection line counts); `close`, `keep-alive` and `host` are not
 * names to drop. Returns the set, or `into` unchanged (null) when the value names none.
 */
export function connectionNamed(value: string, into: Set<string> | null = null): Set<string> | null {
  let names = into;
  for (const token of value.split(',')) {
    const t = token.trim().toLowerCase();
    if (t && t !== 'close' && t !== 'keep-alive' && t !== KEEP_WHEN_NAMED) (names ??= new Set()).add(t);
  }
  return names;
}
