import { Gauge, type Registry } from 'prom-client';
import { totalsCounter } from '../counter-catch-up.js';
import type { AckTracker } from './ack-tracker.js';
import type { BusIngestCounts } from './bus-ingest.js';
import type { DeliveryCounts } from './message-delivery.js';

export interface BusShuttleView {
  ingest: BusIngestCounts;
  delivery: DeliveryCounts;
  tracker: AckTracker;
  owned(): number;
  ready(): boolean;
  tailsOpen(): number;
}

/**
 * The shuttle's own bus metrics (`edgeplane_shuttle_bus_*`, beside the client's from
 * shared/bus): lines published by ingest, lines delivered from the partitions, bad messages
 * skipped, acknowledgements (after the drains wrote the line, or when `holdMs` ran out),
 * partitions owned, readiness, live tails fed from the bus.
 */
export function registerBusShuttleMetrics(registry: Registry, v: BusShuttleView): void {
  totalsCounter(registry, 'edgeplane_shuttle_bus_ingest_lines_total', 'Lines ingest published to the bus, by ingest', ['ingest'],
    () => Object.entries(v.ingest.published).map(([ingest, n]) => [{ ingest }, n] as const));
  totalsCounter(registry, 'edgeplane_shuttle_bus_ingest_lost_total', 'Lines ingest could not publish (outbox full, refused, or stopped first)', [],
    () => [[{}, v.ingest.lost]]);
  totalsCounter(registry, 'edgeplane_shuttle_bus_delivered_total', 'Lines taken from the owned partitions into the core (ring, tails, drains)', [],
    () => [[{}, v.delivery.delivered]]);
  totalsCounter(registry, 'edgeplane_shuttle_bus_bad_messages_total', 'Messages on the bus that were not a valid msgpack log record: acknowledged and skipped', ['reason'],
    () => Array.from(v.delivery.bad, ([reason, n]) => [{ reason }, n] as const));
  totalsCounter(registry, 'edgeplane_shuttle_bus_acks_total', 'Messages acknowledged to the bus: after every drain wrote the line (drains) or once holdMs ran out with the line queued (hold)', ['after'],
    () => [[{ after: 'drains' }, v.tracker.counts.acked - v.tracker.counts.forced], [{ after: 'hold' }, v.tracker.counts.forced]]);
  new Gauge({ name: 'edgeplane_shuttle_bus_partitions_owned', help: 'Partitions this replica holds the lease of and pulls', registers: [registry], collect() { this.set(v.owned()); } });
  new Gauge({ name: 'edgeplane_shuttle_bus_ready', help: '1 when connected to the bus with its streams and buckets in place', registers: [registry], collect() { this.set(v.ready() ? 1 : 0); } });
  new Gauge({ name: 'edgeplane_shuttle_bus_tails_open', help: 'Live tails fed from the bus', registers: [registry], collect() { this.set(v.tailsOpen()); } });
}
