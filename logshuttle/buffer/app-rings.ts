import { AppRing } from './app-ring.js';

/** Why an app's ring was dropped. */
export type EvictReason = 'idle' | 'max_apps' | 'max_bytes';

export interface AppRingsOptions {
  /** lines per app */
  history: number;
  /** an app with no line for this long (and no tail) is forgotten by `evictIdle` */
  idleMs: number;
  /** at most this many apps; more evict the least recently written */
  maxApps?: number;
  /** at most this many bytes allocated by all rings (lines + index); more evict the least recently written */
  maxBytes?: number;
}

/**
 * The ring of every app. An app exists from its first line. Memory is bounded twice: at most
 * `maxApps` rings and `maxBytes` bytes allocated by them; past either bound the least recently
 * written app is dropped (never the one being written), counted by reason. Apps idle for
 * `idleMs` go too (`evictIdle`), unless someone tails them. The rings form a list from least to
 * most recently written: a line moves its app to the newest end (a few pointer writes, none
 * when the app was already there), so eviction is exact LRU in O(1).
 */
export class AppRings {
  private readonly apps = new Map<string, AppRing>();
  private readonly history: number;
  private readonly idleMs: number;
  private readonly maxApps: number;
  private readonly maxBytes: number;
  private oldest: AppRing | null = null;
  private newest: AppRing | null = null;
  private allocated = 0;
  /** rings dropped, by reason; and the lines they held */
  readonly evictedApps: Record<EvictReason, number> = { idle: 0, max_apps: 0, max_bytes: 0 };
  evictedLines = 0;

  constructor(options: AppRingsOptions) {
    this.history = options.history;
    this.idleMs = options.idleMs;
    this.maxApps = options.maxApps ?? Infinity;
    this.maxBytes = options.maxBytes ?? Infinity;
  }

  append(app: string, line: string, now: number): void {
    const ring = this.ringFor(app, now);
    const before = ring.bytesAllocated;
    ring.push(line);
    this.settle(ring, before);
  }

  /**
   * Canonical syslog frames of the app, kept as received (AppRing.pushFrames): `lines` frames
   * `LEN SP MSG` back to back in `src[from, to)`, one copy.
   */
  appendFrames(app: string, src: Buffer, from: number, to: number, lines: number, now: number): void {
    const ring = this.ringFor(app, now);
    const before = ring.bytesAllocated;
    ring.pushFrames(src, from, to, lines);
    this.settle(ring, before);
  }

  /** One canonical frame `src[from, to)` (from PRI on, no octet count: AppRing.pushFrame). */
  appendFrame(app: string, src: Buffer, from: number, to: number, now: number): void {
    const ring = this.ringFor(app, now);
    const before = ring.bytesAllocated;
    ring.pushFrame(src, from, to);
    this.settle(ring, before);
  }

  /** The app's ring, made the most recently written (created, and counted, on the app's first line). */
  private ringFor(app: string, now: number): AppRing {
    let ring = this.apps.get(app);
    if (ring === undefined) {
      ring = new AppRing(this.history);
      ring.app = app;
      this.apps.set(app, ring);
      this.link(ring);
      this.allocated += ring.bytesAllocated;
    } else if (ring !== this.newest) {
      this.unlink(ring);
      this.link(ring);
    }
    ring.lastLineAt = now;
    return ring;
  }

  /** Counts what a line changed in `ring`'s allocation, then evicts past the bounds. */
  private settle(ring: AppRing, before: number): void {
    this.allocated += ring.bytesAllocated - before;
    if (this.apps.size > this.maxApps) this.evictLru('max_apps');
    if (this.allocated > this.maxBytes) this.evictLru('max_bytes');
  }

  get(app: string): AppRing | undefined {
    return this.apps.get(app);
  }

  get appCount(): number {
    return this.apps.size;
  }

  /** bytes allocated by all rings (kept up to date on every line) */
  get bytesAllocated(): number {
    return this.allocated;
  }

  /** Drops least recently written apps (never the newest: the one being written) until within the bounds. */
  private evictLru(reason: EvictReason): void {
    while (this.oldest !== null && this.oldest !== this.newest && (this.apps.size > this.maxApps || this.allocated > this.maxBytes)) {
      this.drop(this.oldest, reason);
    }
  }

  private link(ring: AppRing): void {
    ring.older = this.newest;
    ring.newer = null;
    if (this.newest !== null) this.newest.newer = ring;
    else this.oldest = ring;
    this.newest = ring;
  }

  private unlink(ring: AppRing): void {
    if (ring.older !== null) ring.older.newer = ring.newer;
    else this.oldest = ring.newer;
    if (ring.newer !== null) ring.newer.older = ring.older;
    else this.newest = ring.older;
    ring.older = ring.newer = null;
  }

  private drop(ring: AppRing, reason: EvictReason): void {
    this.apps.delete(ring.app);
    this.unlink(ring);
    this.allocated -= ring.bytesAllocated;
    this.evictedApps[reason]++;
    this.evictedLines += ring.length;
  }

  /** Forgets apps idle for longer than `idleMs` unless `isPinned(app)`; returns how many went. */
  evictIdle(now: number, isPinned: (app: string) => boolean): number {
    let n = 0;
    // oldest first: the first app written within idleMs ends the walk
    for (let ring = this.oldest; ring !== null;) {
      const next = ring.newer;
      if (now - ring.lastLineAt <= this.idleMs) break;
      if (!isPinned(ring.app)) {
        this.drop(ring, 'idle');
        n++;
      }
      ring = next;
    }
    return n;
  }

  /** Totals over all apps, for metrics. */
  totals(): { lines: number; bytesHeld: number; bytesAllocated: number } {
    let lines = 0;
    let bytesHeld = 0;
    for (const ring of this.apps.values()) {
      lines += ring.length;
      bytesHeld += ring.bytesHeld;
    }
    return { lines, bytesHeld, bytesAllocated: this.allocated };
  }
}
