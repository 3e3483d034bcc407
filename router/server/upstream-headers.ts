import type { ListenerInfo } from './request-handler.js';

/** What the handler learned from the client's headers in its single pass over them. */
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
}

/** Request headers never forwarded: hop-by-hop, ones undici refuses, and the ones the router sets. */
const DROP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade',
  'expect', 'proxy-authorization', 'x-request-id', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-port',
  'x-forwarded-host', 'x-forwarded-path', 'x-request-start', 'via']);

function connectionNamed(value: string): Set<string> {
  const names = new Set<string>();
  for (const token of value.split(',')) {
    const t = token.trim().toLowerCase();
    if (t && t !== 'close' && t !== 'keep-alive') names.add(t);
  }
  return names;
}

/**
 * The flat header list for undici: the client's headers (lower-case names from uWS) minus the
 * dropped ones, plus X-Forwarded-*, X-Request-Id, X-Request-Start, Via and filter additions.
 */
export function buildUpstreamHeaders(headers: readonly string[], facts: ClientHeaderFacts, listener: ListenerInfo,
  originalPath: string, fwd: string, requestId: string, extra: readonly [string, string][] | null): string[] {
  const out: string[] = [];
  const named = facts.connection ? connectionNamed(facts.connection) : null;
  for (let i = 0; i < headers.length; i += 2) {
    const k = headers[i];
    if (DROP.has(k) || (named !== null && named.has(k))) continue;
    out.push(k, headers[i + 1]);
  }
  out.push(
    'x-forwarded-for', fwd,
    'x-forwarded-proto', listener.protocol,
    'x-forwarded-port', listener.port,
    'x-forwarded-host', facts.host,
    'x-forwarded-path', originalPath,
    'x-request-id', requestId,
    'x-request-start', String(Date.now()),
    'via', facts.via ? `${facts.via}, 1.1 edgeplane` : '1.1 edgeplane',
  );
  if (extra !== null) for (const [k, v] of extra) out.push(k, v);
  return out;
}
