import { hash } from 'node:crypto';
import type { KeyAuthFilterDef } from '../config/filter-schema.js';
import type { Filter, FilterRequest, FilterVerdict } from './filter.js';
import { problemAnswer } from './problem-answer.js';
import { countRefusal, type FilterCount } from './filter-counters.js';
import { findQueryParam, withoutQueryParam } from './query-params.js';

/** Keys longer than this are refused without hashing (no key of a sane API is near it). */
export const MAX_KEY_CHARS = 4096;

const CHALLENGE: [string, string] = ['www-authenticate', 'Bearer realm="edgeplane"'];

interface StoredKey {
  readonly id: string;
  /** the configured sha256, lowercase hex */
  readonly hex: string;
  /** epoch ms, Infinity when it never expires */
  readonly expires: number;
  readonly permissions: ReadonlySet<string>;
}

type Location = { kind: 'bearer' } | { kind: 'header'; name: string } | { kind: 'query'; name: string };

/**
 * API keys (`type: keyauth`). The key is taken from the first configured location that has one
 * (`Authorization: Bearer`, a header, a query parameter), hashed with SHA-256 and looked up in a
 * map compiled from the configured digests (only digests are configured: no key is held), the
 * digests compared again in constant time. Refusals: 401 `missing_credentials` (no key), 401
 * `invalid_key` (unknown or expired), both with `WWW-Authenticate: Bearer realm="edgeplane"`;
 * 403 `insufficient_permissions` (a `require`d permission missing). A key that passes: its id goes
 * to the dyno in `upstream_header` (the client's own header of that name is removed from every
 * request of the app, ownedRequestHeaders), and ratelimit `by: key` buckets by it; with
 * `hide_credentials` the dyno does not receive the key (the Authorization header, the header, or
 * the query parameter it came in).
 */
export class KeyAuthFilter implements Filter {
  readonly type = 'keyauth';
  readonly ownedRequestHeaders?: readonly string[];
  private readonly keys = new Map<string, StoredKey>();
  private readonly locations: readonly Location[];
  private readonly require: readonly string[];
  private readonly upstreamHeader: string | null;
  private readonly hide: boolean;

  constructor(readonly name: string, def: KeyAuthFilterDef, private readonly count: FilterCount) {
    for (const k of def.keys) {
      const hex = k.sha256.toLowerCase();
      this.keys.set(hex, {
        id: k.id,
        hex,
        expires: k.expires === undefined ? Infinity : Date.parse(k.expires),
        permissions: new Set(k.permissions ?? []),
      });
    }
    this.locations = def.locations.map((l): Location => ('bearer' in l ? { kind: 'bearer' }
      : 'header' in l ? { kind: 'header', name: l.header.toLowerCase() } : { kind: 'query', name: l.query }));
    this.require = [...new Set(def.require ?? [])];
    this.upstreamHeader = def.upstream_header === undefined ? null : def.upstream_header.toLowerCase();
    if (this.upstreamHeader !== null) this.ownedRequestHeaders = [this.upstreamHeader];
    this.hide = def.hide_credentials === true;
  }

  apply(req: FilterRequest): FilterVerdict {
    let key = '';
    let from: Location | null = null;
    for (const loc of this.locations) {
      key = this.read(req, loc);
      if (key !== '') {
        from = loc;
        break;
      }
    }
    if (from === null) return this.refuse('missing_credentials', 'no API key in the request', true);
    if (this.hide) this.hideKey(req, from);
    if (key.length > MAX_KEY_CHARS) return this.refuse('invalid_key', 'the API key is not valid', true);
    // one-shot hash (no Hash object: a third of createHash's cost per request), as hex
    const digest = hash('sha256', key, 'hex');
    const stored = this.keys.get(digest);
    // the map is keyed by the digest; the digests are compared again in constant time
    if (stored === undefined || !sameDigest(stored.hex, digest)) return this.refuse('invalid_key', 'the API key is not valid', true);
    if (Date.now() >= stored.expires) return this.refuse('invalid_key', 'the API key has expired', true);
    for (const p of this.require) {
      if (!stored.permissions.has(p)) return this.refuse('insufficient_permissions', `the API key lacks the permission "${p}"`, false);
    }
    req.keyId = stored.id;
    if (this.upstreamHeader !== null) req.upstreamHeaders.push([this.upstreamHeader, stored.id]);
    this.count.passed++;
    return undefined;
  }

  private read(req: FilterRequest, loc: Location): string {
    if (loc.kind === 'header') return req.header(loc.name).trim();
    if (loc.kind === 'query') return req.query === '' ? '' : findQueryParam(req.query, loc.name);
    const auth = req.header('authorization');
    // `Bearer <key>`, the scheme case-insensitive (RFC 9110)
    if (auth.length < 7 || auth.charCodeAt(6) !== 32 || auth.slice(0, 6).toLowerCase() !== 'bearer') return '';
    return auth.slice(7).trim();
  }

  private hideKey(req: FilterRequest, from: Location): void {
    if (from.kind === 'query') {
      req.upstreamQuery = withoutQueryParam(req.upstreamQuery ?? req.query, from.name);
      return;
    }
    (req.hiddenHeaders ??= []).push(from.kind === 'bearer' ? 'authorization' : from.name);
  }

  private refuse(code: 'missing_credentials' | 'invalid_key' | 'insufficient_permissions', detail: string, challenge: boolean): FilterVerdict {
    countRefusal(this.count, code);
    return problemAnswer(code, detail, challenge ? [CHALLENGE] : []);
  }
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Problems of a keyauth definition beyond the schema. */
export function keyAuthProblems(def: KeyAuthFilterDef, at: (field: string, reason: string) => void, reserved: (h: string) => boolean): void {
  const ids = new Set<string>();
  const digests = new Set<string>();
  def.keys.forEach((k, i) => {
    if (ids.has(k.id)) at(`keys[${i}].id`, `"${k.id}" is used twice`);
    ids.add(k.id);
    const d = k.sha256.toLowerCase();
    if (digests.has(d)) at(`keys[${i}].sha256`, 'the same key is configured twice');
    digests.add(d);
    if (k.expires !== undefined && (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(k.expires) || Number.isNaN(Date.parse(k.expires)))) {
      at(`keys[${i}].expires`, `"${k.expires}" is not an RFC 3339 date-time (e.g. 2027-06-30T00:00:00Z)`);
    }
    if (/[\x00-\x1f\x7f]/.test(k.id)) at(`keys[${i}].id`, 'must not contain control characters (it is sent in a header)');
  });
  def.locations.forEach((l, i) => {
    if ('header' in l && !TOKEN.test(l.header)) at(`locations[${i}].header`, `"${l.header}" is not a valid header name`);
    if ('header' in l && l.header.toLowerCase() === 'authorization') at(`locations[${i}].header`, 'use { "bearer": true } for the Authorization header');
  });
  const h = def.upstream_header;
  if (h !== undefined) {
    if (!TOKEN.test(h)) at('upstream_header', `"${h}" is not a valid header name`);
    else if (reserved(h.toLowerCase())) at('upstream_header', `"${h}" is reserved`);
    else if (def.locations.some((l) => 'header' in l && l.header.toLowerCase() === h.toLowerCase())) at('upstream_header', 'must not be a header the key is read from');
  }
}

/** Two sha256 hex digests equal, in time independent of where they differ. */
function sameDigest(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
