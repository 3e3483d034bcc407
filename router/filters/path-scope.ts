import { lowerAscii } from '../routing/route-table.js';

/**
 * Where a filter applies on an app: `excludes` (these prefixes skip it) and `includes` (only these
 * prefixes need it), both prefixes of the normalised, rewritten path the app receives, matched on
 * segment boundaries and case-insensitively on ASCII letters only, like routing (`/health` covers `/health`,
 * `/health/`, `/health/x`, never `/healthz`).
 */
export class PathScope {
  private readonly excludes: readonly string[];
  private readonly includes: readonly string[] | undefined;

  constructor(excludes: readonly string[] | undefined, includes: readonly string[] | undefined) {
    this.excludes = (excludes ?? []).map(normalisePrefix);
    this.includes = includes === undefined ? undefined : includes.map(normalisePrefix);
  }

  /** true when neither list narrows anything (the filter applies everywhere) */
  get everywhere(): boolean {
    return this.excludes.length === 0 && this.includes === undefined;
  }

  /** does the filter apply to this (normalised, rewritten) path? */
  covers(path: string): boolean {
    const p = lowerAscii(path);
    if (this.includes !== undefined && !this.includes.some((prefix) => underPrefix(p, prefix))) return false;
    return !this.excludes.some((prefix) => underPrefix(p, prefix));
  }
}

function underPrefix(lowerPath: string, prefix: string): boolean {
  if (prefix === '/') return true;
  return lowerPath.startsWith(prefix) && (lowerPath.length === prefix.length || lowerPath.charCodeAt(prefix.length) === 47);
}

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/**
 * A configured prefix in the form paths reach filters: unreserved percent-escapes decoded (`%2F`
 * stays encoded), `.`/`..` resolved, `//` collapsed, no trailing slash (but `/`), A-Z lower-cased.
 */
export function normalisePrefix(prefix: string): string {
  const decoded = prefix.replace(/%([0-9A-Fa-f]{2})/g, (escape, hex: string) => {
    const ch = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(ch) ? ch : escape.toUpperCase();
  });
  const out: string[] = [];
  for (const segment of decoded.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') out.pop();
    else out.push(segment);
  }
  return lowerAscii('/' + out.join('/'));
}

/** Why a configured prefix cannot work, or undefined when it is fine. */
export function prefixProblem(prefix: string): string | undefined {
  if (!prefix.startsWith('/')) return 'must start with /';
  if (/[?#]/.test(prefix)) return 'must be a path prefix without query or fragment';
  if (/[\s\x00-\x1f\x7f]/.test(prefix)) return 'must not contain spaces or control characters';
  if (/%(?![0-9A-Fa-f]{2})/.test(prefix)) return 'has a malformed percent-escape';
  return undefined;
}
