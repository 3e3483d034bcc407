import { documentDigest, digestedBytes } from './document-digest.js';
import { RECORDS } from './document-diff.js';
import { isJsonObject } from './merge-patch.js';
import type { LoadedConfig } from './load.js';

/** What made a revision (DESIGN.md "Config revisions"). */
export type RevisionSource = 'file' | 'put' | 'patch' | 'rollback';

export interface Revision {
  /** 1, 2, … per process start */
  readonly revision: number;
  /** epoch ms it was applied */
  readonly time: number;
  readonly source: RevisionSource;
  readonly loaded: LoadedConfig;
  /** a rollback: the revision whose document it applied again */
  readonly restored?: number;
}

/** One entry of `GET /config/revisions`. */
export interface RevisionSummary {
  revision: number;
  /** ISO 8601, UTC */
  time: string;
  source: RevisionSource;
  /** the document's content digest (document-digest.ts), 64 hex digits */
  sha256: string;
  restored?: number;
}

export const HISTORY_LIMIT = 20;

/**
 * The last `limit` applied documents, newest last, each with its number, time and source. The
 * documents are frozen and share every part they did not change (diffDocuments), so 20
 * revisions of a large document made by small patches hold one document plus 20 small
 * changes. `bytes()` estimates what the history holds: the compact-JSON size of its distinct
 * parts (a part shared by several revisions counts once), computed on demand and cached until
 * the next revision.
 */
export class RevisionHistory {
  private readonly held: Revision[] = [];
  private next = 1;
  private bytesCache: number | null = null;

  constructor(private readonly limit = HISTORY_LIMIT, private readonly now: () => number = Date.now) {}

  /** Records a newly applied document as the next revision (the oldest goes beyond the limit). */
  add(source: RevisionSource, loaded: LoadedConfig, restored?: number): Revision {
    const r: Revision = Object.freeze({ revision: this.next++, time: this.now(), source, loaded, ...(restored === undefined ? {} : { restored }) });
    this.held.push(r);
    while (this.held.length > this.limit) this.held.shift();
    this.bytesCache = null;
    return r;
  }

  /** The running revision (the last added). */
  get current(): Revision {
    const r = this.held[this.held.length - 1];
    if (r === undefined) throw new Error('no revision yet');
    return r;
  }

  /** Revision `n` while it is held. */
  get(n: number): Revision | undefined {
    return this.held.find((r) => r.revision === n);
  }

  get size(): number {
    return this.held.length;
  }

  /** Newest first. */
  list(): RevisionSummary[] {
    return this.held.map((r) => ({
      revision: r.revision,
      time: new Date(r.time).toISOString(),
      source: r.source,
      sha256: documentDigest(r.loaded.config as unknown as Record<string, unknown>).sha256,
      ...(r.restored === undefined ? {} : { restored: r.restored }),
    })).reverse();
  }

  /** Estimated bytes held (see the class comment). */
  bytes(): number {
    if (this.bytesCache !== null) return this.bytesCache;
    const records = new Set<object>();
    const entries = new Set<object>();
    let total = 0;
    for (const r of this.held) {
      const doc = r.loaded.config as unknown as Record<string, unknown>;
      for (const key of Object.keys(doc)) {
        const value = doc[key];
        if (!(RECORDS as readonly string[]).includes(key) || !isJsonObject(value)) {
          total += key.length + 3 + (JSON.stringify(value)?.length ?? 0);
          continue;
        }
        if (records.has(value)) continue;
        records.add(value);
        for (const name of Object.keys(value)) {
          total += name.length + 3;
          const entry = value[name];
          if (entry === null || typeof entry !== 'object') continue;
          if (entries.has(entry)) continue;
          entries.add(entry);
          total += digestedBytes(entry) || (JSON.stringify(entry)?.length ?? 0);
        }
      }
    }
    this.bytesCache = total;
    return total;
  }
}
