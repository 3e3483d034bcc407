/**
 * The canary board, main-thread side: owns the SharedArrayBuffer of per-canary counters, hands
 * slots out on every config, and answers `GET /canaries`. Workers get the board through the
 * description apply() returns (see canary-view.ts); they count and decide, the board only reads.
 */
import { sameCanary, type CanaryConfig } from './canary-config.js';
import { CanaryConfigError } from './canary-errors.js';
import {
  boardBytes, boardViews, read64, STRIDE, ID, FLAG, CANARY_REQUESTS, CANARY_ERRORS,
  PRODUCTION_REQUESTS, PRODUCTION_ERRORS, DEFER, type BoardDescription, type BoardEntry,
} from './board-layout.js';

/** One canary as `GET /canaries` shows it (DESIGN.md "Canary"). */
export interface CanarySnapshot {
  app: string;
  canary: string;
  state: 'active' | 'aborted';
  counts: { canary: { requests: number; errors: number }; production: { requests: number; errors: number } };
  rates: { canary: number; production: number };
  /** ISO time the state began: the config that started this count, or the abort */
  since: string;
}

interface LiveCanary {
  readonly config: CanaryConfig;
  readonly entry: BoardEntry;
  /** epoch ms of the apply() that gave the canary its slot */
  readonly activeSince: number;
}

export interface CanaryBoardOptions {
  /** slots in the first SharedArrayBuffer (grows by doubling when a config needs more) */
  capacity?: number;
  /** clock, epoch ms (tests) */
  now?: () => number;
}

export class CanaryBoard {
  /** the counters the workers share (board-layout.ts), replaced by a larger one when full */
  private sab: SharedArrayBuffer;
  /** slots the buffer holds */
  private capacity: number;
  /** per slot: id, abort flag, the four counts, the defer flag (STRIDE words) */
  private words: Uint32Array;
  /** per slot: epoch ms of the abort, 0 while active (the first abort wins) */
  private abortTimes: BigInt64Array;
  /** the canaries of the current config, by app */
  private live = new Map<string, LiveCanary>();
  /** slots given up, oldest first, with the generation that gave them up */
  private free: { slot: number; generation: number }[] = [];
  /** counts the configs applied; a given-up slot is reused only by a later generation */
  private generation = 0;
  /** the id of the next canary given a slot (a reused slot gets a new id) */
  private nextId = 1;
  /** the first slot never used yet */
  private nextFresh = 0;
  private readonly now: () => number;
  /** workers count but do not decide (a cluster decides: router/cluster/) */
  private deferred = false;

  constructor(options: CanaryBoardOptions = {}) {
    this.capacity = Math.max(1, options.capacity ?? 256);
    this.now = options.now ?? Date.now;
    this.sab = new SharedArrayBuffer(boardBytes(this.capacity));
    ({ words: this.words, abortTimes: this.abortTimes } = boardViews(this.sab, this.capacity));
  }

  /**
   * Installs a new config's canaries. A canary whose prodApp, canaryApp, weight and abort
   * settings are unchanged keeps its slot: its counts and its aborted state go on. Any other
   * gets a fresh, zeroed slot. Returns the description to post to every worker.
   * Throws CanaryConfigError (E_CANARY_CONFIG) when two canaries name the same prodApp.
   */
  apply(canaries: readonly CanaryConfig[]): BoardDescription {
    const seen = new Set<string>();
    for (const c of canaries) {
      if (seen.has(c.prodApp)) throw new CanaryConfigError(`apps.${c.prodApp}.canary: given twice`);
      seen.add(c.prodApp);
    }
    const next = new Map<string, LiveCanary>();
    const fresh: CanaryConfig[] = [];
    for (const c of canaries) {
      const prev = this.live.get(c.prodApp);
      if (prev !== undefined && sameCanary(prev.config, c)) next.set(c.prodApp, prev);
      else fresh.push(c);
    }
    const generation = this.generation + 1;
    // a slot given up now is not reused by this config: requests of the old one may still be
    // in flight. Never-used slots first, then the longest given up.
    const reusable = this.free.filter((f) => f.generation < generation).length;
    for (const [app, prev] of this.live) {
      if (next.get(app) === prev) continue;
      // retired at once: views of older configs stop picking and counting it (id 0 is never given)
      Atomics.store(this.words, prev.entry.slot * STRIDE + ID, 0);
      this.free.push({ slot: prev.entry.slot, generation });
    }
    const available = this.capacity - this.nextFresh + reusable;
    if (fresh.length > available) this.grow(this.capacity + fresh.length - available);
    const now = this.now();
    for (const c of fresh) {
      const slot = this.nextFresh < this.capacity ? this.nextFresh++ : this.free.shift()!.slot;
      const id = this.nextId++;
      this.reset(slot, id);
      next.set(c.prodApp, {
        config: c, activeSince: now,
        entry: Object.freeze({
          prodApp: c.prodApp, canaryApp: c.canaryApp, slot, id, weight: c.weight,
          minRequests: c.abort.minRequests, confidence: c.abort.confidence, statuses: c.abort.statuses,
        }),
      });
    }
    // keep the config's order for /canaries
    this.live = new Map(canaries.map((c) => [c.prodApp, next.get(c.prodApp)!]));
    this.generation = generation;
    return this.describe(generation);
  }

  /** The current description (the last apply()'s), e.g. for a worker that starts later. */
  description(): BoardDescription {
    return this.describe(this.generation);
  }

  /**
   * With `true`, the workers keep counting but no longer run the test: a cluster of routers
   * decides on the sum of their counts (router/cluster/). Applies to every canary, including
   * those a later apply() adds. Never called without a bus.
   */
  setDeferred(deferred: boolean): void {
    this.deferred = deferred;
    for (const { entry } of this.live.values()) Atomics.store(this.words, entry.slot * STRIDE + DEFER, deferred ? 1 : 0);
  }

  /**
   * Aborts `prodApp`'s canary from the main thread (a cluster's decision): weight 0 in every
   * worker at its next pick(). `time` is what `since` shows. False when there is no such canary
   * or it is aborted already.
   */
  abort(prodApp: string, time: number): boolean {
    const live = this.live.get(prodApp);
    if (live === undefined) return false;
    const slot = live.entry.slot;
    if (Atomics.compareExchange(this.abortTimes, slot, 0n, BigInt(time)) !== 0n) return false;
    Atomics.store(this.words, slot * STRIDE + FLAG, 1);
    return true;
  }

  /** What `GET /canaries` answers: one entry per configured canary, in config order. */
  snapshot(): CanarySnapshot[] {
    const out: CanarySnapshot[] = [];
    for (const { entry, activeSince } of this.live.values()) {
      const base = entry.slot * STRIDE;
      const w = this.words;
      // errors first: a request is counted before its error, so errors never exceed requests
      const cErr = read64(w, base + CANARY_ERRORS);
      const pErr = read64(w, base + PRODUCTION_ERRORS);
      const cReq = read64(w, base + CANARY_REQUESTS);
      const pReq = read64(w, base + PRODUCTION_REQUESTS);
      const abortedAt = Number(Atomics.load(this.abortTimes, entry.slot));
      out.push({
        app: entry.prodApp, canary: entry.canaryApp,
        state: abortedAt !== 0 ? 'aborted' : 'active',
        counts: { canary: { requests: cReq, errors: cErr }, production: { requests: pReq, errors: pErr } },
        rates: { canary: cReq === 0 ? 0 : cErr / cReq, production: pReq === 0 ? 0 : pErr / pReq },
        since: new Date(abortedAt !== 0 ? abortedAt : activeSince).toISOString(),
      });
    }
    return out;
  }

  private describe(generation: number): BoardDescription {
    return {
      sab: this.sab, capacity: this.capacity, generation,
      canaries: [...this.live.values()].map((l) => l.entry),
    };
  }

  /** Gives a recycled or fresh slot a new id first (stale views stop writing), then zeroes it. */
  private reset(slot: number, id: number): void {
    const base = slot * STRIDE;
    Atomics.store(this.words, base + ID, id);
    for (let i = FLAG; i < STRIDE; i++) Atomics.store(this.words, base + i, 0);
    Atomics.store(this.abortTimes, slot, 0n);
    if (this.deferred) Atomics.store(this.words, base + DEFER, 1);
  }

  /**
   * A bigger SharedArrayBuffer with every slot copied. Counts a worker still running an older
   * description writes to the old buffer after the copy are lost: only when a config adds more
   * canaries than the board holds (256 by default), and only until the workers get the new one.
   */
  private grow(minCapacity: number): void {
    const capacity = Math.max(minCapacity, this.capacity * 2);
    const sab = new SharedArrayBuffer(boardBytes(capacity));
    const views = boardViews(sab, capacity);
    for (let i = 0; i < this.words.length; i++) views.words[i] = Atomics.load(this.words, i);
    for (let i = 0; i < this.capacity; i++) views.abortTimes[i] = Atomics.load(this.abortTimes, i);
    this.sab = sab;
    this.capacity = capacity;
    this.words = views.words;
    this.abortTimes = views.abortTimes;
  }
}
