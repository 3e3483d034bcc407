/**
 * The canary abort rule: a one-sided, always-valid sequential comparison of the canary's error
 * rate with production's (docs/router/canary.md explains the choice).
 *
 * Each request of the split goes to the canary with probability `share` (an independent draw,
 * see canary-view.ts), whatever happens to it. So under H0 (canary errs as often as production,
 * even when that rate drifts over time), every error that occurs fell on the canary side with
 * probability exactly `share`, independently of the others. The stream of errors is therefore a
 * Bernoulli(share) sequence under H0, and a Bernoulli(rho) one with
 *   rho = share·r / (share·r + 1 − share)
 * when the canary's error rate is r times production's. The likelihood ratio of "relative risk r"
 * against H0 after X canary errors and Y production errors (E = X + Y) is
 *   LR_r = r^X / (1 + share·(r − 1))^E
 * and is a non-negative martingale under H0. We mix it over a fixed grid of r > 1 (equal
 * weights): the mixture is again a martingale with mean 1, so by Ville's inequality
 *   P_H0( the mixture ever reaches 1/alpha ) <= alpha
 * however often we look. Aborting when it does is a test at level alpha = 1 − confidence that
 * may be evaluated after every error, forever, with no inflation of the false-alarm rate.
 *
 * Everything here is pure, takes numbers and returns numbers, and allocates nothing.
 */

/** The relative risks (canary error rate / production error rate) mixed over, equally weighted. */
export const RELATIVE_RISKS: readonly number[] = Object.freeze([1.2, 1.5, 2, 3, 5, 10, 100]);

const LN_R = Float64Array.from(RELATIVE_RISKS, (r) => Math.log(r));
const R_MINUS_1 = Float64Array.from(RELATIVE_RISKS, (r) => r - 1);
const K = RELATIVE_RISKS.length;
const LN_K = Math.log(K);

/**
 * ln of the mixture likelihood ratio (evidence that the canary errs more than production).
 * `share` is the probability that a request of the split goes to the canary, in (0, 1).
 * Returns 0 for a share outside (0, 1): no comparison is possible.
 */
export function logEvidence(canaryErrors: number, productionErrors: number, share: number): number {
  if (!(share > 0 && share < 1)) return 0;
  const e = canaryErrors + productionErrors;
  let max = -Infinity;
  for (let k = 0; k < K; k++) {
    const v = canaryErrors * LN_R[k] - e * Math.log1p(share * R_MINUS_1[k]);
    if (v > max) max = v;
  }
  let sum = 0;
  for (let k = 0; k < K; k++) {
    sum += Math.exp(canaryErrors * LN_R[k] - e * Math.log1p(share * R_MINUS_1[k]) - max);
  }
  return max + Math.log(sum) - LN_K;
}

/** The level the evidence must reach: ln(1 / (1 − confidence)). confidence in (0, 1). */
export function abortThreshold(confidence: number): number {
  return -Math.log(1 - confidence);
}

/**
 * The decision: true when the canary has at least `minRequests` requests and the evidence
 * reaches `threshold` (from abortThreshold). `share` is weight / 100.
 */
export function shouldAbort(
  canaryRequests: number, canaryErrors: number, productionErrors: number,
  share: number, minRequests: number, threshold: number,
): boolean {
  if (canaryRequests < minRequests || canaryErrors === 0) return false;
  return logEvidence(canaryErrors, productionErrors, share) >= threshold;
}
