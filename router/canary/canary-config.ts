/** One canary as the board and the views know it (normalised from `apps.X.canary`). */
export type CanaryStatuses = '5xx' | '4xx+5xx';

export interface CanaryAbortSettings {
  /** the canary's request count before the test may abort it */
  readonly minRequests: number;
  /** 1 − the false-alarm bound of the sequential test, in (0, 1) */
  readonly confidence: number;
  /** which responses count as errors */
  readonly statuses: CanaryStatuses;
}

export interface CanaryConfig {
  /** the production app `X` whose traffic is split */
  readonly prodApp: string;
  /** `apps.X.canary.app` */
  readonly canaryApp: string;
  /** percent of X's requests (after X's filters) sent to the canary, 0..100 */
  readonly weight: number;
  readonly abort: CanaryAbortSettings;
}

/** Used when `abort` or one of its fields is left out. */
export const DEFAULT_ABORT: CanaryAbortSettings = Object.freeze({
  minRequests: 200, confidence: 0.99, statuses: '5xx' as const,
});

/** True when a reload must start a fresh count: app, weight or abort settings differ. */
export function sameCanary(a: CanaryConfig, b: CanaryConfig): boolean {
  return a.prodApp === b.prodApp && a.canaryApp === b.canaryApp && a.weight === b.weight
    && a.abort.minRequests === b.abort.minRequests && a.abort.confidence === b.abort.confidence
    && a.abort.statuses === b.abort.statuses;
}
