import type { PathsConfig } from '../config/schema.js';

/**
 * Path spellings that the router's own normalisation leaves alone but that some dyno stacks read
 * differently, so that a path routed (and filtered) as one thing reaches the dyno meaning another
 * (docs/router/path-options.md). Modelled on Envoy's path options
 * (`path_with_escaped_slashes_action`, and its URL normalisation turning `\` into `/`):
 *
 * - `escaped_slashes`: `%2F` `%2f` `%5C` `%5c` in the path. `keep` (the contract's default: data,
 *   never a separator), `reject` (400), `decode` (`%2F` -> `/`, `%5C` -> `\`, then normalised).
 * - `backslashes`: a raw `\` in the path. `keep`, `reject` (400), `decode` (`\` -> `/`, then
 *   normalised).
 * - `dot_segment_params`: a dot segment with `;` parameters (`..;x`, `.;`), which Java servlet
 *   containers read as `..` / `.`. `keep`, `reject` (400), `strip` (read as `..` / `.`: resolved).
 */
export type SlashAction = 'keep' | 'reject' | 'decode';
export type DotSegmentParamsAction = 'keep' | 'reject' | 'strip';

export interface PathOptions {
  readonly escapedSlashes: SlashAction;
  readonly backslashes: SlashAction;
  readonly dotSegmentParams: DotSegmentParamsAction;
}

/** Why a path is refused (400, before routing and filters), with the client's body. */
export interface PathRefusal {
  readonly code: string;
  readonly status: string;
  readonly body: string;
}

function refusal(code: string, body: string): PathRefusal {
  return Object.freeze({ code, status: '400 Bad Request', body });
}

export const PATH_REFUSALS = Object.freeze({
  escapedSlash: refusal('E_ESCAPED_SLASH', 'Escaped slash or backslash in the path\n'),
  backslash: refusal('E_BACKSLASH', 'Backslash in the path\n'),
  dotSegmentParams: refusal('E_DOT_SEGMENT_PARAMS', 'Dot segment with parameters in the path\n'),
  rerouted: refusal('E_PATH_REROUTED', 'Path routes elsewhere under its app\'s path options\n'),
});

export function isPathRefusal(v: unknown): v is PathRefusal {
  return typeof v === 'object' && v !== null;
}

/** Every combination is one frozen object: equal options are the same object (compared by identity). */
const INTERNED = new Map<string, PathOptions>();

function intern(o: PathOptions): PathOptions {
  const key = `${o.escapedSlashes}/${o.backslashes}/${o.dotSegmentParams}`;
  let found = INTERNED.get(key);
  if (found === undefined) {
    found = Object.freeze({ ...o });
    INTERNED.set(key, found);
  }
  return found;
}

/** All `keep`: the router as the contract describes it (nothing beyond normalisePath). */
export const KEEP_PATHS: PathOptions = intern({ escapedSlashes: 'keep', backslashes: 'keep', dotSegmentParams: 'keep' });

/** An app's options: its own `paths` keys over the top-level `paths`, over `keep`. */
export function resolvePathOptions(top: PathsConfig | undefined, app?: PathsConfig): PathOptions {
  return intern({
    escapedSlashes: app?.escaped_slashes ?? top?.escaped_slashes ?? 'keep',
    backslashes: app?.backslashes ?? top?.backslashes ?? 'keep',
    dotSegmentParams: app?.dot_segment_params ?? top?.dot_segment_params ?? 'keep',
  });
}

const ESCAPED_SLASH = /%(?:2f|5c)/i;

/**
 * The path with escaped slashes and backslashes handled as `o` says (before normalisePath), or
 * the refusal. Dot segments with parameters are normalisePath's part (they need the decoded
 * segments).
 */
export function applySlashOptions(path: string, o: PathOptions): string | PathRefusal {
  let p = path;
  if (o.escapedSlashes !== 'keep' && p.indexOf('%') !== -1 && ESCAPED_SLASH.test(p)) {
    if (o.escapedSlashes === 'reject') return PATH_REFUSALS.escapedSlash;
    p = p.replace(/%2f/gi, '/').replace(/%5c/gi, '\\');
  }
  if (o.backslashes !== 'keep' && p.indexOf('\\') !== -1) {
    if (o.backslashes === 'reject') return PATH_REFUSALS.backslash;
    p = p.replace(/\\/g, '/');
  }
  return p;
}
