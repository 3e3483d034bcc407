/**
 * The filter contract. An app's filters run as an ordered chain in a fixed order by type
 * (cors, then jwt; canary and proxy come after the chain), each may answer early.
 * Filters are built once per config (in the compiled route table) and must be cheap per request.
 */

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
  /** short reason for the router log line (e.g. `jwt_invalid`) */
  reason?: string;
}

export type FilterVerdict = FilterAnswer | undefined;

export interface Filter {
  /** the filter's name in the config (`filters.<name>`) */
  readonly name: string;
  /** `cors` | `jwt`: the chain sorts by type so CORS preflight is answered before any JWT check */
  readonly type: string;
  /**
   * lower-case names of request headers only this filter may set (JWT `claims_headers`): the
   * client's own lines of these are removed from every request of an app using the filter, also
   * where its `excludes`/`includes` leave it out, so a dyno never gets a spoofed one
   */
  readonly ownedRequestHeaders?: readonly string[];
  /** undefined: go on. An answer: respond now. Returns a Promise only when it must wait (keys). */
  apply(req: FilterRequest): FilterVerdict | Promise<FilterVerdict>;
  /** release timers/sockets when the config that built it is replaced */
  close?(): void;
}
