import type { HttpRequest, HttpResponse, TemplatedApp, us_socket_context_t } from 'uWebSockets.js';
import { normaliseHost } from '../routing/route-table.js';
import { routePath } from '../routing/route-path.js';
import { runFilters, type ChainSource } from '../filters/run-filters.js';
import { Exchange, type ExchangeHost } from '../upstream/exchange.js';
import { WebSocketHandshake, type WebSocketHost } from '../websocket/websocket-handshake.js';
import { webSocketBehavior } from '../websocket/websocket-behavior.js';
import type { SessionRef } from '../websocket/websocket-session.js';
import type { WebSocketBehavior } from 'uWebSockets.js';
import { encodeTarget, newFacts, PLAIN_TARGET, readClientHeadInto, refuse, targetProblem, type ClientHeaderFacts } from './head-checks.js';
import { refusalLine, type Refusal } from './refusal-line.js';
import { buildUpstreamHeaders } from './forwarding-headers.js';
import { acceptRequestId } from './request-id.js';
import type { RequestContext } from './request-context.js';
import type { ListenerInfo } from './listeners.js';

/** Everything the front and what it hands requests to need from the worker. */
export interface FrontHost extends ExchangeHost, WebSocketHost {
  /**
   * A request the front refused before routing it to a dyno (head checks, repeated headers, path
   * options): counted by `code` (edgeplane_router_refused_total) and `line` logged (refusal-line.ts).
   */
  recordRefusal?(code: string, line: string): void;
}

/**
 * The client's headers of the request being routed, flat (`[name, value, …]`): one array for
 * every request, filled by req.forEach without a closure, its length set to this request's count
 * (V8 keeps the backing store unless it shrinks by more than half: no allocation per request once
 * it has the room). Only route() and what it calls synchronously read it: whatever keeps the
 * headers past route() (the app's filters, which may answer in a later turn) gets a copy.
 */
const HEADERS: string[] = [];
let headerCount = 0;
function collectHeader(k: string, v: string): void {
  HEADERS[headerCount++] = k;
  HEADERS[headerCount++] = v;
}
/** The facts read from HEADERS (readClientHeadInto), reused the same way and copied for the filters alike. */
const FACTS: ClientHeaderFacts = newFacts();

/**
 * The one request front of a listener, for plain requests and WebSocket upgrades alike (as
 * Caddy's reverse proxy serves both from one handler): head checks (framing, Host, control
 * characters, sizes, the target) -> the request id -> the route (host, internal or public
 * listener, normalised path, longest prefix) -> the forwarding headers -> the app's filters ->
 * a request context, which then goes its own way: an HTTP exchange (upstream/exchange.ts) or a
 * WebSocket handshake and session (websocket/). Both see the same target (an empty `?` kept),
 * the same forwarding headers, the same response headers (request id, Via), the same
 * dyno-attempt policy and the same access line.
 */
export class RequestFront {
  /** for `app.any('/*', …)`: every request without Sec-WebSocket-Key */
  readonly http: (res: HttpResponse, req: HttpRequest) => void;
  /** the uWS WebSocket route (`app.ws('/*', …)`): upgrades, then the sessions' events */
  readonly webSocket: WebSocketBehavior<SessionRef>;

  constructor(private readonly listener: ListenerInfo, private readonly host: FrontHost) {
    this.http = (res, req) => this.route(res, req, null);
    this.webSocket = webSocketBehavior((res, req, context) => this.route(res, req, context));
  }

  /** Registers both routes on a uWS app (a listener, or one SNI name of the HTTPS listener). */
  readonly attach = (app: TemplatedApp): void => {
    app.any('/*', this.http);
    this.attachUpgrades(app);
  };

  /** Registers the WebSocket route only (uWS hands it the requests with Sec-WebSocket-Key). */
  readonly attachUpgrades = (app: TemplatedApp): void => {
    app.ws<SessionRef>('/*', this.webSocket);
  };

  /** One request head: `upgrade` is the uWS socket context of a WebSocket upgrade, null for HTTP. */
  private route(res: HttpResponse, req: HttpRequest, upgrade: us_socket_context_t | null): void {
    // everything from req now: it is gone after this callback
    const start = performance.now();
    const method = req.getCaseSensitiveMethod().toUpperCase();
    let url = req.getUrl();
    const rawQuery = req.getQuery();
    // `/x?` keeps its (empty) query: the dyno gets the target as the client wrote it
    const hasQuery = rawQuery !== undefined;
    let query = rawQuery ?? '';
    headerCount = 0;
    req.forEach(collectHeader);
    const headers = HEADERS;
    if (headers.length !== headerCount) headers.length = headerCount;

    const table = this.host.table;
    const facts = readClientHeadInto(FACTS, headers, table.singletonHeaders ?? null);
    const problem = facts.problem ?? targetProblem(url, query);
    if (problem) {
      this.refuse(res, problem, facts, method, hasQuery ? `${url}?${query}` : url, start);
      return;
    }
    // raw non-ASCII or DEL in the target (uWS passes them, decoded as UTF-8): sent percent-encoded
    if (!PLAIN_TARGET.test(url)) url = encodeTarget(url);
    if (!PLAIN_TARGET.test(query)) query = encodeTarget(query);

    const host = this.host;
    const listener = this.listener;
    // the route, with the path options (before any filter): a refused spelling never reaches one
    const entry = table.hosts.get(facts.host) ?? table.hosts.get(normaliseHost(facts.host));
    const routed = entry === undefined || entry.internal !== listener.internal ? null : routePath(table, entry, url);
    if (routed !== null && !('app' in routed)) {
      this.refuse(res, routed, facts, method, hasQuery ? `${url}?${query}` : url, start);
      return;
    }
    const remote = Buffer.from(res.getRemoteAddressAsText()).toString('latin1');
    const fwd = facts.xff ? `${facts.xff}, ${remote}` : remote;
    const requestId = acceptRequestId(facts.requestId);
    const logPath = hasQuery ? `${url}?${query}` : url;
    const ctx: RequestContext = upgrade === null
      ? Exchange.take(res, host, table, method, logPath, facts.host, requestId, fwd, listener.protocol, start)
      : new WebSocketHandshake(res, host, table, method, logPath, facts.host, requestId, fwd, listener.protocol, start, headers, upgrade);
    res.onAborted(ctx.onClientAborted);
    // an answer without a dyno while a body is still coming closes the connection after a
    // lingering read of the rest (lingering-close.ts)
    const bodyFollows = facts.contentLength > 0 || facts.chunked;

    if (entry === undefined || entry.internal !== listener.internal) {
      ctx.answer(404, null, 'No such app\n', bodyFollows);
      return;
    }
    const match = routed;
    if (match === null || match.app.internal !== listener.internal) {
      ctx.answer(404, null, 'No such route\n', bodyFollows);
      return;
    }
    const app = match.app;
    ctx.app = app;
    if (!ctx.admit(facts)) return;
    // a path the route does not rewrite: the dyno's target is the logged one (one string, not two)
    ctx.upstreamPath = !hasQuery ? match.path : match.path === url ? logPath : `${match.path}?${query}`;

    if (app.filters.length === 0) {
      ctx.upstreamHeaders = buildUpstreamHeaders(headers, facts, listener, url, fwd, requestId, null);
      ctx.proceed();
      return;
    }
    // A chain of synchronous filters ends in this turn: the request is like one without filters.
    // One that waits on a promise may answer after it: then the context is never reused for
    // another request, and what the filters and the callback read are copies, not the arrays the
    // next request refills.
    let ownHeaders: readonly string[] = headers;
    let ownFacts: ClientHeaderFacts = facts;
    const source: ChainSource = {
      readBody: (cap) => ctx.readBody(cap),
      goingAsync: () => {
        ctx.held = true;
        ownHeaders = headers.slice();
        ownFacts = { ...facts };
        return ownHeaders;
      },
    };
    runFilters(app.filters, method, match.path, query, headers, remote, source, (verdict, req, strip) => {
      ctx.responseExtra = req.responseHeaders.length > 0 ? req.responseHeaders : null;
      ctx.ownsCors = req.ownsCors;
      // a key hidden from the dyno is not written to the log either
      if (req.upstreamQuery !== undefined) ctx.logPath = req.upstreamQuery === '' ? url : `${url}?${req.upstreamQuery}`;
      if (verdict !== undefined) {
        ctx.answer(verdict.status, verdict.headers ?? null, verdict.body ?? '', bodyFollows, verdict.code ?? null);
        return;
      }
      const hidden = req.hiddenHeaders;
      const drop = hidden === undefined ? strip : new Set([...(strip ?? []), ...hidden]);
      if (req.upstreamQuery !== undefined) ctx.upstreamPath = req.upstreamQuery === '' ? match.path : `${match.path}?${req.upstreamQuery}`;
      ctx.upstreamHeaders = buildUpstreamHeaders(ownHeaders, ownFacts, listener, url, fwd, requestId, req.upstreamHeaders.length > 0 ? req.upstreamHeaders : null, drop);
      ctx.proceed();
    });
  }

  /**
   * A refusal before routing (head-checks.ts `refuse`: answered at the end of the turn, lingering
   * while a body still arrives), counted and logged by the worker.
   */
  private refuse(res: HttpResponse, r: Refusal, facts: ClientHeaderFacts, method: string, logPath: string, start: number): void {
    const requestId = acceptRequestId(facts.requestId);
    // a body by a framing both uWS and the router read alike: read and dropped for a while; an
    // ambiguous framing (the refusal's likely reason) is not drained as uWS reads it: closed at once
    const bodyFollows = facts.contentLength > 0 || facts.chunked;
    refuse(res, r, requestId, bodyFollows, method === 'HEAD');
    const record = this.host.recordRefusal;
    if (record === undefined) return;
    const remote = Buffer.from(res.getRemoteAddressAsText()).toString('latin1');
    const fwd = facts.xff ? `${facts.xff}, ${remote}` : remote;
    record.call(this.host, r.code, refusalLine(r, method, logPath, facts.host, requestId, fwd, this.listener.protocol, performance.now() - start));
  }
}
