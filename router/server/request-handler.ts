import { randomUUID } from 'node:crypto';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { RouteTable } from '../config/route-table.js';
import { matchRoute, normaliseHost } from '../config/route-table.js';
import { normalisePath } from '../http/normalise-path.js';
import { Exchange, type ExchangeHost } from '../upstream/exchange.js';
import { BodySource } from '../upstream/body-source.js';
import { buildUpstreamHeaders, type ClientHeaderFacts } from './upstream-headers.js';
import { runFilters } from '../pipeline/run-filters.js';

/** A listener the request arrived on. */
export interface ListenerInfo {
  readonly protocol: 'http' | 'https';
  /** as a string, for X-Forwarded-Port */
  readonly port: string;
  /** the internal listener serves only internal apps and sites, the public ones only the others */
  readonly internal: boolean;
}

/** The worker-side state a request handler reads. */
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

function plain(res: HttpResponse, status: string, body: string, close = false): void {
  res.cork(() => {
    res.writeStatus(status).writeHeader('content-type', 'text/plain; charset=utf-8').end(body, close);
  });
}

/** The uWS handler for every request on a listener. */
export function createRequestHandler(listener: ListenerInfo, host: RequestHost): (res: HttpResponse, req: HttpRequest) => void {
  return (res, req) => {
    const start = performance.now();
    const method = req.getCaseSensitiveMethod().toUpperCase();
    const url = req.getUrl();
    const query = req.getQuery() ?? '';
    scratch = [];
    req.forEach(collectHeader);
    const headers = scratch;

    const facts: ClientHeaderFacts = { host: '', contentLength: -1, contentLengths: 0, chunked: false, transferEncoding: false,
      requestId: '', xff: '', via: '', connection: '' };
    for (let i = 0; i < headers.length; i += 2) {
      const k = headers[i];
      switch (k) {
        case 'host': facts.host = headers[i + 1]; break;
        case 'content-length': {
          const n = /^[0-9]{1,15}$/.test(headers[i + 1]) ? Number(headers[i + 1]) : -2;
          if (facts.contentLengths > 0 && n !== facts.contentLength) facts.contentLength = -2;
          else facts.contentLength = n;
          facts.contentLengths++;
          break;
        }
        case 'transfer-encoding':
          facts.transferEncoding = true;
          facts.chunked = headers[i + 1].toLowerCase().trim() === 'chunked';
          break;
        case 'x-request-id': facts.requestId = headers[i + 1]; break;
        case 'x-forwarded-for': facts.xff = facts.xff ? `${facts.xff}, ${headers[i + 1]}` : headers[i + 1]; break;
        case 'via': facts.via = facts.via ? `${facts.via}, ${headers[i + 1]}` : headers[i + 1]; break;
        case 'connection': facts.connection = facts.connection ? `${facts.connection}, ${headers[i + 1]}` : headers[i + 1]; break;
      }
    }

    // Ambiguous framing is refused outright: nothing that could smuggle a request reaches a dyno.
    if (facts.contentLength === -2 || (facts.transferEncoding && (facts.contentLengths > 0 || !facts.chunked))) {
      plain(res, '400 Bad Request', 'Bad request framing (Content-Length / Transfer-Encoding)\n', true);
      return;
    }
    if (url.charCodeAt(0) !== 47 /* / */) {
      plain(res, '400 Bad Request', 'Bad request target\n', true);
      return;
    }

    const table = host.table;
    const remote = Buffer.from(res.getRemoteAddressAsText()).toString('latin1');
    const fwd = facts.xff ? `${facts.xff}, ${remote}` : remote;
    const requestId = REQUEST_ID.test(facts.requestId) ? facts.requestId : randomUUID();
    const logPath = query ? `${url}?${query}` : url;
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

    if (facts.contentLength > table.maxBodyBytes) {
      ex.answer(413, null, 'Request body too large\n', true);
      return;
    }
    if (facts.contentLength > 0 || facts.chunked) {
      ex.body = new BodySource(res, table.maxBodyBytes, () => ex.bodyTooLarge());
    }

    const upstreamQuery = query ? `?${query}` : '';
    const proceed = (): void => {
      if (ex.clientGone) return;
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
    runFilters(app.filters, method, match.path, query, headers, (verdict, responseHeaders, extraUpstream) => {
      ex.responseExtra = responseHeaders.length > 0 ? responseHeaders : null;
      if (verdict !== undefined) {
        ex.answer(verdict.status, verdict.headers ?? null, verdict.body ?? '');
        return;
      }
      ex.upstreamHeaders = buildUpstreamHeaders(headers, facts, listener, url, fwd, requestId, extraUpstream.length > 0 ? extraUpstream : null);
      proceed();
    });
  };
}
