import { isAbsolute, resolve } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../../shared/logger.js';
import { encodeLogRecord } from '../../shared/msgpack-record.js';
import type { BusConfig } from '../../shared/bus/bus-config.js';
import { BusConnection } from '../../shared/bus/connection.js';
import { ensureLogStream } from '../../shared/bus/ensure.js';
import { BusPublisher } from '../../shared/bus/publisher.js';
import { MsgIdSource, defaultProducerId } from '../../shared/bus/msg-id.js';
import { subjectFor } from '../../shared/bus/partition.js';
import { busStatsOf, type BusStatsSnapshot } from '../../shared/bus/bus-metrics.js';
import type { AccessLogSink } from './access-log-sink.js';

/** how long a stopping worker gives the lines it holds to be acked */
const CLOSE_FLUSH_MS = 3000;

/**
 * Router lines to the log bus (DESIGN.md "Log bus") instead of the shuttle's TCP ingest: each
 * line is the same msgpack log record the ingest takes (source `router`, process `router`,
 * stderr for `at=error` lines), published to `logs.<p>.<app>` with a Nats-Msg-Id of this
 * worker thread's own producer id. `write` only queues (the request path never waits); the
 * publisher's bounded outbox (`bus.outbox`) drops its oldest when full and, once the bus is
 * back, this shipper publishes `Error L10 (output buffer overflow): N messages dropped since
 * <ISO time>` (source `platform`) into each app's subject that lost lines. The stream is
 * created if absent (idempotent; any worker or shuttle may do it first). A bus outage never
 * affects serving: /readyz stays true, /metrics shows the state and counters.
 */
export class BusShipper implements AccessLogSink {
  readonly connection: BusConnection;
  readonly publisher: BusPublisher;
  private readonly abort = new AbortController();
  /** the ensure running now: the connection it runs on, and how to stop it */
  private ensuring: { nc: NatsConnection; stop: AbortController } | null = null;

  constructor(private readonly bus: BusConfig, private readonly logger: Logger, baseDir: string, producerId = defaultProducerId('router')) {
    const credentials = bus.credentials === null ? null : isAbsolute(bus.credentials) ? bus.credentials : resolve(baseDir, bus.credentials);
    this.connection = new BusConnection({ servers: bus.servers, credentials, name: producerId, logger });
    this.publisher = new BusPublisher({
      connection: this.connection,
      msgIds: new MsgIdSource(producerId),
      outbox: bus.outbox,
      onDropped: this.onDropped,
      logger,
    });
    this.connection.on('ready', this.ensure);
    this.connection.start();
  }

  write(app: string, line: string, time: number): void {
    const stream = line.startsWith('at=error') ? 'stderr' : 'stdout';
    this.publisher.publish(app, subjectFor(app, this.bus.partitions),
      encodeLogRecord({ app, source: 'router', process: 'router', stream, time, message: line }));
  }

  private readonly onDropped = (app: string, count: number, since: number): void => {
    const message = `Error L10 (output buffer overflow): ${count} messages dropped since ${new Date(since).toISOString()}`;
    this.publisher.publishReport(app, subjectFor(app, this.bus.partitions),
      encodeLogRecord({ app, source: 'platform', process: 'router', stream: 'stderr', time: Date.now(), message }), count, since);
    this.logger.warn({ app, dropped: count, since: new Date(since).toISOString() }, 'bus outbox overflowed: lines dropped (L10 sent)');
  };

  /**
   * At every (re)connect the stream is made to exist (publishes wait and retry meanwhile); an
   * existing stream costs one info call. An ensure still retrying on a connection that was
   * replaced (closed for good) is stopped: it would retry on the dead one for ever.
   */
  private readonly ensure = (): void => {
    const nc = this.connection.nc;
    if (!nc || this.ensuring?.nc === nc) return;
    this.ensuring?.stop.abort();
    const run = { nc, stop: new AbortController() };
    this.ensuring = run;
    let warned = false;
    ensureLogStream(nc, this.bus, {
      signal: AbortSignal.any([this.abort.signal, run.stop.signal]),
      onRetry: (err) => {
        if (!warned) this.logger.warn({ stream: this.bus.stream, err: (err as Error).message }, 'bus: cannot ensure the log stream yet; retrying');
        warned = true;
      },
    }).then(
      () => undefined,
      (err: unknown) => {
        if (!this.abort.signal.aborted && !run.stop.signal.aborted) this.logger.error({ stream: this.bus.stream, err: (err as Error).message }, 'bus: the log stream cannot be used');
      },
    ).finally(() => {
      if (this.ensuring === run) this.ensuring = null;
    });
  };

  busStats(): BusStatsSnapshot {
    return busStatsOf(this.connection, this.publisher);
  }

  async close(): Promise<void> {
    await this.publisher.close(CLOSE_FLUSH_MS);
    this.abort.abort();
    await this.connection.close();
  }
}
