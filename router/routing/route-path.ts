import { normalisePathWith } from './normalise-path.js';
import { KEEP_PATHS, PATH_REFUSALS, type PathRefusal } from './path-options.js';
import { matchRoute, type HostEntry, type RouteMatch, type RouteTable } from './route-table.js';

/**
 * The route of a request path on a host entry, under the path options (path-options.ts): the
 * match (app and the path it receives), null when no route matches (404), or why the path is
 * refused (400). The options that apply are always the app's (its own `paths` keys over the
 * top-level ones).
 *
 * An app host knows its app before the path. A site's path is matched first under the
 * contract's normalisation alone; when the matched app's options are not all `keep`, the path is
 * normalised again under them (the app is what the path must not fool) and matched again: it must
 * land on the same app, else the spelling means one app to the router and another once read as
 * that app's stack reads it, and the request is refused (E_PATH_REROUTED).
 */
export function routePath(table: RouteTable, entry: HostEntry, url: string): RouteMatch | PathRefusal | null {
  const top = table.paths ?? KEEP_PATHS;
  const app = entry.app;
  if (app !== null) {
    const p = normalisePathWith(url, app.paths ?? top);
    return typeof p === 'string' ? matchRoute(entry, p) : p;
  }
  const p = normalisePathWith(url, KEEP_PATHS);
  const match = matchRoute(entry, p as string);
  if (match === null) return null;
  const own = match.app.paths ?? top;
  if (own === KEEP_PATHS) return match;
  const q = normalisePathWith(url, own);
  if (typeof q !== 'string') return q;
  if (q === p) return match;
  const again = matchRoute(entry, q);
  return again !== null && again.app === match.app ? again : PATH_REFUSALS.rerouted;
}
