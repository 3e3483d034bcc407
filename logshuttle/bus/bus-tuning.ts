/**
 * The shuttle's own knobs of bus mode (config `busTuning`, every key optional). The defaults
 * suit production; tests shorten them.
 */
export interface BusTuning {
  /** a partition lease lives this long without renewal (the lease bucket's TTL); renewed every third of it */
  readonly leaseTtlMs: number;
  /** the partition consumers' ack wait: a line not acknowledged for this long is redelivered */
  readonly ackWaitMs: number;
  /** a line waits at most this long for its drains before it is acknowledged anyway (< ackWaitMs) */
  readonly holdMs: number;
  /** lines per pull request */
  readonly fetchBatch: number;
  /** how long one pull request waits for lines */
  readonly fetchExpiresMs: number;
  /** lines a partition consumer may have delivered and not yet acknowledged */
  readonly maxAckPending: number;
  /** POST /ingest waits this long for the bus to acknowledge the body's lines, then answers 503 */
  readonly publishDeadlineMs: number;
  /** KV and stream management requests time out after this long */
  readonly requestTimeoutMs: number;
}

export const DEFAULT_BUS_TUNING: BusTuning = Object.freeze({
  leaseTtlMs: 6000,
  ackWaitMs: 6000,
  holdMs: 3000,
  fetchBatch: 256,
  fetchExpiresMs: 1000,
  maxAckPending: 20000,
  publishDeadlineMs: 5000,
  requestTimeoutMs: 2000,
});

/** Why the tuning cannot work, or null. */
export function busTuningProblem(t: BusTuning): string | null {
  if (t.holdMs >= t.ackWaitMs) return 'busTuning.holdMs must be less than busTuning.ackWaitMs (else held lines are redelivered)';
  // a lease is given up a quarter of its TTL before it could expire: a pull must end within that
  if (t.fetchExpiresMs * 4 > t.leaseTtlMs) return 'busTuning.fetchExpiresMs must be at most a quarter of busTuning.leaseTtlMs';
  if (t.requestTimeoutMs * 3 > t.leaseTtlMs * 2) return 'busTuning.requestTimeoutMs must be at most two thirds of busTuning.leaseTtlMs';
  return null;
}
