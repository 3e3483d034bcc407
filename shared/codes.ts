/**
 * Every code the programs emit, with its meaning: the one registry (as fastify keeps its error
 * codes). A code never changes once published: operators grep for it, tests assert it.
 * test/shared/codes.test.ts holds this table to docs/ (every code documented there with the same
 * meaning, every code of the docs' code tables registered here) and to the sources (every code
 * literal in router/, logshuttle/ and shared/ registered here).
 */

/** Where a code shows up. */
export type CodeKind =
  /** `at=error code=… desc="…"` in the router's line of a request (Heroku's codes, `shutdown`) */
  | 'request'
  /** an `at=error code=…` line of the router that is not a request (`canary_abort`) */
  | 'event'
  /** a filter's refusal: `application/problem+json` `code`, and `code=` on an `at=info` line */
  | 'refusal'
  /** `Error Lxx (…)` platform lines in an app's stream (and the router's stdout report) */
  | 'platform'
  /** an error class's `code`, an HTTP API's JSON error code, a refusal of a request head */
  | 'error';

export type Program = 'router' | 'logshuttle' | 'both';

export interface CodeInfo {
  readonly kind: CodeKind;
  readonly program: Program;
  /** what it means, as docs/ says it */
  readonly meaning: string;
  /** the HTTP status a client gets with it, where it has one (H27: the status logged) */
  readonly status?: number;
  /** the `desc="…"` of the log line (request and event codes) */
  readonly desc?: string;
}

function codes<const T extends Record<string, CodeInfo>>(table: T): Readonly<T> {
  for (const info of Object.values(table)) Object.freeze(info);
  return Object.freeze(table);
}

export const CODES = codes({
  // --- the router's request failures (Heroku's router codes; docs/router/errors-and-log-line.md)
  H10: { kind: 'request', program: 'router', status: 503, desc: 'App crashed',
    meaning: 'every dyno tried refused the connection' },
  H12: { kind: 'request', program: 'router', status: 503, desc: 'Request timeout',
    meaning: 'no first response byte within `timeouts.firstByteMs` (30 s)' },
  H13: { kind: 'request', program: 'router', status: 503, desc: 'Connection closed without response',
    meaning: 'the dyno closed (or reset) the connection without a response, or before its response was complete' },
  H14: { kind: 'request', program: 'router', status: 503, desc: 'No web dynos running',
    meaning: 'the app has no dynos' },
  H15: { kind: 'request', program: 'router', status: 503, desc: 'Idle connection',
    meaning: 'the response went idle longer than `timeouts.idleMs` (55 s) after its head arrived' },
  H17: { kind: 'request', program: 'router', status: 503, desc: 'Poorly formatted HTTP response',
    meaning: 'the dyno sent a malformed response (a parse error, a body not matching its `Content-Length`, two different `Content-Length`s, a head over 16 KiB, a response nobody asked for)' },
  H19: { kind: 'request', program: 'router', status: 503, desc: 'Backend connection timeout',
    meaning: 'connecting to the dyno took longer than `timeouts.connectMs` (5 s)' },
  H27: { kind: 'request', program: 'router', status: 499, desc: 'Client Request Interrupted',
    meaning: 'the client went away before the response (logged as status 499)' },
  H80: { kind: 'request', program: 'router', status: 503, desc: 'Maintenance mode',
    meaning: 'the app is in maintenance' },
  shutdown: { kind: 'request', program: 'router', status: 503, desc: 'Router shutting down',
    meaning: "graceful stop's deadline passed with the request in flight (not a Heroku code; Heroku has none for this)" },
  canary_abort: { kind: 'event', program: 'router', desc: 'Canary aborted',
    meaning: "the sequential test found the canary's error rate worse than production's: weight 0 at once, the line in both apps' streams" },

  // --- filter refusals (the contract's edge filters; docs/router/filters.md)
  missing_credentials: { kind: 'refusal', program: 'router', status: 401,
    meaning: 'keyauth: the request carries no key in any configured location' },
  invalid_key: { kind: 'refusal', program: 'router', status: 401,
    meaning: 'keyauth: the key is unknown or expired' },
  insufficient_permissions: { kind: 'refusal', program: 'router', status: 403,
    meaning: "keyauth: the key lacks a permission the filter's `require` lists" },
  rate_limited: { kind: 'refusal', program: 'router', status: 429,
    meaning: "ratelimit: the request's bucket is empty" },
  firewall_denied: { kind: 'refusal', program: 'router', status: 403,
    meaning: 'firewall: the client IP (the TCP peer, never X-Forwarded-For) is in `deny`, or `allow` is given and the IP is outside it' },
  openapi_validation_failed: { kind: 'refusal', program: 'router', status: 400,
    meaning: 'openapi: the request breaks the spec (path, query, headers or, with `validate_body`, the JSON body)' },
  no_such_operation: { kind: 'refusal', program: 'router', status: 404,
    meaning: "openapi: the spec has no operation for the request's path and method" },
  openapi_body_too_large: { kind: 'refusal', program: 'router', status: 413,
    meaning: 'with `validate_body`, a JSON body longer than `max_body_bytes` (it cannot be validated)' },

  // --- platform lines (docs/logshuttle/operations.md)
  L10: { kind: 'platform', program: 'both',
    meaning: "lines were dropped from a full buffer and counted: a drain's queue (`drainBuffer`), the router's shipping buffer or its stdout, a bus outbox; the next delivered line reports how many" },
  L11: { kind: 'platform', program: 'logshuttle',
    meaning: 'a tail client did not read fast enough: lines dropped from its queue (2,000 lines or 2 MiB)' },
  L14: { kind: 'platform', program: 'logshuttle',
    meaning: "a `syslog+tls://` or `https://` drain's certificate did not verify: nothing was sent, the drain retries" },

  // --- errors of both programs (docs/codes.md)
  E_CONFIG: { kind: 'error', program: 'both', status: 400,
    meaning: 'a configuration document failed validation; every problem is named with its field (exit 2 at start, the running config kept on a reload)' },
  E_USAGE: { kind: 'error', program: 'both',
    meaning: 'bad command-line arguments (exit 2, nothing started)' },
  E_TOO_LARGE: { kind: 'error', program: 'both', status: 413,
    meaning: 'a request body over its limit' },
  E_LISTEN: { kind: 'error', program: 'both',
    meaning: 'a listener could not bind its address (the port is taken, or the address is not this host\'s): the program does not start' },

  // --- the router's errors
  E_APPLY: { kind: 'error', program: 'router', status: 500,
    meaning: 'a valid config document could not be applied by every worker: every worker is back on the running one' },
  E_TLS_LISTEN: { kind: 'error', program: 'router',
    meaning: 'the HTTPS listener could not bind its port (at start, or for a new TLS generation on a reload)' },
  E_FRAMING: { kind: 'error', program: 'router', status: 400,
    meaning: 'a request head with conflicting or malformed `Content-Length` / `Transfer-Encoding`' },
  E_HOST: { kind: 'error', program: 'router', status: 400,
    meaning: 'a request without exactly one valid `Host` header' },
  E_HEADER_VALUE: { kind: 'error', program: 'router', status: 400,
    meaning: 'a control character in a request header value' },
  E_TARGET: { kind: 'error', program: 'router', status: 400,
    meaning: 'a request target that does not start with `/`' },
  E_URI_TOO_LONG: { kind: 'error', program: 'router', status: 414,
    meaning: 'a request target (path and query) over 8 KiB' },
  E_HEADERS_TOO_LARGE: { kind: 'error', program: 'router', status: 431,
    meaning: 'a request header block over 16 KiB' },
  E_DUPLICATE_HEADER: { kind: 'error', program: 'router', status: 400,
    meaning: 'more than one line of a request header the router or a configured filter reads (`Authorization`, `X-Request-Id`, a keyauth `header` location, a ratelimit `header:` key, `Origin` with a CORS filter)' },
  E_ESCAPED_SLASH: { kind: 'error', program: 'router', status: 400,
    meaning: "`%2F` or `%5C` in a request path where the app's `paths.escaped_slashes` is `reject`" },
  E_PATH_REROUTED: { kind: 'error', program: 'router', status: 400,
    meaning: "a site request path that routes to another app once read under the matched app's path options" },
  E_BACKSLASH: { kind: 'error', program: 'router', status: 400,
    meaning: "a backslash in a request path where the app's `paths.backslashes` is `reject`" },
  E_DOT_SEGMENT_PARAMS: { kind: 'error', program: 'router', status: 400,
    meaning: "a dot segment with `;` parameters in a request path where the app's `paths.dot_segment_params` is `reject`" },
  E_JWKS_UNAVAILABLE: { kind: 'error', program: 'router', status: 503,
    meaning: 'no usable key could be had from a JWT filter\'s `jwks_uri`: the request gets 503 `Retry-After: 5`, never 401' },
  E_JWKS_STATUS: { kind: 'error', program: 'router',
    meaning: 'the JWKS key server answered a status other than 200 (a failed fetch)' },
  E_JWKS_TOO_LARGE: { kind: 'error', program: 'router',
    meaning: 'the JWKS is larger than 1 MiB (a failed fetch)' },
  E_CANARY_CONFIG: { kind: 'error', program: 'router',
    meaning: 'a canary list the canary board cannot take (two canaries for one app); the config checks refuse it first' },
  E_PRECONDITION: { kind: 'error', program: 'router', status: 412,
    meaning: "a config change's `If-Match` names a revision that is not the running one: nothing changed" },
  E_NO_REVISION: { kind: 'error', program: 'router', status: 404,
    meaning: 'a rollback names a config revision that is no longer held' },
  E_MEDIA_TYPE: { kind: 'error', program: 'router', status: 415,
    meaning: '`PATCH /config` without `Content-Type: application/merge-patch+json`' },
  E_METHOD: { kind: 'error', program: 'router', status: 405,
    meaning: 'a method an admin route does not allow (the `Allow` header lists those it does)' },
  E_DASHBOARD_QUERY: { kind: 'error', program: 'router', status: 400,
    meaning: 'a query parameter of a dashboard data route is not valid (a malformed app name, `limit` outside 1–200, more than 20 apps, `lines`)' },
  E_NO_APP: { kind: 'error', program: 'router', status: 404,
    meaning: 'a dashboard data route names an app that is neither in the running config nor had requests in the last 60 s' },
  E_NO_TAIL: { kind: 'error', program: 'router', status: 404,
    meaning: 'the dashboard tail relay asked for without `dashboard.logshuttle` in the config' },
  E_TAIL: { kind: 'error', program: 'router', status: 502,
    meaning: 'the log shuttle behind the dashboard tail relay could not be reached, did not answer within 5 s, or answered other than 200' },
  E_TOO_MANY_STREAMS: { kind: 'error', program: 'router', status: 503,
    meaning: '32 dashboard streams (`/stats/stream`) are open already' },
  E_TOO_MANY_TAILS: { kind: 'error', program: 'router', status: 503,
    meaning: '16 dashboard tails are relayed already' },
  E_ACME_ACCOUNT: { kind: 'error', program: 'router',
    meaning: 'the ACME account could not be read, created or registered' },
  E_ACME_ORDER: { kind: 'error', program: 'router',
    meaning: 'an ACME order for a name failed (the CA refused, a challenge failed, the CA was unreachable); retried with backoff' },
  E_ACME_STORAGE: { kind: 'error', program: 'router',
    meaning: 'a file in ACME storage is corrupt or unreadable: reported, then replaced' },
  E_ACME_LOCKED: { kind: 'error', program: 'router',
    meaning: "another router (or this one) holds the name's order lock: no second order is made" },
  E_ACME_ASK: { kind: 'error', program: 'router',
    meaning: 'the on-demand `ask` URL did not answer (a network error or a timeout): the name is refused' },

  // --- the log shuttle's HTTP API errors (docs/logshuttle/operations.md)
  E_UNAUTHORIZED: { kind: 'error', program: 'logshuttle', status: 401,
    meaning: 'the HTTP API needs `Authorization: Bearer <LOGSHUTTLE_TOKEN>` and the request lacks it' },
  E_DRAIN_URL: { kind: 'error', program: 'logshuttle', status: 400,
    meaning: 'a drain URL the shuttle cannot use (unparseable, other scheme, no host, bad port, a path, query or user-info on a syslog URL, a fragment)' },
  E_BAD_BODY: { kind: 'error', program: 'logshuttle', status: 400,
    meaning: 'the drains API body is not JSON `{"url": "…"}`' },
  E_BAD_PATH: { kind: 'error', program: 'logshuttle', status: 400,
    meaning: 'bad percent-encoding in an app name or drain id of the path' },
  E_BAD_QUERY: { kind: 'error', program: 'logshuttle', status: 400,
    meaning: 'a query parameter of the logs route is not valid (`lines` not a non-negative integer)' },
  E_NO_DRAIN: { kind: 'error', program: 'logshuttle', status: 404,
    meaning: '`DELETE /apps/:app/drains/:id` names no drain of that app' },
  E_NOT_FOUND: { kind: 'error', program: 'logshuttle', status: 404,
    meaning: "no route of the shuttle's HTTP API matches" },
  E_CONTENT_TYPE: { kind: 'error', program: 'logshuttle', status: 415,
    meaning: '`POST /ingest` with a content type other than `application/x-ndjson` or `application/logplex-1`' },
  E_INTERNAL: { kind: 'error', program: 'logshuttle', status: 500,
    meaning: 'the drains API failed unexpectedly (a defect; the message says what)' },
  E_METRICS: { kind: 'error', program: 'logshuttle', status: 500,
    meaning: 'the metrics could not be rendered' },
  E_STOPPING: { kind: 'error', program: 'logshuttle', status: 503,
    meaning: 'the shuttle is stopping: `POST /ingest` took nothing of that body, a new live tail is refused' },

  // --- the log bus (shared/bus; docs/bus.md)
  E_BUS_UNAVAILABLE: { kind: 'error', program: 'logshuttle', status: 503,
    meaning: 'the bus did not answer in time: an HTTP ingest or a tail that needs it is answered 503 and may be retried' },
  E_BUS_OVERFLOW: { kind: 'error', program: 'both',
    meaning: 'a message was dropped from a full bus outbox (counted, reported as L10)' },
  E_BUS_CLOSED: { kind: 'error', program: 'both',
    meaning: 'the bus publisher or connection was closed before the message was acknowledged' },
  E_BUS_REJECTED: { kind: 'error', program: 'both',
    meaning: 'the bus server refused a message for good (e.g. larger than its max_payload): dropped and counted, never retried' },
  E_BUS_SETUP: { kind: 'error', program: 'both',
    meaning: 'a bus stream or KV bucket exists with a configuration that cannot serve (e.g. other subjects): only an operator can fix it' },
});

export type Code = keyof typeof CODES;

type CodesOfKind<K extends CodeKind> = { [C in Code]: (typeof CODES)[C]['kind'] extends K ? C : never }[Code];

/** The codes error classes carry (`EdgeplaneError.code`) and HTTP APIs answer as `code`/`error`. */
export type ErrorCode = CodesOfKind<'error'>;

/** The codes a filter refusal carries. */
export type RefusalCode = CodesOfKind<'refusal'>;

/** The codes of the router's request lines (`at=error code=…`). */
export type RequestCode = CodesOfKind<'request'>;

/** The registry entry of a code, or undefined for a string that is none. */
export function codeInfo(code: string): CodeInfo | undefined {
  return Object.hasOwn(CODES, code) ? CODES[code as Code] : undefined;
}
