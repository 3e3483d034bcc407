/**
 * The dashboard's latency histogram: fixed, log-spaced buckets, so that histograms of any
 * worker and any second add up by plain element-wise sums and a quantile read from the sum is
 * as precise as from one of them. Bucket i counts durations in (bound(i-1), bound(i)] with
 * bound(i) = 0.05 ms * 2^(i/3): three buckets per doubling, each 26 % wider than the one
 * before, from 0.05 ms to about 42 s; the last bucket counts everything slower. A quantile is
 * reported as its bucket's geometric middle, within 13 % of the true value.
 *
 * Nothing here allocates: the worker counts every request with latencyBucket().
 */

/** upper bound of the first bucket, ms */
const BASE_MS = 0.05;
const PER_DOUBLING = 3;
/** buckets with an upper bound; one more (the last) counts anything slower */
const BOUNDED = 60;
export const LATENCY_BUCKET_COUNT = BOUNDED + 1;

/** Upper bound of bucket `i` in ms (Infinity for the last). */
export function bucketUpperMs(i: number): number {
  return i >= BOUNDED ? Infinity : BASE_MS * 2 ** (i / PER_DOUBLING);
}

/** The bucket of a duration in ms. */
export function latencyBucket(ms: number): number {
  if (!(ms > BASE_MS)) return 0;
  // the bound is inclusive: a duration exactly on bound(i) is counted in bucket i
  const i = Math.ceil(Math.log2(ms / BASE_MS) * PER_DOUBLING - 1e-9);
  return i < BOUNDED ? i : BOUNDED;
}

/** What a quantile in bucket `i` is reported as: the geometric middle of its bounds, in ms. */
export function bucketMiddleMs(i: number): number {
  if (i <= 0) return BASE_MS;
  // the open last bucket: its lower bound
  if (i >= BOUNDED) return bucketUpperMs(BOUNDED - 1);
  return Math.sqrt(bucketUpperMs(i - 1) * bucketUpperMs(i));
}

/**
 * Quantile `q` (0 < q <= 1) of the histogram in `counts[offset .. offset + LATENCY_BUCKET_COUNT)`,
 * in ms rounded to 0.01; null when it counts nothing. The nearest-rank definition: the smallest
 * bucket whose running count reaches ceil(q * total).
 */
export function quantileMs(counts: ArrayLike<number>, offset: number, q: number): number | null {
  let total = 0;
  for (let i = 0; i < LATENCY_BUCKET_COUNT; i++) total += counts[offset + i];
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < LATENCY_BUCKET_COUNT; i++) {
    seen += counts[offset + i];
    if (seen >= rank) return Math.round(bucketMiddleMs(i) * 100) / 100;
  }
  return Math.round(bucketMiddleMs(LATENCY_BUCKET_COUNT - 1) * 100) / 100;
}
