/**
 * Path normalisation before routing (DESIGN.md): unreserved percent-escapes decoded (`%2E` is a
 * dot; `%2F` stays encoded and is never a separator; other escapes kept, hex upper-cased), a `%`
 * that starts no escape encoded as `%25` (so `%%32%45` cannot become `%2E` for the dyno to
 * decode again), `.` and `..` segments resolved (never above the root), `//` collapsed. A
 * trailing slash is kept. The result is canonical: normalising it again changes nothing.
 * The common case (nothing to do) returns the input string itself, without allocating.
 */

import { applySlashOptions, KEEP_PATHS, PATH_REFUSALS, type DotSegmentParamsAction, type PathOptions,
  type PathRefusal } from './path-options.js';

const HEX = '0123456789ABCDEF';

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** ALPHA / DIGIT / "-" / "." / "_" / "~" (RFC 3986 unreserved) */
function isUnreserved(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 46 || c === 95 || c === 126;
}

function decodeUnreserved(path: string): string {
  let out = '';
  let from = 0;
  for (let i = path.indexOf('%'); i !== -1 && i < path.length; i = path.indexOf('%', i + 1)) {
    const hi = hexValue(path.charCodeAt(i + 1));
    const lo = hexValue(path.charCodeAt(i + 2));
    if (hi < 0 || lo < 0) {
      // a stray '%' is data, not an escape: encode it
      out += path.slice(from, i) + '%25';
      from = i + 1;
      continue;
    }
    const c = hi * 16 + lo;
    out += path.slice(from, i) + (isUnreserved(c) ? String.fromCharCode(c) : '%' + HEX[hi] + HEX[lo]);
    from = i + 3;
    i += 2;
  }
  return from === 0 ? path : out + path.slice(from);
}

/** `path` is the request path without the query string; it should start with '/'. */
export function normalisePath(path: string): string {
  return normalise(path, 'keep') as string;
}

/**
 * normalisePath under an app's path options (path-options.ts): escaped slashes and backslashes
 * first (kept, refused, or decoded into separators), then the normalisation above, with dot
 * segments that carry `;` parameters kept as data, refused, or read as dot segments. A string,
 * or why the path is refused. With every option at `keep`, exactly normalisePath.
 */
export function normalisePathWith(path: string, o: PathOptions): string | PathRefusal {
  if (o === KEEP_PATHS) return normalise(path, 'keep');
  const p = applySlashOptions(path, o);
  return typeof p === 'string' ? normalise(p, o.dotSegmentParams) : p;
}

/** a dot segment with parameters: `.;…` or `..;…` */
const DOT_PARAMS = /^\.\.?;/;

function normalise(path: string, dotParams: DotSegmentParamsAction): string | PathRefusal {
  if (path.indexOf('%') === -1 && path.indexOf('/.') === -1 && path.indexOf('//') === -1) return path;
  const decoded = decodeUnreserved(path);
  const segs = decoded.split('/');
  const out: string[] = [];
  let trailing = false;
  const lastIndex = segs.length - 1;
  for (let i = segs[0] === '' ? 1 : 0; i <= lastIndex; i++) {
    let s = segs[i];
    if (dotParams !== 'keep' && s.charCodeAt(0) === 46 /* . */ && DOT_PARAMS.test(s)) {
      if (dotParams === 'reject') return PATH_REFUSALS.dotSegmentParams;
      s = s.charCodeAt(1) === 46 ? '..' : '.';
    }
    if (s === '' || s === '.') {
      if (i === lastIndex) trailing = true;
    } else if (s === '..') {
      out.pop();
      if (i === lastIndex) trailing = true;
    } else {
      out.push(s);
    }
  }
  return out.length === 0 ? '/' : '/' + out.join('/') + (trailing ? '/' : '');
}
