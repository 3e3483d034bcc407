import type { FilterCode } from './filter-codes.js';

/**
 * The filter contract. An app's filters run as an ordered chain (filter-factory.ts: firewall,
 * then cors, then the others in the app's order; canary and proxy come after the chain), each
 * may answer early. Filters are built once per config (in the compiled route table) and must be
 * cheap per request.
 */

/**
 * A bounded copy of the request body (openapi `validate_body`): the bytes (empty when the
 * request has none), `too_large` when more than the cap arrived, `gone` when the client left.
 * The copy is the body the dyno then receives: nothing is read twice.
 */
export type BodyRead = Buffer | 'too_large' | 'gone';

/** What a filter sees of a request; built once per request by the server. */
export interface FilterRequest {
  /** upper-case method */
  readonly method: string;
  /** the normalised, rewritten path the app receives (no query string) */
  readonly path: string;
  /** the query string without '?', '' when none */
  readonly query: string;
  /** a request header by lower-case name ('' when absent, as uWS does) */
  header(lowerCaseName: string): string;
  /** the TCP peer address as uWS writes it (`127.0.0.1`, `0000:…:0001`); never X-Forwarded-For */
  readonly peer: string;
  /** the id of the API key a keyauth filter matched (ratelimit `by: key`) */
  keyId?: string;
  /** request headers (lower-case names) not to forward to the dyno (keyauth `hide_credentials`) */
  hiddenHeaders?: string[];
  /** the query string the dyno receives, when a filter changed it (keyauth `hide_credentials`) */
  upstreamQuery?: string;
  /**
   * The whole request body, up to `cap` bytes, before the dyno gets any of it (openapi
   * `validate_body`); only a filter that needs it asks, so other apps never wait for bodies.
   */
  readBody(cap: number): BodyRead | Promise<BodyRead>;
  /** added to the response sent to the client, whether proxied or answered by a filter */
  readonly responseHeaders: [string, string][];
  /** added to the request sent to the dyno */
  readonly upstreamHeaders: [string, string][];
  /**
   * set by a CORS filter that applies to this request: the router owns the response's CORS
   * headers, and the dyno's own `Access-Control-*` response headers are dropped
   */
  ownsCors?: boolean;
}

/** An early answer from a filter (the request goes no further). */
export interface FilterAnswer {
  status: number;
  headers?: [string, string][];
  body?: string;
  /** short reason (e.g. `jwt_invalid`) */
  reason?: string;
  /** the refusal's stable code: `code=` on the access line (at=info) and in the problem body */
  code?: FilterCode;
}

export type FilterVerdict = FilterAnswer | undefined;

export interface Filter {
  /** the filter's name in the config (`filters.<name>`) */
  readonly name: string;
  /** `cors` | `jwt` | `keyauth` | `ratelimit` | `firewall` | `openapi` (the chain's order by type: filter-factory.ts) */
  readonly type: string;
  /**
   * lower-case names of request headers only this filter may set (JWT `claims_headers`): the
   * client's own lines of these are removed from every request of an app using the filter, also
   * where its `excludes`/`includes` leave it out, so a dyno never gets a spoofed one
   */
  readonly ownedRequestHeaders?: readonly string[];
  /** undefined: go on. An answer: respond now. Returns a Promise only when it must wait (keys). */
  apply(req: FilterRequest): FilterVerdict | Promise<FilterVerdict>;
  /**
   * A request of the app this filter did not judge (an earlier filter answered it, or the
   * filter's `excludes`/`includes` leave its path out): adds the response headers the filter puts
   * on every response of its app (ratelimit's RateLimit headers), changing no state.
   */
  annotate?(req: FilterRequest): void;
  /** release timers/sockets when the config that built it is replaced */
  close?(): void;
}
