import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { counterCatchUp } from './counter-catch-up.js';
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
  const catchUp = counterCatchUp();
  new Counter({
    name: 'edgeplane_shuttle_lines_in_total',
    help: 'Lines accepted, by ingest and source (after splitting at 10,000 bytes)',
    labelNames: ['ingest', 'source'],
    registers: [registry],
    collect() {
      for (const e of core.linesInEntries()) catchUp(this, `in\0${e.ingest}\0${e.source}`, { ingest: e.ingest, source: e.source }, e.count);
    },
  });
  new Counter({
    name: 'edgeplane_shuttle_bad_input_total',
    help: 'Input skipped as invalid, by ingest and reason',
    labelNames: ['ingest', 'reason'],
    registers: [registry],
    collect() {
      for (const e of bad.entries()) catchUp(this, `bad\0${e.ingest}\0${e.reason}`, { ingest: e.ingest, reason: e.reason }, e.count);
    },
  });
  new Gauge({
    name: 'edgeplane_shuttle_tails_open',
    help: 'Live tails open',
    registers: [registry],
    collect() {
      this.set(core.tails.open);
    },
  });
  new Counter({
    name: 'edgeplane_shuttle_tail_dropped_total',
    help: 'Lines dropped for tail clients that did not keep up (reported to them as L11)',
    registers: [registry],
    collect() {
      catchUp(this, 'tail-dropped', {}, core.tails.droppedTotal());
    },
  });
  new Gauge({
    name: 'edgeplane_shuttle_apps',
    help: 'Apps with a ring buffer',
    registers: [registry],
    collect() {
      this.set(core.rings.appCount);
    },
  });
  new Counter({
    name: 'edgeplane_shuttle_apps_evicted_total',
    help: 'App ring buffers dropped: idle (appIdleMs), or least recently written past maxApps / maxRingBytes',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      const ev = core.rings.evictedApps;
      for (const reason of Object.keys(ev) as Array<keyof typeof ev>) catchUp(this, `ev\0${reason}`, { reason }, ev[reason]);
    },
  });
  new Counter({
    name: 'edgeplane_shuttle_evicted_app_lines_total',
    help: 'Lines that were held in the ring buffers of evicted apps',
    registers: [registry],
    collect() {
      catchUp(this, 'ev-lines', {}, core.rings.evictedLines);
    },
  });
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
