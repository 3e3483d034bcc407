import { randomUUID } from 'node:crypto';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { RouteTable } from '../routing/route-table.js';
import { matchRoute, normaliseHost } from '../routing/route-table.js';
import { normalisePath } from '../routing/normalise-path.js';
import { Exchange, type ExchangeHost } from '../upstream/exchange.js';
import { BodySource } from '../upstream/body-source.js';
import { trackExchange } from '../upstream/in-flight.js';
import { buildUpstreamHeaders, readClientHead, targetProblem, type HeadProblem } from './upstream-headers.js';
import { runFilters } from '../filters/run-filters.js';

/** A listener the request arrived on. */
export interface ListenerInfo {
  readonly protocol: 'http' | 'https';
  /** as a string, for X-Forwarded-Port */
  readonly port: string;
  /** the internal listener serves only internal apps and sites, the public ones only the others */
  readonly internal: boolean;
}

/**
 * The worker-side state a request handler reads (with ExchangeHost's: `accessLog`, `stopping`:
 * graceful stop in progress, `exchangeDone`, `recordOutcome`).
 */
export interface RequestHost extends ExchangeHost {
  /** the current table; a request keeps the table it started with */
  readonly table: RouteTable;
  /** counts started exchanges (graceful stop waits for them) */
  exchangeStarted(ex: Exchange): void;
  /** whether this request goes to the canary (and records the pick) */
  pickCanary?(ex: Exchange): boolean;
}

const REQUEST_ID = /^[A-Za-z0-9._:+/=-]{1,200}$/;

// one scratch array for req.forEach: no closure per request
let scratch: string[] = [];
function collectHeader(k: string, v: string): void {
  scratch.push(k, v);
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
 * refused head is ever routed. Alone, the head gets its status and the connection is closed.
 */
export function refuse(res: HttpResponse, p: HeadProblem, clientRequestId: string): void {
  const requestId = REQUEST_ID.test(clientRequestId) ? clientRequestId : randomUUID();
  let gone = false;
  res.onAborted(() => {
    gone = true;
  });
  setImmediate(() => {
    if (gone) return;
    res.cork(() => {
      res.writeStatus(p.status).writeHeader('content-type', 'text/plain; charset=utf-8').writeHeader('x-request-id', requestId)
        .writeHeader('via', '1.1 edgeplane').end(p.body, true);
    });
  });
}

/** The uWS handler for every request on a listener. */
export function createRequestHandler(listener: ListenerInfo, host: RequestHost): (res: HttpResponse, req: HttpRequest) => void {
  return (res, req) => {
    const start = performance.now();
    const method = req.getCaseSensitiveMethod().toUpperCase();
    let url = req.getUrl();
    const rawQuery = req.getQuery();
    // `/x?` keeps its (empty) query: the dyno gets the target as the client wrote it
    const hasQuery = rawQuery !== undefined;
    let query = rawQuery ?? '';
    scratch = [];
    req.forEach(collectHeader);
    const headers = scratch;

    const facts = readClientHead(headers);
    const problem = facts.problem ?? targetProblem(url, query);
    if (problem) {
      refuse(res, problem, facts.requestId);
      return;
    }
    // raw non-ASCII or DEL in the target (uWS passes them, decoded as UTF-8): sent percent-encoded
    if (!PLAIN_TARGET.test(url)) url = encodeTarget(url);
    if (!PLAIN_TARGET.test(query)) query = encodeTarget(query);

    const table = host.table;
    const remote = Buffer.from(res.getRemoteAddressAsText()).toString('latin1');
    const fwd = facts.xff ? `${facts.xff}, ${remote}` : remote;
    const requestId = REQUEST_ID.test(facts.requestId) ? facts.requestId : randomUUID();
    const logPath = hasQuery ? `${url}?${query}` : url;
    const ex = new Exchange(res, host, table, method, logPath, facts.host, requestId, fwd, listener.protocol, start);
    res.onAborted(ex.onClientAborted);

    const entry = table.hosts.get(facts.host) ?? table.hosts.get(normaliseHost(facts.host));
    if (entry === undefined || entry.internal !== listener.internal) {
      ex.answer(404, null, 'No such app\n', facts.contentLength > 0 || facts.chunked);
      return;
    }
    const path = normalisePath(url);
    const match = matchRoute(entry, path);
    if (match === null || match.app.internal !== listener.internal) {
      ex.answer(404, null, 'No such route\n', facts.contentLength > 0 || facts.chunked);
      return;
    }
    let app = match.app;
    ex.app = app;
    host.exchangeStarted(ex);
    if (!trackExchange(ex)) {
      // graceful stop's deadline has passed (a request on a kept-alive connection just before the close)
      ex.cutForShutdown();
      return;
    }

    if (facts.contentLength > table.maxBodyBytes) {
      ex.answer(413, null, 'Request body too large\n', true);
      return;
    }
    if (facts.contentLength > 0 || facts.chunked) {
      ex.body = new BodySource(res, table.maxBodyBytes, () => ex.bodyTooLarge(), facts.chunked);
    }

    const upstreamQuery = hasQuery ? `?${query}` : '';
    const proceed = (): void => {
      if (ex.clientGone || ex.isFinished) return;
      if (app.maintenance) {
        ex.fail('H80');
        return;
      }
      if (app.canary !== null && host.pickCanary?.(ex)) {
        app = app.canary.app;
        ex.app = app;
        ex.canary = true;
      }
      if (app.balancer.dynos.length === 0) {
        ex.fail('H14');
        return;
      }
      ex.dispatch();
    };

    ex.upstreamPath = match.path + upstreamQuery;
    if (app.filters.length === 0) {
      ex.upstreamHeaders = buildUpstreamHeaders(headers, facts, listener, url, fwd, requestId, null);
      proceed();
      return;
    }
    runFilters(app.filters, method, match.path, query, headers, (verdict, responseHeaders, extraUpstream, ownsCors, strip) => {
      ex.responseExtra = responseHeaders.length > 0 ? responseHeaders : null;
      ex.ownsCors = ownsCors;
      if (verdict !== undefined) {
        // a body still coming is not read to its end for a refusal: the connection closes after it
        ex.answer(verdict.status, verdict.headers ?? null, verdict.body ?? '', ex.body !== null);
        return;
      }
      ex.upstreamHeaders = buildUpstreamHeaders(headers, facts, listener, url, fwd, requestId, extraUpstream.length > 0 ? extraUpstream : null, strip);
      proceed();
    });
  };
}
