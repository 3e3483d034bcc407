import { CODES } from '../../shared/codes.js';
import type { CanaryAbortEvent } from './canary-view.js';

const HEAD = `at=error code=canary_abort desc="${CODES.canary_abort.desc}"`;

/**
 * The router log line of a canary abort, for both apps' streams (source `router`), in the
 * key=value style of DESIGN.md "Router log line":
 * `at=error code=canary_abort desc="Canary aborted" app=api-prod canary=api-canary
 *  canary_requests=212 canary_errors=31 canary_rate=0.1462 production_requests=1890
 *  production_errors=19 production_rate=0.0101 weight=10 confidence=0.99`
 */
export function formatCanaryAbortLine(e: CanaryAbortEvent): string {
  const { canary, production } = e.counts;
  return `${HEAD} app=${e.prodApp} canary=${e.canaryApp}`
    + ` canary_requests=${canary.requests} canary_errors=${canary.errors} canary_rate=${e.rates.canary.toFixed(4)}`
    + ` production_requests=${production.requests} production_errors=${production.errors}`
    + ` production_rate=${e.rates.production.toFixed(4)} weight=${e.weight} confidence=${e.confidence}`;
}
