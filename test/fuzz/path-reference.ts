/**
 * A tiny reference for path normalisation and routing, written from RFC 3986 and DESIGN.md
 * independently of router/routing/normalise-path.ts and router/routing/route-table.ts, for the fuzz
 * tests to compare against. Slow and simple on purpose.
 */

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/**
 * RFC 3986 §6.2.2.1 (hex digits of escapes upper case), §6.2.2.2 (escapes of unreserved
 * characters decoded; `%2F` therefore stays), a `%` that starts no escape encoded as `%25`,
 * then `//` collapsed (DESIGN.md) and §5.2.4 remove_dot_segments.
 */
export function refNormalise(path: string): string {
  let s = '';
  for (let i = 0; i < path.length; i++) {
    if (path[i] !== '%') {
      s += path[i];
      continue;
    }
    const hex = path.slice(i + 1, i + 3);
    if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
      const ch = String.fromCharCode(parseInt(hex, 16));
      s += UNRESERVED.test(ch) ? ch : `%${hex.toUpperCase()}`;
      i += 2;
    } else {
      s += '%25';
    }
  }
  return removeDotSegments(s.replace(/\/{2,}/g, '/'));
}

/** RFC 3986 §5.2.4, step by step as written there. */
export function removeDotSegments(path: string): string {
  let input = path;
  let output = '';
  const dropLast = (): void => {
    output = output.slice(0, Math.max(0, output.lastIndexOf('/')));
  };
  while (input.length > 0) {
    if (input.startsWith('../')) input = input.slice(3); // A
    else if (input.startsWith('./')) input = input.slice(2); // A
    else if (input.startsWith('/./')) input = input.slice(2); // B
    else if (input === '/.') input = '/'; // B
    else if (input.startsWith('/../')) { input = input.slice(3); dropLast(); } // C
    else if (input === '/..') { input = '/'; dropLast(); } // C
    else if (input === '.' || input === '..') input = ''; // D
    else { // E
      const next = input.indexOf('/', input.startsWith('/') ? 1 : 0);
      const segment = next === -1 ? input : input.slice(0, next);
      output += segment;
      input = input.slice(segment.length);
    }
  }
  return output;
}

/** Case-insensitive means ASCII letters only (DESIGN.md: paths, like hosts, compare on A-Z). */
export function refLower(s: string): string {
  let out = '';
  for (const c of s) out += c >= 'A' && c <= 'Z' ? c.toLowerCase() : c;
  return out;
}

/** A configured prefix as routing and scopes compare it: normalised, lower, no trailing slash. */
export function refPrefix(prefix: string): string {
  return refLower(refNormalise(prefix)).replace(/\/+$/, '');
}

/** `path` under `prefix` (from refPrefix) on a segment boundary; '' (the root) covers all. */
export function refUnder(path: string, prefix: string): boolean {
  const p = refLower(path);
  return prefix === '' || p === prefix || p.startsWith(prefix + '/');
}

export interface RefRoute {
  path: string;
  app: string;
  target?: string;
}

/** DESIGN.md site routing: longest prefix on segment boundaries, prefix replaced by the target. */
export function refMatch(routes: readonly RefRoute[], path: string): { app: string; path: string } | null {
  let best: { prefix: string; route: RefRoute } | null = null;
  for (const route of routes) {
    const prefix = refPrefix(route.path);
    if (refUnder(path, prefix) && (best === null || prefix.length > best.prefix.length)) best = { prefix, route };
  }
  if (best === null) return null;
  const target = refNormalise(best.route.target ?? best.route.path);
  const rest = path.slice(best.prefix.length);
  const joined = rest === '' ? target : target.endsWith('/') && rest.startsWith('/') ? target + rest.slice(1) : target + rest;
  return { app: best.route.app, path: joined };
}

/** Does a filter scoped by excludes/includes apply to the (normalised, rewritten) path? */
export function refCovers(path: string, excludes: readonly string[] | undefined, includes: readonly string[] | undefined): boolean {
  if (includes !== undefined && !includes.some((p) => refUnder(path, refPrefix(p)))) return false;
  return !(excludes ?? []).some((p) => refUnder(path, refPrefix(p)));
}
