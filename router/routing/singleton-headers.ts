import type { RouterConfig } from '../config/schema.js';

/**
 * Request headers the router reads itself and that must come once: `Host` (routing), and
 * `Authorization` (JWT and keyauth read it; RFC 9110 defines one credential) and `X-Request-Id`
 * (echoed and logged). Two lines of one of them are refused (400 E_DUPLICATE_HEADER; two `Host`
 * lines keep their own E_HOST) before routing: a filter reading the first and a dyno reading the
 * second would disagree on who the client is. Checked in router/front/head-checks.ts.
 */
export const BASE_SINGLETON_HEADERS: readonly string[] = Object.freeze(['host', 'authorization', 'x-request-id']);

/** a filter definition, read by the contract's field names whatever its type (jwt, cors, keyauth, ratelimit, …) */
interface AnyFilterDef {
  type?: unknown;
  locations?: unknown;
  by?: unknown;
}

/**
 * The headers the configured filters read beyond BASE_SINGLETON_HEADERS, lower-case, or null
 * when none: a keyauth filter's `{ "header": name }` locations, a ratelimit filter's
 * `header:<name>` bucket keys, a CORS filter's `Origin`. They are singletons for every request
 * of the router (whichever app it is for: a second line of such a header is never legitimate),
 * taken from the config document so that a filter type added later is covered by its contract
 * fields alone.
 */
export function configuredSingletonHeaders(config: RouterConfig): ReadonlySet<string> | null {
  const names = new Set<string>();
  for (const def of Object.values(config.filters ?? {}) as AnyFilterDef[]) {
    if (def.type === 'cors') names.add('origin');
    if (Array.isArray(def.locations)) {
      for (const l of def.locations as unknown[]) {
        const header = (l as { header?: unknown } | null)?.header;
        if (typeof header === 'string' && header !== '') names.add(header.toLowerCase());
      }
    }
    if (Array.isArray(def.by)) {
      for (const b of def.by as unknown[]) if (typeof b === 'string' && b.startsWith('header:') && b.length > 7) names.add(b.slice(7).toLowerCase());
    }
  }
  for (const base of BASE_SINGLETON_HEADERS) names.delete(base);
  return names.size === 0 ? null : names;
}
