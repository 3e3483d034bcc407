import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where each scenario's figures land: one JSON file per scenario, rewritten on every run. */
export const RESULTS_DIR = join(tmpdir(), 'edgeplane-reliability');

/** The figures every fault scenario reports (docs/reliability.md), plus scenario-specific ones. */
export interface Figures {
  requestsSent: number;
  requestsFailed: number;
  linesSent: number;
  linesDelivered: number;
  linesDroppedReported: number;
  [extra: string]: unknown;
}

interface Commenter {
  comment(...args: unknown[]): void;
}

/**
 * Reports a scenario's figures: a tap comment (visible in the run's output) and one JSON line
 * in `$TMPDIR/edgeplane-reliability/<name>.json`. Returns the path written.
 */
export function report(t: Commenter, name: string, figures: Figures): string {
  const line = JSON.stringify({ scenario: name, at: new Date().toISOString(), ...figures });
  t.comment(`reliability ${line}`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${name}.json`);
  writeFileSync(file, line + '\n');
  return file;
}
