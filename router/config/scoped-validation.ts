import { isJsonObject } from './merge-patch.js';
import type { DocumentDiff } from './document-diff.js';

/**
 * What a change to a valid router document needs checked (load.ts validateRouterConfig with a
 * scope). A change can only break what it touched and what refers to it:
 * - the schema runs on a sparse copy of the document (every top-level key, but of `apps` and
 *   `sites` only the entries added or changed): the same paths and messages as the whole;
 * - the changed apps' filter and canary references (every app's when a filter definition
 *   changed or an app was removed); every canary pair and filter definition (cheap);
 * - the changed sites' routes whole, and when an app was removed, every route's app;
 * - the certificate files when `certificates` changed or the caller asks (PUT, file reloads
 *   and rollbacks read them every time: a renewal in place changes them, not the document).
 * A scoped check finds the problems of the whole check (as a set): a property test compares
 * them on random documents and patches (test/router/config/scoped-validation.test.ts).
 */
export interface ValidationScope {
  /** app names whose entries and references to check, or every app */
  readonly apps: ReadonlySet<string> | 'all';
  /** site hosts whose entries to check whole, or every site */
  readonly sites: ReadonlySet<string> | 'all';
  /** check every app's filter references (a filter definition changed) */
  readonly allFilterRefs: boolean;
  /** check every reference to an app (an app was removed) */
  readonly allAppRefs: boolean;
  /** read and check the certificate files */
  readonly certificates: boolean;
}

export const WHOLE: ValidationScope = Object.freeze({ apps: 'all', sites: 'all', allFilterRefs: true, allAppRefs: true, certificates: true });

/** What a change needs checked (see ValidationScope). */
export function scopeOf(diff: DocumentDiff, certificates: boolean): ValidationScope {
  const { apps, sites, filters } = diff.records;
  return Object.freeze({
    apps: apps === null ? 'all' : new Set(apps.changed),
    sites: sites === null ? 'all' : new Set(sites.changed),
    allFilterRefs: filters === null || filters.changed.length > 0 || filters.removed.length > 0,
    allAppRefs: apps === null || apps.removed.length > 0,
    certificates: certificates || diff.rest.includes('certificates'),
  });
}

export const inScope = (set: ReadonlySet<string> | 'all', key: string): boolean => set === 'all' || set.has(key);

type Doc = Record<string, unknown>;

/** The document with only the scoped entries of `apps` and `sites` (the schema's paths stay the same). */
export function sparseCopy(doc: Doc, scope: ValidationScope): Doc {
  if (scope.apps === 'all' && scope.sites === 'all') return doc;
  const out: Doc = { ...doc };
  for (const [name, keys] of [['apps', scope.apps], ['sites', scope.sites]] as const) {
    const record = doc[name];
    if (keys === 'all' || !Object.hasOwn(doc, name) || !isJsonObject(record)) continue;
    // most entries changed: checking the record whole costs less than copying them out (the
    // unchanged ones were valid, so no problem is added)
    if (keys.size * 2 > Object.keys(record).length) continue;
    const picked: Doc = {};
    for (const k of keys) if (Object.hasOwn(record, k)) Object.defineProperty(picked, k, { value: record[k], enumerable: true });
    out[name] = picked;
  }
  return out;
}
