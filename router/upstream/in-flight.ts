import type { Exchange, ExchangeHost } from './exchange.js';

interface Live {
  readonly exchanges: Set<Exchange>;
  /** graceful stop's deadline has passed: whatever starts now is cut at once */
  cut: boolean;
}

const BY_HOST = new WeakMap<ExchangeHost, Live>();

/**
 * Routed exchanges still running, per host (one router worker): what graceful stop cuts when its
 * deadline passes. Returns false when that has already happened: the caller cuts `ex` itself.
 */
export function trackExchange(ex: Exchange): boolean {
  let live = BY_HOST.get(ex.host);
  if (live === undefined) {
    live = { exchanges: new Set(), cut: false };
    BY_HOST.set(ex.host, live);
  }
  if (live.cut) return false;
  live.exchanges.add(ex);
  return true;
}

/** `ex` is over (called once, from its finish). */
export function untrackExchange(ex: Exchange): void {
  BY_HOST.get(ex.host)?.exchanges.delete(ex);
}

/**
 * Graceful stop's deadline: every exchange of `host` still in flight is answered 503 when nothing
 * of its response was sent yet, else cut, and logged `code=shutdown` (not H27: the client did not
 * leave). Call before the connections close (a closed connection cannot be answered). Returns how
 * many were cut.
 */
export function cutExchanges(host: ExchangeHost): number {
  let live = BY_HOST.get(host);
  if (live === undefined) {
    live = { exchanges: new Set(), cut: true };
    BY_HOST.set(host, live);
  }
  live.cut = true;
  const all = [...live.exchanges];
  live.exchanges.clear();
  for (const ex of all) ex.cutForShutdown();
  return all.length;
}
