/**
 * The canary board, worker side: built from the description the main thread posts (see
 * canary-board.ts), once per config. Per request of an app with a canary: pick() chooses the
 * side, record() counts the response and, when that adds evidence against the canary, runs the
 * sequential test on the counts of all workers at once. The thread whose record() tips the test
 * aborts the canary (one compareExchange: exactly one thread wins) and gets the abort event.
 * Nothing here allocates per request.
 */
import { getRandomValues } from 'node:crypto';
import {
  boardViews, increment64, read64, STRIDE, ID, FLAG, CANARY_REQUESTS, CANARY_ERRORS,
  PRODUCTION_REQUESTS, PRODUCTION_ERRORS, DEFER, type BoardDescription, type BoardEntry,
} from './board-layout.js';
import { abortThreshold, shouldAbort } from './sequential-test.js';

export type CanarySide = 'canary' | 'production';

/** What the winning thread learns when it aborts a canary. */
export interface CanaryAbortEvent {
  prodApp: string;
  canaryApp: string;
  slot: number;
  generation: number;
  weight: number;
  confidence: number;
  /** epoch ms; also what `GET /canaries` shows as `since` */
  time: number;
  counts: { canary: { requests: number; errors: number }; production: { requests: number; errors: number } };
  rates: { canary: number; production: number };
}

export interface CanaryViewOptions {
  /** seed of the split's PRNG (tests, simulations); default random per view */
  seed?: number;
  /** called by the thread that aborted a canary, synchronously inside record() */
  onAbort?: (event: CanaryAbortEvent) => void;
}

const TWO_32 = 0x100000000;

export class CanaryView {
  readonly generation: number;
  private readonly words: Uint32Array;
  private readonly abortTimes: BigInt64Array;
  private readonly entries: (BoardEntry | undefined)[];
  private readonly slots = new Map<string, number>();
  private readonly ids: Float64Array;
  /** P(canary) scaled to 2^32, compared with a uint32 draw */
  private readonly cut: Float64Array;
  private readonly share: Float64Array;
  private readonly minRequests: Float64Array;
  private readonly threshold: Float64Array;
  private readonly countsClientErrors: Uint8Array;
  private readonly onAbort: ((event: CanaryAbortEvent) => void) | undefined;
  private rng: number;

  constructor(description: BoardDescription, options: CanaryViewOptions = {}) {
    const { capacity } = description;
    this.generation = description.generation;
    ({ words: this.words, abortTimes: this.abortTimes } = boardViews(description.sab, capacity));
    this.entries = new Array<BoardEntry | undefined>(capacity).fill(undefined);
    this.ids = new Float64Array(capacity).fill(-1);
    this.cut = new Float64Array(capacity);
    this.share = new Float64Array(capacity);
    this.minRequests = new Float64Array(capacity);
    this.threshold = new Float64Array(capacity);
    this.countsClientErrors = new Uint8Array(capacity);
    for (const e of description.canaries) {
      this.entries[e.slot] = e;
      this.slots.set(e.prodApp, e.slot);
      this.ids[e.slot] = e.id;
      this.share[e.slot] = e.weight / 100;
      this.cut[e.slot] = Math.round((e.weight / 100) * TWO_32);
      this.minRequests[e.slot] = e.minRequests;
      this.threshold[e.slot] = abortThreshold(e.confidence);
      this.countsClientErrors[e.slot] = e.statuses === '4xx+5xx' ? 1 : 0;
    }
    this.onAbort = options.onAbort;
    const seed = options.seed ?? getRandomValues(new Uint32Array(1))[0];
    this.rng = (seed >>> 0) || 0x9e3779b9;
  }

  /** The slot of `prodApp`'s canary, -1 when it has none (compile this into the route table). */
  slotOf(prodApp: string): number {
    return this.slots.get(prodApp) ?? -1;
  }

  /** The canary in `slot` as configured (undefined for a slot this view does not know). */
  entry(slot: number): BoardEntry | undefined {
    return this.entries[slot];
  }

  /** True when the canary in `slot` has been aborted (by any thread). */
  aborted(slot: number): boolean {
    return Atomics.load(this.words, slot * STRIDE + FLAG) !== 0
      || Atomics.load(this.words, slot * STRIDE + ID) !== this.ids[slot];
  }

  /**
   * Per request: true = send it to the canary. An independent draw with probability
   * weight/100 (xorshift32), never once the canary is aborted. The sequential test relies on the
   * draw being independent of the request, so no cookie or counter pattern decides it.
   */
  pick(slot: number): boolean {
    if (this.aborted(slot)) return false;
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x;
    return (x >>> 0) < this.cut[slot];
  }

  /**
   * Per response of a request pick() decided (on either side): counts it, and when it is a
   * canary error, or the canary's count reaches minRequests, runs the test on the combined
   * counts. `status` is the status logged (499 for a client that went away: never an error);
   * `failed` is true for an H-code failure (counts as 5xx whatever the status).
   * Returns true when this call aborted the canary (onAbort has then been called).
   * No-op once the canary is aborted: the counts stay the evidence the abort was based on.
   */
  record(slot: number, side: CanarySide, status: number, failed = false): boolean {
    if (this.aborted(slot)) return false;
    const base = slot * STRIDE;
    const canary = side === 'canary';
    const before = increment64(this.words, base + (canary ? CANARY_REQUESTS : PRODUCTION_REQUESTS));
    const error = failed || status >= 500
      || (status >= 400 && status !== 499 && this.countsClientErrors[slot] === 1);
    if (!error) {
      // a success never adds evidence; only reaching minRequests opens the test
      return canary && before + 1 === this.minRequests[slot] ? this.evaluate(slot) : false;
    }
    increment64(this.words, base + (canary ? CANARY_ERRORS : PRODUCTION_ERRORS));
    // a production error only lowers the evidence against the canary
    return canary ? this.evaluate(slot) : false;
  }

  /** Runs the test on the combined counts; aborts (once, across threads) when it says so. */
  private evaluate(slot: number): boolean {
    const w = this.words;
    const base = slot * STRIDE;
    // a cluster decides on the sum of every router's counts (router/cluster/)
    if (Atomics.load(w, base + DEFER) !== 0) return false;
    // errors before requests: each thread counts a request before its error, so what we read
    // never has more errors than requests
    const canaryErrors = read64(w, base + CANARY_ERRORS);
    const productionErrors = read64(w, base + PRODUCTION_ERRORS);
    const canaryRequests = read64(w, base + CANARY_REQUESTS);
    if (!shouldAbort(canaryRequests, canaryErrors, productionErrors,
      this.share[slot], this.minRequests[slot], this.threshold[slot])) return false;
    const time = Date.now();
    if (Atomics.compareExchange(this.abortTimes, slot, 0n, BigInt(time)) !== 0n) return false;
    Atomics.store(w, base + FLAG, 1);
    const e = this.entries[slot]!;
    const productionRequests = read64(w, base + PRODUCTION_REQUESTS);
    const event: CanaryAbortEvent = {
      prodApp: e.prodApp, canaryApp: e.canaryApp, slot, generation: this.generation,
      weight: e.weight, confidence: e.confidence, time,
      counts: {
        canary: { requests: canaryRequests, errors: canaryErrors },
        production: { requests: productionRequests, errors: productionErrors },
      },
      rates: {
        canary: canaryErrors / canaryRequests,
        production: productionRequests === 0 ? 0 : productionErrors / productionRequests,
      },
    };
    this.onAbort?.(event);
    return true;
  }
}
