import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { DiscardPolicy, RetentionPolicy, StorageType, jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Registry } from 'prom-client';
import type { LogRecord } from '../../shared/log-record.js';
import type { Logger } from '../../shared/logger.js';
import {
  BusConnection, BusMetrics, BusPublisher, MsgIdSource, appSubject, busNames, busStatsOf, defaultProducerId,
  ensureKvBucket, ensureLogStream, ensureStream, withRetry, type BusConfig,
} from '../../shared/bus/index.js';
import { current } from '../../shared/bus/current.js';
import type { DrainManager } from '../drains/drain-manager.js';
import type { DrainApi, DrainInfo } from '../drains/types.js';
import type { ShuttleCore } from '../shuttle-core.js';
import { AckTracker } from './ack-tracker.js';
import { BusDrainSet } from './bus-drain-set.js';
import { BusIngest } from './bus-ingest.js';
import { registerBusShuttleMetrics } from './bus-shuttle-metrics.js';
import { BusTails } from './bus-tails.js';
import type { BusTuning } from './bus-tuning.js';
import { DrainRegistry } from './drain-registry.js';
import { messageDelivery, type DeliveryCounts } from './message-delivery.js';
import { PartitionConsumer } from './partition-consumer.js';
import { BusUnavailable } from '../../shared/bus/nats-errors.js';
import { PartitionLeases } from './partition-leases.js';
import { PartitionSet } from './partition-set.js';
import { SKIP_DRAINS } from './platform-line.js';

export interface BusShuttleOptions {
  bus: BusConfig;
  tuning: BusTuning;
  /** lines of history per app (`<stream>_HIST`'s max_msgs_per_subject) */
  history: number;
  /** config `drains`: seeded into the registry for apps it does not know */
  seedDrains: Readonly<Record<string, readonly string[]>>;
  core: ShuttleCore;
  drains: DrainManager;
  registry: Registry;
  logger: Logger;
}

/** the outbox depth past which TCP ingest stops reading */
const INGEST_HIGH_WATER = 20_000;

/** Everything bound to one NATS connection: rebuilt when the connection is replaced. */
interface Handles {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  leasesKv: KV;
  drainsKv: KV;
}

/** `<host>-<pid>-<random>`: unique per process, and a valid KV key token. */
function makeReplicaId(): string {
  return `${hostname().replace(/[^A-Za-z0-9_-]/g, '_')}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/**
 * Bus mode, wired: the connection (reconnects for ever), the publisher ingest uses, the setup
 * of the streams and buckets (retried in the background, so the shuttle starts and serves
 * `/readyz` 503 while NATS is away, and catches up once it is there), the drain registry, the
 * partition leases and their consumers, tails from the bus, metrics. DESIGN.md "Log bus".
 */
export class BusShuttle {
  readonly replicaId = makeReplicaId();
  readonly connection: BusConnection;
  readonly publisher: BusPublisher;
  readonly ingest: BusIngest;
  readonly tails: BusTails;
  readonly drainApi: DrainApi;
  /** the core's drain set in bus mode (lines with their stream sequence and ack ticket) */
  readonly drainSet: BusDrainSet;
  private readonly names: ReturnType<typeof busNames>;
  private readonly tracker: AckTracker;
  private readonly delivery: DeliveryCounts = { delivered: 0, bad: new Map() };
  /** the connection's clients and buckets; the parts hold stand-ins (current.ts) that follow it */
  private handles: Handles | null = null;
  private rebinding = false;
  private registryKv: DrainRegistry | null = null;
  private leases: PartitionLeases | null = null;
  private partitions: PartitionSet | null = null;
  private setUp = false;
  private readonly abort = new AbortController();
  private readonly busMetrics: BusMetrics;

  constructor(private readonly o: BusShuttleOptions) {
    const { bus, logger } = o;
    this.names = busNames(bus.stream);
    this.connection = new BusConnection({ servers: bus.servers, credentials: bus.credentials, name: `logshuttle ${this.replicaId}`, logger });
    this.publisher = new BusPublisher({
      connection: this.connection, msgIds: new MsgIdSource(defaultProducerId('logshuttle')), outbox: bus.outbox, logger,
      // lines ingest read but the outbox could not hold (UDP while the bus was away): an L10
      // line in the app's stream, through the bus like any line (drains and tails get it)
      onDropped: (app, count, since) => this.ingest.publish({
        app, source: 'platform', process: 'platform', stream: 'stderr', time: Date.now(),
        message: `Error L10 (output buffer overflow): ${count} messages dropped since ${new Date(since).toISOString()}`,
      }, null),
    });
    this.ingest = new BusIngest(this.publisher, bus.partitions, Math.min(INGEST_HIGH_WATER, Math.max(1, Math.floor(bus.outbox / 2))));
    this.tracker = new AckTracker(o.tuning.holdMs);
    this.drainSet = new BusDrainSet(o.drains);
    this.tails = new BusTails(() => this.handles?.js ?? null, bus.stream, (app) => appSubject(app, bus.partitions), logger);
    const registry = (): DrainRegistry => {
      if (this.registryKv === null) throw new BusUnavailable('the bus is not reachable yet');
      return this.registryKv;
    };
    this.drainApi = {
      add: async (app: string, url: string): Promise<DrainInfo> => registry().add(app, url),
      list: async (app: string): Promise<DrainInfo[]> => registry().list(app),
      remove: async (app: string, id: string): Promise<boolean> => registry().remove(app, id),
    };
    this.busMetrics = new BusMetrics(o.registry, 'edgeplane_shuttle', () => busStatsOf(this.connection, this.publisher));
    registerBusShuttleMetrics(o.registry, {
      ingest: this.ingest.counts,
      delivery: this.delivery,
      tracker: this.tracker,
      owned: () => this.partitions?.partitions().length ?? 0,
      ready: () => this.ready,
      tailsOpen: () => this.tails.open,
    });
  }

  /** connected, with the streams and buckets in place */
  get ready(): boolean {
    return this.setUp && this.connection.ready && this.handles?.nc === this.connection.nc;
  }

  readiness(): { ready: boolean; detail: Record<string, unknown> } {
    return {
      ready: this.ready,
      detail: {
        bus: this.connection.state,
        setUp: this.setUp,
        replica: this.replicaId,
        partitions: this.partitions?.partitions() ?? [],
        outbox: this.publisher.depth,
      },
    };
  }

  /** Connects and sets up in the background; returns at once. */
  start(): void {
    this.connection.on('ready', this.onReady);
    this.connection.start();
    void this.setup().catch((err: unknown) => {
      if (!this.abort.signal.aborted) this.o.logger.error({ err: (err as Error).message }, 'bus setup failed');
    });
  }

  private readonly onRetry = (err: unknown, attempt: number): void => {
    if (attempt === 1 || attempt % 10 === 0) this.o.logger.warn({ err: (err as Error).message, attempt }, 'bus setup: retrying');
  };

  /**
   * The streams and buckets in place on connection `nc` (created if absent: the bus may have
   * lost them all), and the clients and bucket handles on it.
   */
  private async bind(nc: NatsConnection, signal: AbortSignal): Promise<Handles> {
    const { bus, tuning } = this.o;
    const onRetry = this.onRetry;
    await ensureLogStream(nc, bus, { signal, onRetry });
    await this.ensureHistory(nc, signal, onRetry);
    const leasesKv = await ensureKvBucket(nc, this.names.leases, { ttlMs: tuning.leaseTtlMs, replicas: bus.replicas },
      { signal, onRetry, callTimeoutMs: tuning.requestTimeoutMs });
    const drainsKv = await ensureKvBucket(nc, this.names.drains, { replicas: bus.replicas, history: 5 }, { signal, onRetry, callTimeoutMs: 5000 });
    await this.checkLeaseTtl(leasesKv);
    const js = jetstream(nc, { timeout: tuning.requestTimeoutMs });
    const jsm = await jetstreamManager(nc, { timeout: tuning.requestTimeoutMs, checkAPI: false });
    return { nc, js, jsm, leasesKv, drainsKv };
  }

  /** bind() on the connection there is now; again when it is replaced meanwhile. */
  private async bindCurrent(): Promise<Handles> {
    for (;;) {
      const nc = await this.connection.whenReady(this.abort.signal);
      const replaced = new AbortController();
      const onState = (): void => {
        if (this.connection.nc !== nc) replaced.abort();
      };
      this.connection.on('state', onState);
      try {
        return await this.bind(nc, AbortSignal.any([this.abort.signal, replaced.signal]));
      } catch (err) {
        if (this.abort.signal.aborted || !replaced.signal.aborted) throw err;
      } finally {
        this.connection.off('state', onState);
      }
    }
  }

  /**
   * The connection was replaced (the old one closed for good, not a reconnect): the streams and
   * buckets are ensured on the new one and every handle moves to it. The parts hold stand-ins,
   * so their next call (a retried pull, a lease renewal, a watch restarted, a tail resumed) goes
   * to the new connection; the publisher follows the connection by itself.
   */
  private readonly onReady = (nc: NatsConnection): void => {
    if (this.handles === null || this.handles.nc === nc || this.rebinding || this.abort.signal.aborted) return;
    this.rebinding = true;
    this.o.logger.warn({ replica: this.replicaId }, 'bus connection replaced: binding streams, buckets, consumers and watches to the new one');
    void this.bindCurrent().then((h) => {
      this.handles = h;
      this.o.logger.info({ replica: this.replicaId }, 'bus rebound to the new connection');
    }, (err: unknown) => {
      if (!this.abort.signal.aborted) this.o.logger.error({ err: (err as Error).message }, 'bus rebind failed');
    }).finally(() => {
      this.rebinding = false;
      const now = this.connection.nc;
      if (now !== null && this.connection.ready) this.onReady(now);
    });
  };

  private async setup(): Promise<void> {
    const { bus, tuning, logger } = this.o;
    const signal = this.abort.signal;
    const onRetry = this.onRetry;
    this.handles = await this.bindCurrent();
    const h = (): Handles => this.handles!;
    const nc = this.handles.nc;
    if (this.connection.nc !== nc && this.connection.ready) this.onReady(this.connection.nc!);
    const js = current(() => h().js);
    const jsm = current(() => h().jsm);
    const leasesKv = current(() => h().leasesKv);
    const registry = new DrainRegistry(current(() => h().drainsKv), this.o.drains, logger);
    await withRetry(() => registry.seed(this.o.seedDrains), { signal, onRetry });
    registry.start();
    this.registryKv = registry;

    const deliver = messageDelivery(this.o.core, this.drainSet, this.tracker, this.delivery, logger);
    const lag = this.busMetrics.consumerLag;
    this.partitions = new PartitionSet(
      (p) => new PartitionConsumer({ js, jsm, stream: bus.stream, partition: p, tuning, logger, deliver, onLag: (q, n) => lag.set({ partition: String(q) }, n) }),
      this.tracker,
      () => h().nc.flush(),
      (p) => lag.remove({ partition: String(p) }),
    );
    if (signal.aborted) return;
    this.leases = new PartitionLeases({ kv: leasesKv, partitions: bus.partitions, replicaId: this.replicaId, ttlMs: tuning.leaseTtlMs, logger, hooks: this.partitions });
    this.leases.start();
    this.setUp = true;
    logger.info({ replica: this.replicaId, stream: bus.stream, partitions: bus.partitions }, 'bus ready: ingest publishes, partitions are leased');
  }

  /** `<stream>_HIST`: sources the log stream, keeps `history` lines per subject (per app). */
  private async ensureHistory(nc: NatsConnection, signal: AbortSignal, onRetry: (err: unknown, attempt: number) => void): Promise<void> {
    const { bus, history, logger } = this.o;
    const info = await ensureStream(nc, {
      name: this.names.history,
      sources: [{ name: bus.stream }],
      max_msgs_per_subject: history,
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      num_replicas: bus.replicas,
      allow_direct: true,
    }, { signal, onRetry });
    if (info.config.max_msgs_per_subject !== history) {
      await withRetry(async () => {
        const jsm = await jetstreamManager(nc, { timeout: 10000, checkAPI: false });
        await jsm.streams.update(this.names.history, { ...info.config, max_msgs_per_subject: history });
      }, { signal, onRetry });
      logger.info({ stream: this.names.history, history }, 'history stream resized to the config\'s history');
    }
  }

  private async checkLeaseTtl(kv: KV): Promise<void> {
    try {
      const ttl = (await kv.status()).ttl;
      if (ttl !== this.o.tuning.leaseTtlMs) {
        this.o.logger.warn({ bucketTtlMs: ttl, leaseTtlMs: this.o.tuning.leaseTtlMs }, `lease bucket ${this.names.leases} has another TTL than busTuning.leaseTtlMs: leases may expire between renewals; align them`);
      }
    } catch {
      // only a warning
    }
  }

  /**
   * SIGTERM, first step: stop pulling every partition (the pull in hand finished, its lines
   * settled by the drains or `holdMs`, acknowledgements flushed), then release the leases and
   * the membership key so another replica takes over at once.
   */
  async releaseAll(): Promise<void> {
    this.abort.abort();
    await this.leases?.close();
  }

  /**
   * A platform line about this replica's drains (L14): onto the app's subject, marked so that no
   * replica hands it to the drains; every replica's tails and the history show it.
   */
  platformLine(record: LogRecord): void {
    this.ingest.publish(record, null, undefined, SKIP_DRAINS);
  }

  /** Publishes what ingest took, within `ms`. */
  flushIngest(ms: number): Promise<boolean> {
    return this.publisher.flush(ms);
  }

  /** Last step: tails, registry watch, publisher and connection closed. */
  async close(ms: number): Promise<void> {
    this.connection.off('ready', this.onReady);
    this.tails.endAll();
    this.registryKv?.close();
    this.tracker.close();
    await this.publisher.close(Math.max(0, ms));
    await this.connection.close();
  }
}
