import type { Registry } from 'prom-client';
import { ConfigMetrics, type ApplyResult } from '../config/config-metrics.js';
import type { RevisionHistory, RevisionSource } from '../config/revision-history.js';

/** One config change as the dashboard lists it. */
export interface ReloadEntry {
  /** ISO 8601, UTC */
  time: string;
  /** what asked: put, patch, rollback, sighup, watch */
  trigger: string;
  source: RevisionSource;
  /** applied, unchanged, refused (invalid), stale (If-Match), missing (rollback), failed (a worker could not apply it) */
  result: ApplyResult;
  /** the running revision afterwards (the new one when applied) */
  revision: number;
  /** applied: from the start of its turn to every worker switched */
  ms?: number;
}

export const RELOADS_KEPT = 20;

/**
 * The config metrics (config-metrics.ts), and the last 20 outcomes of config changes kept for
 * the dashboard: every change the ReloadOwner ends reaches its metrics' outcome(), so this is
 * the one place that sees all of them (file, SIGHUP, PUT, PATCH, rollback; refused and failed
 * included). `revision()` reads the running revision when the outcome is recorded (an applied
 * change's revision is already recorded then).
 */
export class ReloadLog extends ConfigMetrics {
  private readonly entries: ReloadEntry[] = [];

  constructor(registry: Registry, private readonly history: () => RevisionHistory, private readonly now: () => number = Date.now) {
    super(registry, history);
  }

  override outcome(source: RevisionSource, trigger: string, result: ApplyResult, seconds?: number): void {
    super.outcome(source, trigger, result, seconds);
    let revision = 0;
    try {
      revision = this.history().current.revision;
    } catch { /* no revision yet */ }
    const entry: ReloadEntry = { time: new Date(this.now()).toISOString(), trigger, source, result, revision };
    if (seconds !== undefined) entry.ms = Math.round(seconds * 10000) / 10;
    this.entries.push(entry);
    if (this.entries.length > RELOADS_KEPT) this.entries.shift();
  }

  /** The last changes, newest first. */
  list(): ReloadEntry[] {
    return [...this.entries].reverse();
  }
}
