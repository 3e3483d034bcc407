import { isAbsolute, resolve } from 'node:path';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../../shared/logger.js';
import type { BusConfig } from '../../shared/bus/bus-config.js';
import { BusConnection } from '../../shared/bus/connection.js';
import { ensureKvBucket } from '../../shared/bus/ensure.js';
import { createKey, type KV } from '../../shared/bus/kv.js';
import type { CanaryBoard } from '../canary/canary-board.js';
import type { RateLimitMemory } from '../filters/rate-limit-table.js';
import type { AccessLogSink } from '../access-log/access-log-sink.js';
import { clusterNames, routerId, type ClusterNames } from './cluster-names.js';
import { PodCounts, parseCountsMessage } from './pod-counts.js';
import { CanaryCluster, parseAbortMessage, type AbortMessage, type ClusterCanarySnapshot } from './canary-cluster.js';
import { RateLimitShare } from './rate-limit-share.js';

/** how often a router publishes its counts (the contract: at least once a second) */
export const TICK_MS = 500;
/** a router silent this long drops out of the sums and of the rate-limit share */
export const SILENT_MS = 5000;

export interface RouterClusterOptions {
  bus: BusConfig;
  baseDir: string;
  board: CanaryBoard;
  rateLimits: RateLimitMemory;
  /** where this router's own abort lines go (the same kind of sink its workers use) */
  sink: AccessLogSink;
  registry: Registry;
  logger: Logger;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function decode(data: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(data));
  } catch {
    return null;
  }
}

/**
 * The routers of one bus as one (docs/router/cluster.md), run by the main thread of each router
 * process with a bus: its own NATS connection (the workers' access-log connections are theirs),
 * a tick every TICK_MS that publishes this router's canary counts (also its heartbeat), drops
 * the routers silent for SILENT_MS, runs the cluster's canary decisions (canary-cluster.ts) and
 * sets the rate-limit share (rate-limit-share.ts). The bus down: the workers decide canaries
 * locally again (the board is no longer deferred), `GET /canaries` says `scope: local`, the
 * gauge `edgeplane_router_cluster_connected` is 0.
 */
export class RouterCluster {
  readonly id = routerId();
  private readonly names: ClusterNames;
  private readonly connection: BusConnection;
  private readonly pods: PodCounts;
  private readonly canaries: CanaryCluster;
  private readonly share: RateLimitShare;
  private readonly abortCtl = new AbortController();
  private kv: KV | null = null;
  private subs: Subscription[] = [];
  private timer: ReturnType<typeof setInterval> | null = null;
  private ensuring = false;

  constructor(private readonly o: RouterClusterOptions) {
    this.names = clusterNames(o.bus.stream);
    const credentials = o.bus.credentials === null ? null : isAbsolute(o.bus.credentials) ? o.bus.credentials : resolve(o.baseDir, o.bus.credentials);
    this.connection = new BusConnection({ servers: o.bus.servers, credentials, name: `router-cluster.${this.id}`, logger: o.logger, maxBackoffMs: 2000 });
    this.pods = new PodCounts(this.id, SILENT_MS);
    this.share = new RateLimitShare(o.rateLimits);
    const aborts = new Counter({ name: 'edgeplane_router_cluster_canary_aborts_total', help: 'Canary aborts of the cluster obeyed by this router, by where they were decided.', labelNames: ['decided'], registers: [o.registry] });
    this.canaries = new CanaryCluster(o.board, this.pods, {
      routerId: this.id,
      connected: () => this.connection.ready,
      publishAbort: (m) => this.publish(this.names.abort, m),
      storeAbort: (m) => this.storeAbort(m),
      writeLine: (app, line, time) => o.sink.write(app, line, time),
      logger: o.logger,
      onAbort: (decided) => aborts.inc({ decided }),
    });
    const connected = new Gauge({ name: 'edgeplane_router_cluster_connected', help: '1: canaries are decided on the counts of every router on the bus; 0: the bus is down, this router decides alone.', registers: [o.registry] });
    connected.set(0);
    const { pods, share } = this;
    new Gauge({ name: 'edgeplane_router_cluster_routers', help: 'Routers heard on the bus within the last 5 s, this one included.', registers: [o.registry],
      collect() { this.set(1 + pods.others); } });
    new Gauge({ name: 'edgeplane_router_cluster_ratelimit_share', help: 'Rate limits are divided by this many routers (each enforces ceil(limit / N)).', registers: [o.registry],
      collect() { this.set(share.routers); } });
    this.connection.on('state', () => connected.set(this.connection.ready ? 1 : 0));
    this.connection.on('ready', this.onReady);
    this.connection.on('not-ready', this.onNotReady);
  }

  start(): void {
    this.connection.start();
    this.timer = setInterval(this.tick, TICK_MS);
    this.timer.unref();
  }

  /** `GET /canaries` with a bus: cluster sums (or local counts while the bus is down). */
  snapshot(): ClusterCanarySnapshot[] {
    return this.canaries.snapshot();
  }

  private readonly onReady = (nc: NatsConnection): void => {
    // the cluster decides from now on; the workers only count
    this.o.board.setDeferred(true);
    this.canaries.reconnected();
    for (const s of this.subs) s.unsubscribe();
    this.subs = [
      nc.subscribe(this.names.counts, { callback: (_err, msg) => {
        const m = parseCountsMessage(decode(msg.data));
        if (m === null) return;
        this.pods.update(m, Date.now());
        if (m.router !== this.id) this.canaries.evaluate(false);
      } }),
      nc.subscribe(this.names.abort, { callback: (_err, msg) => {
        const m = parseAbortMessage(decode(msg.data));
        if (m !== null && m.router !== this.id) this.canaries.onAbortMessage(m, 'message');
      } }),
      // a router that (re)connects: answer with our counts at once (it learns the fleet's size in a round trip)
      nc.subscribe(this.names.hello, { callback: (_err, msg) => {
        if (decoder.decode(msg.data) !== this.id) this.publishCounts();
      } }),
    ];
    nc.publish(this.names.hello, encoder.encode(this.id));
    this.publishCounts();
    this.ensureKv(nc);
  };

  private readonly onNotReady = (): void => {
    // local decisions until the bus is back (the rate-limit share keeps its last value)
    this.o.board.setDeferred(false);
    this.o.logger.warn('bus down: canaries are decided by this router alone until it is back');
  };

  private readonly tick = (): void => {
    if (!this.connection.ready) return;
    const gone = this.pods.prune(Date.now());
    if (gone.length > 0) this.o.logger.info({ routers: gone }, 'routers silent for 5 s dropped from the cluster');
    this.publishCounts();
    this.share.update(1 + this.pods.others);
    this.canaries.evaluate(true);
    const kv = this.kv;
    if (kv !== null) {
      this.canaries.checkStored(async (app, key) => {
        const e = await kv.get(`${app}.${key}`);
        return e === null || e.operation !== 'PUT' ? null : parseAbortMessage(decode(e.value));
      }).catch((err: unknown) => this.o.logger.warn({ err: (err as Error).message }, 'cluster: cannot read canary aborts from KV yet'));
    }
  };

  private publishCounts(): void {
    this.publish(this.names.counts, this.canaries.counts());
  }

  private publish(subject: string, body: unknown): void {
    const nc = this.connection.nc;
    if (nc === null || !this.connection.ready) return;
    try {
      nc.publish(subject, encoder.encode(JSON.stringify(body)));
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message, subject }, 'cluster: publish failed');
    }
  }

  private ensureKv(nc: NatsConnection): void {
    if (this.kv !== null || this.ensuring) return;
    this.ensuring = true;
    ensureKvBucket(nc, this.names.abortsBucket, { replicas: this.o.bus.replicas, history: 1 }, { signal: this.abortCtl.signal }).then(
      (kv) => { this.kv = kv; },
      (err: unknown) => { if (!this.abortCtl.signal.aborted) this.o.logger.error({ err: (err as Error).message, bucket: this.names.abortsBucket }, 'cluster: the canary aborts bucket cannot be used'); },
    ).finally(() => { this.ensuring = false; });
  }

  private async storeAbort(m: AbortMessage): Promise<boolean> {
    const kv = this.kv;
    if (kv === null) return false;
    try {
      // the first abort of a key is kept (a second router deciding it too changes nothing)
      await createKey(kv, `${m.app}.${m.key}`, JSON.stringify(m));
      return true;
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message, app: m.app }, 'cluster: cannot store a canary abort in KV yet; retrying');
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.abortCtl.abort();
    for (const s of this.subs) s.unsubscribe();
    await this.o.sink.close?.();
    await this.connection.close();
  }
}
