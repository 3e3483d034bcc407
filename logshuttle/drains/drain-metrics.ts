import { Counter, Gauge, type Registry } from 'prom-client';
import type { DrainStats } from './drain-context.js';
import type { FrameQueue } from './frame-queue.js';

/** What the metrics read of one drain at scrape time. */
export interface DrainView {
  app: string;
  id: string;
  scheme: string;
  stats: DrainStats;
  queue: FrameQueue;
}

/**
 * Per-drain metrics, computed at scrape time from plain counters (no label lookups on the
 * per-line path). Labels: app, drain (id), scheme.
 *   edgeplane_shuttle_drain_delivered_total        lines handed to the drain
 *   edgeplane_shuttle_drain_dropped_total{reason}  overflow (queue full, reported by L10), rejected (HTTPS 4xx)
 *   edgeplane_shuttle_drain_truncated_total        UDP lines cut to 2,048 bytes
 *   edgeplane_shuttle_drain_retries_total          reconnects and HTTPS retries
 *   edgeplane_shuttle_drain_queue_depth            lines waiting in the drain's queue
 *   edgeplane_shuttle_drain_connected              1 when connected
 */
export function registerDrainMetrics(registry: Registry, views: () => Iterable<DrainView>): void {
  const labelNames = ['app', 'drain', 'scheme'] as const;
  const labels = (v: DrainView) => ({ app: v.app, drain: v.id, scheme: v.scheme });
  new Counter({
    name: 'edgeplane_shuttle_drain_delivered_total',
    help: 'Log lines delivered to a drain',
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const v of views()) this.inc(labels(v), v.stats.delivered);
    },
  });
  new Counter({
    name: 'edgeplane_shuttle_drain_dropped_total',
    help: 'Log lines a drain lost: overflow of its queue (reported by L10) or rejected by the peer (HTTPS 4xx)',
    labelNames: [...labelNames, 'reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const v of views()) {
        this.inc({ ...labels(v), reason: 'overflow' }, v.queue.droppedTotal);
        this.inc({ ...labels(v), reason: 'rejected' }, v.stats.rejected);
      }
    },
  });
  new Counter({
    name: 'edgeplane_shuttle_drain_truncated_total',
    help: 'Log lines cut to the UDP datagram limit (2,048 bytes)',
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const v of views()) this.inc(labels(v), v.stats.truncated);
    },
  });
  new Counter({
    name: 'edgeplane_shuttle_drain_retries_total',
    help: 'Drain reconnects and HTTPS retries',
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const v of views()) this.inc(labels(v), v.stats.retries);
    },
  });
  new Gauge({
    name: 'edgeplane_shuttle_drain_queue_depth',
    help: 'Log lines waiting in a drain queue',
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const v of views()) this.set(labels(v), v.queue.size);
    },
  });
  new Gauge({
    name: 'edgeplane_shuttle_drain_connected',
    help: '1 when the drain is connected',
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const v of views()) this.set(labels(v), v.stats.connected ? 1 : 0);
    },
  });
}
