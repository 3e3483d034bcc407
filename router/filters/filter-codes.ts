/**
 * The codes of the edge filters' refusals (DESIGN.md "Edge filters beyond JWT and CORS"): the
 * `code` of the `application/problem+json` body, and `code=` on the request's access line,
 * which stays `at=info` (a refusal is the client's error, not the router's). Stable: operators
 * grep for them, tests assert them.
 */
export const FILTER_CODES = Object.freeze({
  missing_credentials: { status: 401, title: 'Missing credentials', meaning: 'keyauth: no key in any configured location' },
  invalid_key: { status: 401, title: 'Invalid key', meaning: 'keyauth: the key is unknown or expired' },
  insufficient_permissions: { status: 403, title: 'Insufficient permissions', meaning: 'keyauth: the key lacks a permission `require` lists' },
  rate_limited: { status: 429, title: 'Too many requests', meaning: "ratelimit: the request's bucket is empty" },
  firewall_denied: { status: 403, title: 'Forbidden', meaning: 'firewall: the TCP peer address is denied, or outside `allow`' },
  openapi_validation_failed: { status: 400, title: 'Request does not match the API description', meaning: 'openapi: path, query, headers or JSON body break the spec' },
  no_such_operation: { status: 404, title: 'No such operation', meaning: 'openapi: the spec has no operation for this path and method' },
  openapi_body_too_large: { status: 413, title: 'Request body too large to validate', meaning: 'openapi: with `validate_body`, a body longer than `max_body_bytes`' },
} as const);

export type FilterCode = keyof typeof FILTER_CODES;

/** Is this log code a filter refusal's (an `at=info` line)? */
export function isFilterCode(code: string): code is FilterCode {
  return Object.hasOwn(FILTER_CODES, code);
}
