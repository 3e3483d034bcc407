import { hash } from 'node:crypto';
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
  // the one-shot hash: several times cheaper than createHash() for many small parts
  return hash('sha256', text, 'hex');
}

/** A key between quotes, escaped as JSON when it holds a quote or a backslash (unambiguous either way). */
function quoted(key: string): string {
  return key.includes('"') || key.includes('\\') ? JSON.stringify(key) : `"${key}"`;
}

function entryDigest(value: unknown): Digest {
  const isObject = value !== null && typeof value === 'object';
  if (isObject) {
    const hit = cache.get(value);
    if (hit !== undefined) return hit;
  }
  const json = JSON.stringify(value) ?? 'null';
  const d: Digest = { sha256: hex(json), bytes: json.length };
  if (isObject && Object.isFrozen(value)) cache.set(value, d);
  return d;
}

const RECORD_NAMES: ReadonlySet<string> = new Set(RECORDS);

/**
 * `"key":<part>,` for each key, in order, hashed: a record's part is its entry's digest; a
 * document's (`top`) is the record digest between braces for apps, sites and filters, else the
 * value's JSON.
 */
function objectDigest(obj: Record<string, unknown>, top: boolean): Digest {
  const hit = cache.get(obj);
  if (hit !== undefined) return hit;
  let text = '';
  let bytes = 2;
  for (const key of Object.keys(obj)) {
    const k = quoted(key);
    const value = obj[key];
    let part: string;
    let size: number;
    if (!top) {
      const e = entryDigest(value);
      part = e.sha256;
      size = e.bytes;
    } else if (RECORD_NAMES.has(key) && isJsonObject(value)) {
      const r = objectDigest(value, false);
      part = `{${r.sha256}}`;
      size = r.bytes;
    } else {
      part = JSON.stringify(value) ?? 'null';
      size = part.length;
    }
    text += `${k}:${part},`;
    bytes += k.length + 2 + size;
  }
  const d: Digest = { sha256: hex(text), bytes };
  if (Object.isFrozen(obj)) cache.set(obj, d);
  return d;
}

/** The digest of a whole document (see the module comment). */
export function documentDigest(doc: Record<string, unknown>): Digest {
  return objectDigest(doc, true);
}

/** Bytes of a part already digested (0 when never digested): the history's memory estimate. */
export function digestedBytes(value: object): number {
  return cache.get(value)?.bytes ?? 0;
}
