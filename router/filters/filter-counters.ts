import type { FilterCode } from './filter-codes.js';

/** One filter's counts in one worker: requests it let through, and refusals by code. */
export interface FilterCount {
  passed: number;
  refused: Partial<Record<FilterCode, number>>;
}

/** `filter` name, `type`, and the counts: one entry of a worker's snapshot. */
export interface FilterCountEntry {
  readonly filter: string;
  readonly type: string;
  readonly passed: number;
  readonly refused: Partial<Record<FilterCode, number>>;
}

/**
 * Per-worker counters of the edge filters (keyauth, ratelimit, firewall, openapi), by filter
 * name and type; they outlive config reloads (the FilterFactory holds them), so a reload does
 * not reset a counter. A filter keeps its FilterCount and bumps plain fields per request.
 * The main thread sums the workers' snapshots for `/metrics` (mergeFilterCounts).
 */
export class FilterCounters {
  private readonly counts = new Map<string, { filter: string; type: string; count: FilterCount }>();

  for(filter: string, type: string): FilterCount {
    const key = `${type}\u0000${filter}`;
    let e = this.counts.get(key);
    if (e === undefined) {
      e = { filter, type, count: { passed: 0, refused: {} } };
      this.counts.set(key, e);
    }
    return e.count;
  }

  snapshot(): FilterCountEntry[] {
    return [...this.counts.values()].map((e) => ({ filter: e.filter, type: e.type, passed: e.count.passed, refused: { ...e.count.refused } }));
  }
}

/** Counts a refusal. */
export function countRefusal(c: FilterCount, code: FilterCode): void {
  c.refused[code] = (c.refused[code] ?? 0) + 1;
}

/** The workers' snapshots summed by filter and type. */
export function mergeFilterCounts(snaps: readonly (readonly FilterCountEntry[] | undefined)[]): FilterCountEntry[] {
  const out = new Map<string, { filter: string; type: string; passed: number; refused: Partial<Record<FilterCode, number>> }>();
  for (const snap of snaps) {
    for (const e of snap ?? []) {
      const key = `${e.type}\u0000${e.filter}`;
      let m = out.get(key);
      if (m === undefined) {
        m = { filter: e.filter, type: e.type, passed: 0, refused: {} };
        out.set(key, m);
      }
      m.passed += e.passed;
      for (const [code, n] of Object.entries(e.refused) as [FilterCode, number][]) m.refused[code] = (m.refused[code] ?? 0) + n;
    }
  }
  return [...out.values()];
}

function label(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Prometheus text: `edgeplane_router_filter_passed_total` and `edgeplane_router_filter_refusals_total`. */
export function renderFilterCounts(entries: readonly FilterCountEntry[]): string {
  const out: string[] = [];
  out.push('# HELP edgeplane_router_filter_passed_total Requests an edge filter let through, by filter and type.');
  out.push('# TYPE edgeplane_router_filter_passed_total counter');
  for (const e of entries) out.push(`edgeplane_router_filter_passed_total{filter="${label(e.filter)}",type="${e.type}"} ${e.passed}`);
  out.push('# HELP edgeplane_router_filter_refusals_total Requests an edge filter refused, by filter, type and code.');
  out.push('# TYPE edgeplane_router_filter_refusals_total counter');
  for (const e of entries) {
    for (const [code, n] of Object.entries(e.refused)) out.push(`edgeplane_router_filter_refusals_total{filter="${label(e.filter)}",type="${e.type}",code="${code}"} ${n}`);
  }
  return out.join('\n') + '\n';
}
