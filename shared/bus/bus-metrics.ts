import { Counter, Gauge, type Registry } from 'prom-client';
import type { BusConnection } from './connection.js';
import type { BusPublisher, PublisherStats } from './publisher.js';

/**
 * The bus's metrics, one set of names for both programs (`<prefix>_bus_*`, prefix
 * `edgeplane_router` or `edgeplane_logshuttle`). The publisher and connection keep plain
 * counters (a router worker thread has no registry); a snapshot of them is summed over
 * workers by the router and rendered as text (renderBusMetricsText), or collected by
 * prom-client in the shuttle (BusMetrics). Consumer lag is set by the shuttle.
 */
export interface BusStatsSnapshot extends PublisherStats {
  /** bus clients (router worker threads, shuttle process) */
  clients: number;
  /** of those, connected now */
  connected: number;
  /** reconnections after a loss, summed */
  reconnects: number;
}

export function emptyBusStats(): BusStatsSnapshot {
  return { clients: 0, connected: 0, reconnects: 0, published: 0, acked: 0, duplicates: 0, retried: 0,
    droppedOverflow: 0, droppedRejected: 0, depth: 0, inFlight: 0 };
}

/** One client's snapshot (a publisher is optional: a consumer-only client has none). */
export function busStatsOf(connection: BusConnection, publisher?: BusPublisher): BusStatsSnapshot {
  const c = connection.stats();
  return { ...emptyBusStats(), ...publisher?.stats(), clients: 1, connected: c.connected ? 1 : 0, reconnects: c.reconnects };
}

/** Sums snapshots (router worker threads); undefined entries are skipped. */
export function sumBusStats(snaps: readonly (BusStatsSnapshot | undefined | null)[]): BusStatsSnapshot | null {
  let out: BusStatsSnapshot | null = null;
  for (const s of snaps) {
    if (!s) continue;
    out ??= emptyBusStats();
    for (const k of Object.keys(out) as (keyof BusStatsSnapshot)[]) out[k] += s[k];
  }
  return out;
}

interface MetricDef { name: string; help: string; type: 'counter' | 'gauge'; values: (s: BusStatsSnapshot) => [string, number][] }

const DEFS: readonly MetricDef[] = [
  { name: 'bus_clients', type: 'gauge', help: 'Bus clients (one per router worker thread or shuttle process).', values: (s) => [['', s.clients]] },
  { name: 'bus_connected', type: 'gauge', help: 'Bus clients connected to a NATS server now.', values: (s) => [['', s.connected]] },
  { name: 'bus_reconnects_total', type: 'counter', help: 'Bus connections re-established after a loss.', values: (s) => [['', s.reconnects]] },
  { name: 'bus_published_total', type: 'counter', help: 'Messages handed to the bus publisher.', values: (s) => [['', s.published]] },
  { name: 'bus_acked_total', type: 'counter', help: 'Messages the stream acknowledged (stored).', values: (s) => [['', s.acked]] },
  { name: 'bus_duplicates_total', type: 'counter', help: 'Acks for a resend the stream already held (deduplicated by Nats-Msg-Id).', values: (s) => [['', s.duplicates]] },
  { name: 'bus_retried_total', type: 'counter', help: 'Sends of a message after a failed attempt.', values: (s) => [['', s.retried]] },
  { name: 'bus_dropped_total', type: 'counter', help: 'Messages dropped: outbox full (overflow, reported as L10) or refused by the server / publisher closed (rejected).',
    values: (s) => [['reason="overflow"', s.droppedOverflow], ['reason="rejected"', s.droppedRejected]] },
  { name: 'bus_outbox_depth', type: 'gauge', help: 'Messages held by the publisher now (queued, in flight, waiting to be resent).', values: (s) => [['', s.depth]] },
  { name: 'bus_in_flight', type: 'gauge', help: 'Publishes awaiting their ack now.', values: (s) => [['', s.inFlight]] },
];

/** Prometheus text for a snapshot (the router renders its summed workers with this). */
export function renderBusMetricsText(prefix: string, s: BusStatsSnapshot): string {
  const out: string[] = [];
  for (const d of DEFS) {
    const name = `${prefix}_${d.name}`;
    out.push(`# HELP ${name} ${d.help}`, `# TYPE ${name} ${d.type}`);
    for (const [labels, v] of d.values(s)) out.push(labels ? `${name}{${labels}} ${v}` : `${name} ${v}`);
  }
  return out.join('\n') + '\n';
}

/**
 * The same metrics in a prom-client registry (the shuttle), read from `source` at each scrape,
 * plus `<prefix>_bus_consumer_lag{partition}`: messages of a partition not yet consumed by
 * this process, which the consumer sets.
 */
export class BusMetrics {
  readonly consumerLag: Gauge<'partition'>;

  constructor(registry: Registry, prefix: string, source: () => BusStatsSnapshot) {
    for (const d of DEFS) {
      const labelNames = d.name === 'bus_dropped_total' ? ['reason'] : [];
      const collect = function (this: Gauge<string> | Counter<string>): void {
        const s = source();
        this.reset();
        for (const [labels, v] of d.values(s)) {
          const l = labels ? { reason: labels.slice('reason="'.length, -1) } : {};
          if (this instanceof Gauge) this.set(l, v);
          else (this as Counter<string>).inc(l, v);
        }
      };
      const cfg = { name: `${prefix}_${d.name}`, help: d.help, labelNames, registers: [registry], collect };
      if (d.type === 'gauge') new Gauge(cfg);
      else new Counter(cfg);
    }
    this.consumerLag = new Gauge({ name: `${prefix}_bus_consumer_lag`, help: 'Messages of a partition not yet consumed by this process.',
      labelNames: ['partition'], registers: [registry] });
  }
}
