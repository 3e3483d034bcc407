import { createHash } from 'node:crypto';
import { isJsonObject } from './merge-patch.js';
import { RECORDS } from './document-diff.js';

/**
 * The content digest of a router config document, computed in parts so that a revision that
 * shares most of its parts with the running one (diffDocuments) costs only what changed:
 *
 *   entry digest  = SHA-256 of JSON.stringify(entry)                 (one app, site or filter)
 *   record digest = SHA-256 of `"name":<entry digest hex>,` for each entry, in document order
 *   digest        = SHA-256 of `"key":` + (record digest hex, for apps, sites and filters, or
 *                   JSON.stringify(value), for every other key) + `,`, in document order
 *
 * The same document (same JSON text up to whitespace) always has the same digest; any change
 * to it changes the digest. Digests of frozen objects (the held documents are frozen) are
 * cached by object, so a one-app patch to a 10,000-site document hashes one app and the
 * 1,000 app digests, and reuses the sites record's.
 *
 * `bytes` is the document's compact JSON size (close to it: separators of the top level are
 * not counted), from the same pass: the revision history reports memory with it.
 */

export interface Digest {
  /** 64 hex digits */
  readonly sha256: string;
  /** approximate compact-JSON size of the part */
  readonly bytes: number;
}

const cache = new WeakMap<object, Digest>();

function hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function cached(value: object, compute: () => Digest): Digest {
  const hit = cache.get(value);
  if (hit !== undefined) return hit;
  const d = compute();
  if (Object.isFrozen(value)) cache.set(value, d);
  return d;
}

function entryDigest(value: unknown): Digest {
  const compute = (): Digest => {
    const json = JSON.stringify(value) ?? 'null';
    return { sha256: hex(json), bytes: json.length };
  };
  return value !== null && typeof value === 'object' ? cached(value, compute) : compute();
}

function recordDigest(record: Record<string, unknown>): Digest {
  return cached(record, () => {
    const parts: string[] = [];
    let bytes = 2;
    for (const key of Object.keys(record)) {
      const k = JSON.stringify(key);
      const e = entryDigest(record[key]);
      parts.push(`${k}:${e.sha256},`);
      bytes += k.length + 2 + e.bytes;
    }
    return { sha256: hex(parts.join('')), bytes };
  });
}

const RECORD_NAMES: ReadonlySet<string> = new Set(RECORDS);

/** The digest of a whole document (see the module comment). */
export function documentDigest(doc: Record<string, unknown>): Digest {
  return cached(doc, () => {
    const parts: string[] = [];
    let bytes = 2;
    for (const key of Object.keys(doc)) {
      const k = JSON.stringify(key);
      const value = doc[key];
      if (RECORD_NAMES.has(key) && isJsonObject(value)) {
        const r = recordDigest(value);
        parts.push(`${k}:{${r.sha256}},`);
        bytes += k.length + 2 + r.bytes;
      } else {
        const json = JSON.stringify(value) ?? 'null';
        parts.push(`${k}:${json},`);
        bytes += k.length + 2 + json.length;
      }
    }
    return { sha256: hex(parts.join('')), bytes };
  });
}

/** Bytes of a part already digested (0 when never digested): the history's memory estimate. */
export function digestedBytes(value: object): number {
  return cache.get(value)?.bytes ?? 0;
}
