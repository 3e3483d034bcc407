import type { BodyRead, Filter, FilterRequest, FilterVerdict } from './filter.js';

/**
 * What the chain needs from the request context it runs for: the bounded body copy
 * (openapi `validate_body`). Only a filter that needs the body asks.
 */
export interface ChainSource {
  readBody(cap: number): BodyRead | Promise<BodyRead>;
  /**
   * The chain waits on a filter's promise: what it was given may be read after this turn. Returns
   * the request headers to read from then on (a copy, when the caller reuses its array for the
   * next request). Not called for a chain that ends in the turn it started (every filter synchronous).
   */
  goingAsync?(): readonly string[];
}

/**
 * `req`: what the filters left on the request (response headers, headers to the dyno,
 * `ownsCors`: a CORS filter applied and the dyno's own `Access-Control-*` response headers are
 * dropped, hidden credentials, a changed query). `strip`: client request headers that must not
 * reach the dyno (the chain's ownedRequestHeaders), null when none.
 */
export type ChainDone = (verdict: FilterVerdict, req: ChainRequest, strip: ReadonlySet<string> | null) => void;

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

export class ChainRequest implements FilterRequest {
  readonly responseHeaders: [string, string][] = [];
  readonly upstreamHeaders: [string, string][] = [];
  ownsCors = false;
  keyId?: string;
  hiddenHeaders?: string[];
  upstreamQuery?: string;

  constructor(readonly method: string, readonly path: string, readonly query: string, private headers: readonly string[],
    readonly peer: string, private readonly source: ChainSource) {}

  /** The chain waits on a promise: the headers from then on are the source's (ChainSource.goingAsync). */
  wait(): void {
    const own = this.source.goingAsync?.();
    if (own !== undefined) this.headers = own;
  }

  header(name: string): string {
    const h = this.headers;
    for (let i = 0; i < h.length; i += 2) if (h[i] === name) return h[i + 1];
    return '';
  }

  readBody(cap: number): BodyRead | Promise<BodyRead> {
    return this.source.readBody(cap);
  }
}

/** An answer at filter i: the filters after it that mark every response of the app (ratelimit) do so, then done. */
function answered(filters: readonly Filter[], i: number, verdict: FilterVerdict, req: ChainRequest, strip: ReadonlySet<string> | null, done: ChainDone): void {
  for (let j = i + 1; j < filters.length; j++) filters[j].annotate?.(req);
  done(verdict, req, strip);
}

const FILTER_ERROR: FilterVerdict = Object.freeze({ status: 500, body: 'Filter error\n', reason: 'filter_error' });

/**
 * Runs an app's filter chain in order. Synchronous filters run without a promise; the chain
 * waits only on a filter that returns one. The first answer stops the chain. A filter that
 * throws answers 500 (and is a bug to fix), never a crash.
 */
export function runFilters(filters: readonly Filter[], method: string, path: string, query: string,
  headers: readonly string[], peer: string, source: ChainSource, done: ChainDone): void {
  const req = new ChainRequest(method, path, query, headers, peer, source);
  const strip = ownedRequestHeaders(filters);
  // a filter answered with a promise: from there on the chain outlives the turn it started in
  let waited = false;
  const step = (i: number): void => {
    for (; i < filters.length; i++) {
      let v: ReturnType<Filter['apply']>;
      try {
        v = filters[i].apply(req);
      } catch {
        done(FILTER_ERROR, req, strip);
        return;
      }
      if (v instanceof Promise) {
        if (!waited) {
          waited = true;
          req.wait();
        }
        const next = i + 1;
        v.then(
          (verdict) => (verdict !== undefined ? answered(filters, i, verdict, req, strip, done) : step(next)),
          () => done(FILTER_ERROR, req, strip),
        );
        return;
      }
      if (v !== undefined) {
        answered(filters, i, v, req, strip, done);
        return;
      }
    }
    done(undefined, req, strip);
  };
  step(0);
}
