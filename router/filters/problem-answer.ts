import type { FilterAnswer } from './filter.js';
import { FILTER_CODES, type FilterCode } from './filter-codes.js';

const CONTENT_TYPE: [string, string] = ['content-type', 'application/problem+json'];

/**
 * A filter's refusal as RFC 9457 problem details: `{ type, title, status, code, detail }`
 * (`application/problem+json`); the router adds `x-request-id` as on every response it writes.
 * `type` is `urn:edgeplane:problem:<code>`.
 */
export function problemAnswer(code: FilterCode, detail: string, headers: readonly [string, string][] = []): FilterAnswer {
  const { status, title } = FILTER_CODES[code];
  const body = JSON.stringify({ type: `urn:edgeplane:problem:${code}`, title, status, code, detail });
  return { status, code, reason: code, headers: [CONTENT_TYPE, ...headers], body };
}
