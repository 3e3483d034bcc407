import type { ExtraHeaders } from '../../shared/bus/index.js';

/**
 * A platform line about a replica's own drains (L14: a drain's certificate did not verify) goes
 * through the bus like any line, so every replica's tails and the history show it, in order with
 * the lines the replica published. It must never reach the drains (a line about a drain fed back
 * into the drains would loop); this header says so, and the consumer then puts the line only in
 * the ring (tails read the stream themselves). Lines other programs publish never carry it.
 */
export const SKIP_DRAINS_HEADER = 'Edgeplane-Drains';
export const SKIP_DRAINS_VALUE = 'skip';
export const SKIP_DRAINS: ExtraHeaders = Object.freeze([[SKIP_DRAINS_HEADER, SKIP_DRAINS_VALUE] as const]);
