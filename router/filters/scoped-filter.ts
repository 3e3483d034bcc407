import type { Filter, FilterRequest, FilterVerdict } from './filter.js';
import type { PathScope } from './path-scope.js';

/** A filter narrowed by an app's `excludes`/`includes`: outside its scope the request goes on. */
export class ScopedFilter implements Filter {
  readonly name: string;
  readonly type: string;
  /** the inner filter's, whatever the scope: stripped also on paths the filter leaves out */
  readonly ownedRequestHeaders?: readonly string[];

  constructor(private readonly inner: Filter, private readonly scope: PathScope) {
    this.name = inner.name;
    this.type = inner.type;
    if (inner.ownedRequestHeaders !== undefined) this.ownedRequestHeaders = inner.ownedRequestHeaders;
    if (inner.annotate !== undefined) this.annotate = (req) => inner.annotate!(req);
  }

  /** the inner filter's, if it has one */
  readonly annotate?: (req: FilterRequest) => void;

  apply(req: FilterRequest): FilterVerdict | Promise<FilterVerdict> {
    if (this.scope.covers(req.path)) return this.inner.apply(req);
    this.inner.annotate?.(req);
    return undefined;
  }

  close(): void {
    this.inner.close?.();
  }
}
