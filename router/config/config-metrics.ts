import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { RevisionHistory, RevisionSource } from './revision-history.js';

/** How one config change ended. */
export type ApplyResult = 'applied' | 'unchanged' | 'refused' | 'stale' | 'missing' | 'failed';

/**
 * The config metrics of the admin listener's /metrics:
 * - `edgeplane_router_config_revision`: the running revision (gauge);
 * - `edgeplane_router_config_applies_total{source,result}`: every change by source (file, put,
 *   patch, rollback) and result (applied, unchanged, refused = 400, stale = 412 If-Match,
 *   missing = 404 rollback, failed = a worker could not apply it);
 * - `edgeplane_router_config_apply_duration_seconds{source}`: applied changes, from the start
 *   of their turn to every worker switched;
 * - `edgeplane_router_config_revisions_held` and `edgeplane_router_config_revisions_bytes`:
 *   the history (its memory estimate, revision-history.ts);
 * - `edgeplane_router_config_reloads_total{result,trigger}`: kept as before (applied, refused,
 *   failed; an unchanged document is not counted), triggers put, patch, rollback, sighup, watch.
 */
export class ConfigMetrics {
  private readonly applies: Counter<'source' | 'result'>;
  private readonly reloads: Counter<'result' | 'trigger'>;
  private readonly revisionGauge: Gauge;
  private readonly duration: Histogram<'source'>;

  constructor(registry: Registry, history: () => RevisionHistory) {
    const registers = [registry];
    this.reloads = new Counter({ name: 'edgeplane_router_config_reloads_total',
      help: 'Config reloads by result (applied, refused, failed) and trigger (put, patch, rollback, sighup, watch).', labelNames: ['result', 'trigger'], registers });
    this.applies = new Counter({ name: 'edgeplane_router_config_applies_total',
      help: 'Config changes by source (file, put, patch, rollback) and result (applied, unchanged, refused, stale, missing, failed).',
      labelNames: ['source', 'result'], registers });
    this.revisionGauge = new Gauge({ name: 'edgeplane_router_config_revision', help: 'The running config revision (1, 2, ... per process start).', registers });
    this.duration = new Histogram({ name: 'edgeplane_router_config_apply_duration_seconds',
      help: 'Applied config changes: validation, compile and every worker switched.', labelNames: ['source'], registers,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] });
    new Gauge({ name: 'edgeplane_router_config_revisions_held', help: 'Config revisions held for rollback (at most 20).', registers,
      collect() { this.set(history().size); } });
    new Gauge({ name: 'edgeplane_router_config_revisions_bytes',
      help: 'Estimated memory of the held revisions: compact-JSON bytes of their distinct parts (parts shared by revisions counted once).', registers,
      collect() { this.set(history().bytes()); } });
  }

  revision(n: number): void {
    this.revisionGauge.set(n);
  }

  outcome(source: RevisionSource, trigger: string, result: ApplyResult, seconds?: number): void {
    this.applies.inc({ source, result });
    if (result === 'applied' || result === 'refused' || result === 'failed') this.reloads.inc({ result, trigger });
    if (seconds !== undefined) this.duration.observe({ source }, seconds);
  }
}
