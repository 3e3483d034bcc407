/** Jittered exponential backoff (DESIGN.md: capped at 10 s). */
export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = Object.freeze({ baseMs: 100, maxMs: 10_000 });

/**
 * Delay before attempt number `failures` (1 = after the first failure): base·2^(n-1) capped at
 * max, then "equal jitter" (a random point in the upper half) so reconnecting drains spread out.
 */
export function backoffDelay(failures: number, opts: BackoffOptions = DEFAULT_BACKOFF): number {
  const n = Math.max(1, Math.min(failures, 30));
  const ceiling = Math.min(opts.maxMs, opts.baseMs * 2 ** (n - 1));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}
