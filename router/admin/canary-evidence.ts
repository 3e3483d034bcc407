import type { CanarySnapshot } from '../canary/canary-board.js';
import type { BoardDescription } from '../canary/board-layout.js';
import { abortThreshold, logEvidence } from '../canary/sequential-test.js';

/** A canary as the dashboard shows it: GET /canaries' entry, its settings, and the test's evidence. */
export interface CanaryWithEvidence extends CanarySnapshot {
  weight: number;
  minRequests: number;
  confidence: number;
  statuses: string;
  /** the sequential test (canary/sequential-test.ts) as of the counts shown */
  test: {
    /** ln of the mixture likelihood ratio: evidence that the canary errs more than production */
    evidence: number;
    /** the level at which the canary is aborted: ln(1 / (1 - confidence)) */
    threshold: number;
    /** the canary has minRequests requests (before that, no evidence aborts it) */
    minRequestsReached: boolean;
  };
}

/** Joins GET /canaries' entries with the board's settings and recomputes the test's evidence. */
export function canariesWithEvidence(snapshot: readonly CanarySnapshot[], board: BoardDescription): CanaryWithEvidence[] {
  const entries = new Map(board.canaries.map((e) => [e.prodApp, e]));
  const out: CanaryWithEvidence[] = [];
  for (const c of snapshot) {
    const e = entries.get(c.app);
    if (e === undefined) continue;
    const evidence = logEvidence(c.counts.canary.errors, c.counts.production.errors, e.weight / 100);
    out.push({
      ...c, weight: e.weight, minRequests: e.minRequests, confidence: e.confidence, statuses: e.statuses,
      test: {
        evidence: Math.round(evidence * 1000) / 1000,
        threshold: Math.round(abortThreshold(e.confidence) * 1000) / 1000,
        minRequestsReached: c.counts.canary.requests >= e.minRequests,
      },
    });
  }
  return out;
}
