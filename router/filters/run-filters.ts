import type { Filter, FilterRequest, FilterVerdict } from './filter.js';

/**
 * `ownsCors`: a CORS filter applied (the dyno's own Access-Control-* response headers are to be
 * dropped). `strip`: client request headers that must not reach the dyno (the chain's
 * ownedRequestHeaders), null when none.
 */
type Done = (verdict: FilterVerdict, responseHeaders: [string, string][], upstreamHeaders: [string, string][], ownsCors: boolean,
  strip: ReadonlySet<string> | null) => void;

/** per chain (frozen per config): the union of its filters' ownedRequestHeaders, null when none */
const OWNED = new WeakMap<readonly Filter[], ReadonlySet<string> | null>();

/** The request headers a chain's filters alone may set: removed from every client request of the app. */
export function ownedRequestHeaders(filters: readonly Filter[]): ReadonlySet<string> | null {
  let owned = OWNED.get(filters);
  if (owned === undefined) {
    const names = new Set<string>();
    for (const f of filters) for (const h of f.ownedRequestHeaders ?? []) names.add(h.toLowerCase());
    owned = names.size === 0 ? null : names;
    OWNED.set(filters, owned);
  }
  return owned;
}

class ChainRequest implements FilterRequest {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly responseHeaders: [string, string][] = [];
  readonly upstreamHeaders: [string, string][] = [];
  ownsCors = false;
  private readonly headers: readonly string[];

  constructor(method: string, path: string, query: string, headers: readonly string[]) {
    this.method = method;
    this.path = path;
    this.query = query;
    this.headers = headers;
  }

  header(name: string): string {
    const h = this.headers;
    for (let i = 0; i < h.length; i += 2) if (h[i] === name) return h[i + 1];
    return '';
  }
}

/**
 * Runs an app's filter chain in order. Synchronous filters run without a promise; the chain
 * waits only on a filter that returns one. The first answer stops the chain. A filter that
 * throws answers 500 (and is a bug to fix), never a crash.
 */
export function runFilters(filters: readonly Filter[], method: string, path: string, query: string,
  headers: readonly string[], done: Done): void {
  const req = new ChainRequest(method, path, query, headers);
  const strip = ownedRequestHeaders(filters);
  const step = (i: number): void => {
    for (; i < filters.length; i++) {
      let v: ReturnType<Filter['apply']>;
      try {
        v = filters[i].apply(req);
      } catch {
        done({ status: 500, body: 'Filter error\n', reason: 'filter_error' }, req.responseHeaders, req.upstreamHeaders, req.ownsCors, strip);
        return;
      }
      if (v instanceof Promise) {
        const next = i + 1;
        v.then(
          (verdict) => (verdict !== undefined ? done(verdict, req.responseHeaders, req.upstreamHeaders, req.ownsCors, strip) : step(next)),
          () => done({ status: 500, body: 'Filter error\n', reason: 'filter_error' }, req.responseHeaders, req.upstreamHeaders, req.ownsCors, strip),
        );
        return;
      }
      if (v !== undefined) {
        done(v, req.responseHeaders, req.upstreamHeaders, req.ownsCors, strip);
        return;
      }
    }
    done(undefined, req.responseHeaders, req.upstreamHeaders, req.ownsCors, strip);
  };
  step(0);
}
