import type { CorsFilterDef } from '../config/filter-schema.js';
import type { Filter, FilterRequest, FilterVerdict } from './filter.js';

/** Methods a CORS filter allows when its definition names none: the CORS-safelisted ones. */
export const DEFAULT_CORS_METHODS = Object.freeze(['GET', 'HEAD', 'POST']);

const VARY_ORIGIN: [string, string] = ['vary', 'Origin'];
const VARY_PREFLIGHT: [string, string] = ['vary', 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers'];

/**
 * CORS (`type: cors`). A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`)
 * is answered here, before any later filter (JWT) runs: 204 with the CORS headers when origin,
 * method and requested headers are allowed, else 403 without any allow-origin header. Any other
 * request goes on; when its origin is allowed the response gets allow-origin (the exact origin,
 * never `*`), expose-headers and allow-credentials. `Vary: Origin` is always added, and the
 * request is marked `ownsCors`: the dyno's own `Access-Control-*` response headers are dropped.
 * Every header value but the echoed origin is computed once, here.
 */
export class CorsFilter implements Filter {
  readonly type = 'cors';
  private readonly anyOrigin: boolean;
  private readonly origins: ReadonlySet<string>;
  private readonly methods: ReadonlySet<string>;
  private readonly anyHeader: boolean;
  private readonly headers: ReadonlySet<string>;
  /** preflight answer headers after allow-origin */
  private readonly preflightTail: readonly [string, string][];
  /** actual-response headers after allow-origin */
  private readonly actualTail: readonly [string, string][];

  constructor(readonly name: string, def: CorsFilterDef) {
    this.anyOrigin = def.allow_origins.includes('*');
    this.origins = new Set(def.allow_origins.filter((o) => o !== '*').map(canonicalOrigin));
    const methods = (def.allow_methods ?? DEFAULT_CORS_METHODS).map((m) => m.toUpperCase());
    this.methods = new Set(methods);
    const allowHeaders = (def.allow_headers ?? []).map((h) => h.toLowerCase());
    this.anyHeader = allowHeaders.includes('*');
    this.headers = new Set(allowHeaders);
    const credentials: [string, string][] = def.allow_credentials === true ? [['access-control-allow-credentials', 'true']] : [];

    const preflight: [string, string][] = [['access-control-allow-methods', [...new Set(methods)].join(', ')]];
    if (allowHeaders.length > 0) preflight.push(['access-control-allow-headers', [...new Set(allowHeaders)].join(', ')]);
    if (def.max_age !== undefined) preflight.push(['access-control-max-age', String(def.max_age)]);
    preflight.push(...credentials, VARY_PREFLIGHT);
    this.preflightTail = preflight;

    const actual: [string, string][] = [...credentials];
    const expose = def.expose_headers ?? [];
    if (expose.length > 0) actual.push(['access-control-expose-headers', [...new Set(expose)].join(', ')]);
    this.actualTail = actual;
  }

  apply(req: FilterRequest): FilterVerdict {
    const origin = req.header('origin');
    if (req.method === 'OPTIONS' && origin !== '') {
      const requestedMethod = req.header('access-control-request-method');
      if (requestedMethod !== '') return this.preflight(origin, requestedMethod, req.header('access-control-request-headers'));
    }
    req.ownsCors = true;
    req.responseHeaders.push(VARY_ORIGIN);
    if (origin !== '' && this.allowsOrigin(origin)) {
      req.responseHeaders.push(['access-control-allow-origin', origin], ...this.actualTail);
    }
    return undefined;
  }

  private allowsOrigin(origin: string): boolean {
    return this.anyOrigin || this.origins.has(origin) || this.origins.has(origin.toLowerCase());
  }

  private preflight(origin: string, method: string, requestedHeaders: string): FilterVerdict {
    if (!this.allowsOrigin(origin)) return refusal('cors_origin_denied', 'origin not allowed');
    if (!this.methods.has(method)) return refusal('cors_method_denied', 'method not allowed');
    if (requestedHeaders !== '' && !this.anyHeader) {
      for (const h of requestedHeaders.split(',')) {
        const name = h.trim().toLowerCase();
        if (name !== '' && !this.headers.has(name)) return refusal('cors_headers_denied', 'request header not allowed');
      }
    }
    return { status: 204, headers: [['access-control-allow-origin', origin], ...this.preflightTail], reason: 'cors_preflight' };
  }
}

function refusal(reason: string, why: string): FilterVerdict {
  return {
    status: 403,
    headers: [VARY_PREFLIGHT, ['content-type', 'text/plain; charset=utf-8']],
    body: `CORS preflight refused: ${why}\n`,
    reason,
  };
}

/** `https://App.Example.com:443/` -> `https://app.example.com` (how browsers serialise an Origin). */
export function canonicalOrigin(origin: string): string {
  return new URL(origin).origin;
}

/** Why a configured origin cannot match a browser's Origin header, or undefined when fine. */
export function originProblem(origin: string): string | undefined {
  if (origin === '*') return undefined;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return `"${origin}" is not an origin (scheme://host[:port])`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `"${origin}" must be an http or https origin`;
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '' || (url.pathname !== '/' && url.pathname !== '')
    || /[/?#]./.test(origin.replace(/^[a-z]+:\/\//i, ''))) {
    return `"${origin}" must be an origin only (scheme://host[:port], no path)`;
  }
  return undefined;
}
