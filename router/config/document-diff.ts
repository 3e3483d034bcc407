import { isJsonObject } from './merge-patch.js';

/**
 * What changed between two router config documents, at the grain a partial apply works at:
 * one entry of `apps`, `sites` or `filters`, or one other top-level key.
 *
 * diffDocuments also makes the new document share every part equal to the old one (same JSON,
 * same key order): an entry of a PUT or file document equal to the running one's becomes the
 * running one's object. So revisions held in history cost only what they changed, and an
 * entry's cached digest (document-digest.ts) is reused. Only unfrozen objects of `next` are
 * written to (the frozen ones are already shared).
 */

export const RECORDS = ['apps', 'sites', 'filters'] as const;
export type RecordName = (typeof RECORDS)[number];

export interface RecordChange {
  /** entries added or changed, in the new document's order */
  readonly changed: readonly string[];
  readonly removed: readonly string[];
  /**
   * the new key order is not the old one with the removed keys gone and the added ones at the
   * end (a worker applying the change in place would order its record differently)
   */
  readonly reordered: boolean;
}

export interface DocumentDiff {
  /** top-level keys other than the records that were added, removed or changed */
  readonly rest: readonly string[];
  /** per record: what changed, or null when the record was replaced whole (not an object on one side) */
  readonly records: Readonly<Record<RecordName, RecordChange | null>>;
}

type JsonObject = Record<string, unknown>;

const RECORD_SET: ReadonlySet<string> = new Set(RECORDS);
const NO_CHANGE: RecordChange = Object.freeze({ changed: Object.freeze([]), removed: Object.freeze([]), reordered: false });

/** JSON equality with key order significant (so a shared part serialises exactly as the replaced one). */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    if (ka[i] !== kb[i]) return false;
    if (!sameJson((a as JsonObject)[ka[i]], (b as JsonObject)[kb[i]])) return false;
  }
  return true;
}

function sameKeyOrder(a: JsonObject, b: JsonObject): boolean {
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return false;
  return true;
}

/** `next`'s keys are `prev`'s (less the removed ones) in the same order, then the added ones. */
function appendOnly(prev: JsonObject, next: JsonObject): boolean {
  const kn = Object.keys(next);
  let i = 0;
  for (const key of Object.keys(prev)) {
    if (!Object.hasOwn(next, key)) continue;
    if (kn[i] !== key) return false;
    i++;
  }
  for (; i < kn.length; i++) if (Object.hasOwn(prev, kn[i])) return false;
  return true;
}

function diffRecord(prev: unknown, next: unknown, owner: JsonObject, name: string): RecordChange | null {
  if (prev === next) return NO_CHANGE;
  if (prev === undefined && next === undefined) return NO_CHANGE;
  // absent on one side counts as empty; anything else that is not an object is a replacement
  const p = prev === undefined ? {} : prev;
  const n = next === undefined ? {} : next;
  if (!isJsonObject(p) || !isJsonObject(n)) return null;
  const changed: string[] = [];
  const removed: string[] = [];
  const writable = !Object.isFrozen(n);
  for (const key of Object.keys(n)) {
    const had = Object.hasOwn(p, key);
    const before = had ? p[key] : undefined;
    const after = n[key];
    if (had && before === after) continue;
    if (had && sameJson(before, after)) {
      if (writable) n[key] = before;
      continue;
    }
    changed.push(key);
  }
  for (const key of Object.keys(p)) if (!Object.hasOwn(n, key)) removed.push(key);
  const reordered = !appendOnly(p, n);
  // nothing changed and the same order: the new document holds the old record itself
  if (changed.length === 0 && removed.length === 0 && prev !== undefined && next !== undefined
    && !Object.isFrozen(owner) && sameKeyOrder(p, n)) {
    owner[name] = prev;
  }
  return changed.length === 0 && removed.length === 0 && !reordered ? NO_CHANGE : Object.freeze({ changed, removed, reordered });
}

/** The changes from `prev` to `next` (both top-level objects); shares equal parts into `next`. */
export function diffDocuments(prev: JsonObject, next: JsonObject): DocumentDiff {
  const rest: string[] = [];
  const writable = !Object.isFrozen(next);
  for (const key of new Set([...Object.keys(prev), ...Object.keys(next)])) {
    if (RECORD_SET.has(key)) continue;
    const had = Object.hasOwn(prev, key);
    const has = Object.hasOwn(next, key);
    if (had && has) {
      if (prev[key] === next[key]) continue;
      if (sameJson(prev[key], next[key])) {
        if (writable) next[key] = prev[key];
        continue;
      }
    }
    rest.push(key);
  }
  const records = {} as Record<RecordName, RecordChange | null>;
  for (const name of RECORDS) {
    records[name] = diffRecord(Object.hasOwn(prev, name) ? prev[name] : undefined, Object.hasOwn(next, name) ? next[name] : undefined, next, name);
  }
  return Object.freeze({ rest: Object.freeze(rest), records: Object.freeze(records) });
}

/** Nothing changed. Top-level key order is ignored (it changes no behaviour). */
export function isEmptyDiff(d: DocumentDiff): boolean {
  return d.rest.length === 0 && RECORDS.every((r) => {
    const c = d.records[r];
    return c !== null && c.changed.length === 0 && c.removed.length === 0;
  });
}

/** The change can be applied entry by entry (no record replaced or reordered, no other key changed). */
export function isEntryWise(d: DocumentDiff): boolean {
  return d.rest.length === 0 && RECORDS.every((r) => d.records[r] !== null && !d.records[r]!.reordered);
}

/** Counts for the log line: `{ apps: 1, sites: 0, filters: 0, other: [] }`. */
export function diffSummary(d: DocumentDiff): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const r of RECORDS) {
    const c = d.records[r];
    out[r] = c === null ? 'replaced' : c.changed.length + c.removed.length;
  }
  out.other = d.rest;
  return out;
}
