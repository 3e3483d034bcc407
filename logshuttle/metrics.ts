import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { totalsCounter } from './counter-catch-up.js';
import type { ShuttleCore } from './shuttle-core.js';
import type { BadInput } from './ingest/bad-input.js';

/**
 * The shuttle's Prometheus metrics on its own Registry, every name prefixed `edgeplane_shuttle_`
 * (process metrics `edgeplane_shuttle_process_`, drains `edgeplane_shuttle_drain_`; the router
 * uses `edgeplane_router_`). Hot-path counts live in plain numbers in the core; they are copied
 * into the metrics when scraped.
 */
export function createShuttleMetrics(core: ShuttleCore, bad: BadInput): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'edgeplane_shuttle_process_' });
  totalsCounter(registry, 'edgeplane_shuttle_lines_in_total', 'Lines accepted, by ingest and source (after splitting at 10,000 bytes)', ['ingest', 'source'],
    () => Array.from(core.linesInEntries(), (e) => [{ ingest: e.ingest, source: e.source }, e.count] as const));
  totalsCounter(registry, 'edgeplane_shuttle_bad_input_total', 'Input skipped as invalid, by ingest and reason', ['ingest', 'reason'],
    () => Array.from(bad.entries(), (e) => [{ ingest: e.ingest, reason: e.reason }, e.count] as const));
  new Gauge({
    name: 'edgeplane_shuttle_tails_open',
    help: 'Live tails open',
    registers: [registry],
    collect() {
      this.set(core.tails.open);
    },
  });
  totalsCounter(registry, 'edgeplane_shuttle_tail_dropped_total', 'Lines dropped for tail clients that did not keep up (reported to them as L11)', [],
    () => [[{}, core.tails.droppedTotal()]]);
  new Gauge({
    name: 'edgeplane_shuttle_apps',
    help: 'Apps with a ring buffer',
    registers: [registry],
    collect() {
      this.set(core.rings.appCount);
    },
  });
  totalsCounter(registry, 'edgeplane_shuttle_apps_evicted_total', 'App ring buffers dropped: idle (appIdleMs), or least recently written past maxApps / maxRingBytes', ['reason'],
    () => Object.entries(core.rings.evictedApps).map(([reason, n]) => [{ reason }, n] as const));
  totalsCounter(registry, 'edgeplane_shuttle_evicted_app_lines_total', 'Lines that were held in the ring buffers of evicted apps', [],
    () => [[{}, core.rings.evictedLines]]);
  new Gauge({
    name: 'edgeplane_shuttle_ring_lines',
    help: 'Lines held in ring buffers',
    registers: [registry],
    collect() {
      this.set(core.rings.totals().lines);
    },
  });
  new Gauge({
    name: 'edgeplane_shuttle_ring_bytes',
    help: 'Ring buffer memory: bytes of the lines held (held) and bytes allocated for them (allocated)',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      const t = core.rings.totals();
      this.set({ kind: 'held' }, t.bytesHeld);
      this.set({ kind: 'allocated' }, t.bytesAllocated);
    },
  });
  return registry;
}
