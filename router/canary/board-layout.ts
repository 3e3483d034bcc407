/**
 * The shared memory of the canary board: one slot per canary in a SharedArrayBuffer, written by
 * every worker with Atomics, read by the main thread for `GET /canaries`. Counts live here, not
 * in a worker, so a worker that dies loses nothing it has recorded.
 *
 * Uint32 words per slot (STRIDE): the slot's allocation id (a view ignores a slot whose id is not
 * the one it was given: the slot was recycled by a newer config), the aborted flag, then four
 * 64-bit counters as lo/hi word pairs (a request counter outlives 2^32 on a busy app), then the
 * deferred flag (DEFER). After the
 * Uint32 region, one BigInt64 per slot: the abort time in epoch ms (0 = not aborted); the thread
 * whose compareExchange moves it from 0 is the one that aborted the canary.
 */
import type { CanaryStatuses } from './canary-config.js';

export const STRIDE = 12;
export const ID = 0;
export const FLAG = 1;
export const CANARY_REQUESTS = 2;
export const CANARY_ERRORS = 4;
export const PRODUCTION_REQUESTS = 6;
export const PRODUCTION_ERRORS = 8;
/**
 * Non-zero: the workers count but do not decide; a cluster of routers sharing counts over the
 * bus decides on the sum (router/cluster/). Zero (always, without a bus): the workers decide.
 */
export const DEFER = 10;

/** Bytes a board of `capacity` slots needs. */
export function boardBytes(capacity: number): number {
  return capacity * STRIDE * 4 + capacity * 8;
}

/** The views over a board's SharedArrayBuffer. */
export function boardViews(sab: SharedArrayBuffer, capacity: number): { words: Uint32Array; abortTimes: BigInt64Array } {
  return {
    words: new Uint32Array(sab, 0, capacity * STRIDE),
    abortTimes: new BigInt64Array(sab, capacity * STRIDE * 4, capacity),
  };
}

/** Adds 1 to the 64-bit counter at `index` (lo word); returns the lo word's old value. */
export function increment64(words: Uint32Array, index: number): number {
  const old = Atomics.add(words, index, 1);
  if (old === 0xffffffff) Atomics.add(words, index + 1, 1);
  return old;
}

/** Reads the 64-bit counter at `index`. */
export function read64(words: Uint32Array, index: number): number {
  return Atomics.load(words, index + 1) * 0x100000000 + Atomics.load(words, index);
}

/** One canary in a board description. */
export interface BoardEntry {
  readonly prodApp: string;
  readonly canaryApp: string;
  /** index of the canary's slot in the board */
  readonly slot: number;
  /** the slot's allocation id (see ID) */
  readonly id: number;
  readonly weight: number;
  readonly minRequests: number;
  readonly confidence: number;
  readonly statuses: CanaryStatuses;
}

/**
 * What `board.apply()` returns and the main thread posts to every worker (structured-cloneable:
 * the SharedArrayBuffer is shared, not copied).
 */
export interface BoardDescription {
  readonly sab: SharedArrayBuffer;
  readonly capacity: number;
  /** increases with every apply(); a worker keeps the highest it has seen */
  readonly generation: number;
  readonly canaries: readonly BoardEntry[];
}
