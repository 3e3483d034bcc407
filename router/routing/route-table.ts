import type { Filter } from '../filters/filter.js';
import { RoundRobin } from '../upstream/round-robin.js';
import type { Dyno } from '../upstream/dyno.js';
import type { PathOptions } from './path-options.js';

/** Everything the request path needs about one app, precomputed. */
export interface AppRoute {
  readonly name: string;
  readonly balancer: RoundRobin;
  readonly filters: readonly Filter[];
  readonly maintenance: boolean;
  readonly internal: boolean;
  /** set when the app splits traffic to a canary */
  readonly canary: CanaryRoute | null;
  /** its path options (top-level `paths` with its own over them); absent: the table's */
  readonly paths?: PathOptions;
}

export interface CanaryRoute {
  readonly app: AppRoute;
  readonly weight: number;
  /** slot in the shared canary board, -1 when not tracked */
  readonly slot: number;
}

/** One site route: normalised, ASCII-lower-case prefix without trailing slash ('' for the root); normalised target. */
export interface SiteRoute {
  readonly prefix: string;
  readonly target: string;
  readonly app: AppRoute;
}

export interface HostEntry {
  /** `<app>.<domain>`: the whole path goes to this app */
  readonly app: AppRoute | null;
  /** a site: routes by longest prefix, sorted longest first */
  readonly routes: readonly SiteRoute[] | null;
  readonly internal: boolean;
}

export interface RouteTimeouts {
  readonly connectMs: number;
  readonly firstByteMs: number;
  readonly idleMs: number;
}

/** The immutable table a worker serves from; replaced whole on reload. */
export interface RouteTable {
  readonly version: string;
  readonly hosts: ReadonlyMap<string, HostEntry>;
  readonly apps: ReadonlyMap<string, AppRoute>;
  readonly timeouts: RouteTimeouts;
  readonly maxBodyBytes: number;
  readonly dynos: ReadonlySet<Dyno>;
  /** the top-level path options; absent: all `keep` */
  readonly paths?: PathOptions;
  /** request headers the configured filters read, refused when repeated (singleton-headers.ts); absent or null: none */
  readonly singletonHeaders?: ReadonlySet<string> | null;
}

/**
 * ASCII letters lower-cased, nothing else: paths compare case-insensitively on A-Z only, so no
 * other character (`İ`, the Kelvin sign) can fold into a configured prefix or change its length.
 */
export function lowerAscii(s: string): string {
  return /[A-Z]/.test(s) ? s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) | 32)) : s;
}

/** does `path` start with `lowerPrefix`, ASCII letters compared case-insensitively? (no allocation) */
function startsWithFolded(path: string, lowerPrefix: string): boolean {
  for (let i = 0; i < lowerPrefix.length; i++) {
    let c = path.charCodeAt(i);
    if (c >= 65 && c <= 90) c |= 32;
    if (c !== lowerPrefix.charCodeAt(i)) return false;
  }
  return true;
}

/** Lower-cased host without port and trailing dot ('' when empty). */
export function normaliseHost(host: string): string {
  let h = host;
  if (h.charCodeAt(0) === 91 /* [ */) {
    const end = h.indexOf(']');
    h = end === -1 ? h : h.slice(0, end + 1);
  } else {
    const colon = h.indexOf(':');
    if (colon !== -1) h = h.slice(0, colon);
  }
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h.toLowerCase();
}

export interface RouteMatch {
  app: AppRoute;
  /** the rewritten path the app receives */
  path: string;
}

/**
 * Finds the route of a normalised path on a host entry. Longest prefix on segment boundaries,
 * case-insensitive (ASCII); the matched prefix is replaced by `target` (normalised), the rest is
 * kept as written, joined without doubling the slash.
 */
export function matchRoute(entry: HostEntry, path: string): RouteMatch | null {
  if (entry.app) return { app: entry.app, path };
  const routes = entry.routes!;
  for (let i = 0; i < routes.length; i++) {
    const r = routes[i];
    const plen = r.prefix.length;
    if (plen !== 0) {
      if (path.length < plen) continue;
      if (path.length > plen && path.charCodeAt(plen) !== 47 /* / */) continue;
      if (!startsWithFolded(path, r.prefix)) continue;
    }
    const rest = path.slice(plen);
    const target = r.target;
    const rewritten = rest.length === 0 ? target
      : target.charCodeAt(target.length - 1) === 47 && rest.charCodeAt(0) === 47 ? target + rest.slice(1)
        : target + rest;
    return { app: r.app, path: rewritten };
  }
  return null;
}
