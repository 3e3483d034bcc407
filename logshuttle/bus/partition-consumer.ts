import { AckPolicy, DeliverPolicy, type Consumer, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import type { Logger } from '../../shared/logger.js';
import { partitionSubject } from '../../shared/bus/index.js';
import type { BusTuning } from './bus-tuning.js';
import { RedeliveryOrder } from './redelivery-order.js';
import { isConsumerNotFound } from '../../shared/bus/nats-errors.js';

export interface PartitionConsumerOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  stream: string;
  partition: number;
  tuning: BusTuning;
  logger: Logger;
  /** hands one message to the shuttle (synchronously; it acknowledges it later) */
  deliver(msg: JsMsg, partition: number): void;
  /** lines of the partition not yet delivered to this replica */
  onLag(partition: number, pending: number): void;
}

/** The durable consumer of partition `p`: one per partition, shared by every replica. */
export function durableName(p: number): string {
  return `logshuttle-p${p}`;
}

const WARN_EVERY_MS = 30_000;

/** Where the durable consumer stood when this replica (re)started pulling it. */
interface Settled {
  /** the consumer's delivery sequence */
  delivered: number;
  /** the highest stream sequence it delivered */
  streamSeq: number;
  /** lines delivered and not acknowledged (they come back, redelivered) */
  unacked: number;
}

/**
 * Pulls one partition (`logs.<p>.*`) through its durable pull consumer, in stream order, while
 * this replica holds the partition's lease. Order across owners: a new owner first waits out
 * the ack wait when the consumer has deliveries nobody acknowledged (the previous owner's), so
 * the server redelivers them; until all of them came back, newer lines are held and then
 * released in stream order (RedeliveryOrder: the server may answer a pull with newer lines
 * before its redelivery timer fired). Order within an owner: a jump in the consumer's delivery
 * sequence means deliveries to this replica were lost on the way (a reconnect); the rest of
 * that pull is left unacknowledged and the consumer is settled again as by a new owner.
 */
export class PartitionConsumer {
  private stopping = false;
  private abandoned = false;
  private current: ConsumerMessages | null = null;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private lastWarn = 0;
  private lastLagCheck = 0;
  private readonly order = new RedeliveryOrder<JsMsg>();

  constructor(private readonly o: PartitionConsumerOptions) {}

  start(): void {
    this.loop ??= this.run().catch((err: unknown) => {
      this.o.logger.error({ partition: this.o.partition, err: (err as Error).message }, 'partition consumer failed');
    });
  }

  /**
   * Stops pulling. Graceful: the pull in hand is finished (its lines delivered); not graceful:
   * it is dropped where it is (what was not delivered stays unacknowledged, for the next owner).
   */
  async stop(graceful: boolean): Promise<void> {
    this.stopping = true;
    if (!graceful) {
      this.abandoned = true;
      this.current?.stop();
    }
    this.wake?.();
    await this.loop;
  }

  private async pause(ms: number): Promise<void> {
    if (this.stopping) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
    });
  }

  private async run(): Promise<void> {
    const { js, stream, partition, tuning, logger } = this.o;
    const name = durableName(partition);
    let settled = await this.settle(true);
    if (settled === null) return;
    let lastDelivered = this.resume(settled);
    logger.info({ partition, consumer: name }, 'pulling partition');
    let consumer: Consumer | null = null;
    while (!this.stopping) {
      let gap = false;
      let got = 0;
      let pending = 0;
      try {
        consumer ??= await js.consumers.get(stream, name);
        if (this.stopping) break;
        const batch = await consumer.fetch({ max_messages: tuning.fetchBatch, expires: tuning.fetchExpiresMs });
        this.current = batch;
        if (this.abandoned) batch.stop();
        for await (const m of batch) {
          if (this.abandoned) break;
          const dseq = m.info.deliverySequence;
          if (dseq > lastDelivered + 1) {
            // deliveries lost on the way: leave these for redelivery with them, in order
            gap = true;
            logger.warn({ partition, expected: lastDelivered + 1, got: dseq }, 'deliveries lost in transit; settling again so they come back in order');
            batch.stop();
            break;
          }
          lastDelivered = dseq;
          got++;
          pending = m.info.pending;
          // the common case without a hold: straight to the shuttle, nothing allocated per line
          if (this.order.holding) this.deliverAll(this.order.take(m, Date.now()));
          else this.o.deliver(m, partition);
        }
        if (!gap && this.order.holding) this.deliverAll(this.order.expire(Date.now()));
        if (got > 0) this.o.onLag(partition, pending);
      } catch (err) {
        if (this.abandoned) break;
        const now = Date.now();
        if (now - this.lastWarn > WARN_EVERY_MS) {
          this.lastWarn = now;
          logger.warn({ partition, err: (err as Error).message }, 'pull failed; retrying');
        }
        await this.pause(500);
        consumer = null;
        // deliveries may have been lost with the connection: start again as a new owner would
        settled = await this.settle(false);
        if (settled === null) break;
        lastDelivered = this.resume(settled);
        continue;
      } finally {
        this.current = null;
      }
      if (gap) {
        // the lost ones are unacknowledged: settle waits out their ack wait
        settled = await this.settle(false);
        if (settled === null) break;
        lastDelivered = this.resume(settled);
      } else if (got === 0 && Date.now() - this.lastLagCheck > 5000) {
        this.lastLagCheck = Date.now();
        await this.refreshLag();
      }
    }
  }

  /** Starts pulling from where the consumer was settled: holds newer lines for the unacknowledged. */
  private resume(s: Settled): number {
    const { tuning } = this.o;
    this.order.reset();
    if (s.unacked > 0) this.order.begin(s.streamSeq, s.unacked, Date.now() + 2 * tuning.ackWaitMs + tuning.fetchExpiresMs);
    return s.delivered;
  }

  private deliverAll(msgs: JsMsg[]): void {
    const { partition } = this.o;
    if (msgs.length === 0) return;
    const order = this.order;
    if (order.released) {
      order.released = false;
      this.o.logger.info({ partition, released: msgs.length, reordered: order.reordered, missing: order.missing }, 'redeliveries back: held lines released in stream order');
    }
    for (const m of msgs) this.o.deliver(m, partition);
  }

  /**
   * Makes sure the durable consumer exists, waits out the ack wait when it has deliveries nobody
   * acknowledged, and returns where it stands (null when stopped meanwhile).
   */
  private async settle(first: boolean): Promise<Settled | null> {
    const { jsm, stream, partition, tuning, logger } = this.o;
    const name = durableName(partition);
    for (let attempt = 1; !this.stopping; attempt++) {
      try {
        let info = await jsm.consumers.info(stream, name).catch((err: Error) => {
          if (isConsumerNotFound(err)) return null;
          throw err;
        });
        if (info === null) {
          info = await jsm.consumers.add(stream, {
            durable_name: name,
            filter_subject: partitionSubject(partition),
            ack_policy: AckPolicy.Explicit,
            ack_wait: nanos(tuning.ackWaitMs),
            max_ack_pending: tuning.maxAckPending,
            deliver_policy: DeliverPolicy.All,
            max_deliver: -1,
          });
          logger.info({ partition, consumer: name }, 'partition consumer created');
        } else if (info.config.ack_wait !== nanos(tuning.ackWaitMs) || info.config.max_ack_pending !== tuning.maxAckPending) {
          info = await jsm.consumers.update(stream, name, { ack_wait: nanos(tuning.ackWaitMs), max_ack_pending: tuning.maxAckPending });
        }
        if (info.num_ack_pending > 0) {
          logger.info({ partition, unacknowledged: info.num_ack_pending, waitMs: tuning.ackWaitMs, first }, 'waiting out the ack wait so unacknowledged lines come first');
          await this.pause(tuning.ackWaitMs + 500);
          if (this.stopping) return null;
          info = await jsm.consumers.info(stream, name);
        }
        this.o.onLag(partition, info.num_pending);
        return { delivered: info.delivered.consumer_seq, streamSeq: info.delivered.stream_seq, unacked: info.num_ack_pending };
      } catch (err) {
        const now = Date.now();
        if (attempt === 1 || now - this.lastWarn > WARN_EVERY_MS) {
          this.lastWarn = now;
          logger.warn({ partition, err: (err as Error).message }, 'partition consumer not ready; retrying');
        }
        await this.pause(Math.min(5000, 250 * attempt));
      }
    }
    return null;
  }

  private async refreshLag(): Promise<void> {
    try {
      const info = await this.o.jsm.consumers.info(this.o.stream, durableName(this.o.partition));
      this.o.onLag(this.o.partition, info.num_pending);
    } catch {
      // the next pull tells
    }
  }
}
