import type { JsMsg } from '@nats-io/jetstream';
import type { SettleTicket } from '../drains/settle-ticket.js';

/**
 * One bus message on its way through the drains. It starts held once (by the consumer while it
 * hands the line to the core); every drain that queues the line holds it once more and settles
 * it when the line is written or dropped. When the last hold is settled the message is
 * acknowledged to the bus. A ticket still open after `holdMs` is acknowledged anyway (the line
 * is in the drains' queues, which is all DESIGN.md asks; holding longer would get it
 * redelivered).
 */
export class AckTicket implements SettleTicket {
  private holds = 1;
  acked = false;
  readonly openedAt: number;

  constructor(private readonly msg: JsMsg, private readonly list: PartitionTickets, now: number) {
    this.openedAt = now;
  }

  hold(): void {
    this.holds++;
  }

  settle(): void {
    if (--this.holds <= 0) this.ack(false);
  }

  ack(forced: boolean): void {
    if (this.acked) return;
    this.acked = true;
    this.msg.ack();
    this.list.closed(forced);
  }
}

/** The open tickets of one partition, oldest first. */
class PartitionTickets {
  queue: AckTicket[] = [];
  head = 0;
  open = 0;

  constructor(private readonly counts: { acked: number; forced: number }) {}

  closed(forced: boolean): void {
    this.open--;
    this.counts.acked++;
    if (forced) this.counts.forced++;
  }

  /** acknowledges tickets older than `before`; drops acknowledged ones from the front */
  sweep(before: number): void {
    const q = this.queue;
    while (this.head < q.length) {
      const t = q[this.head];
      if (!t.acked) {
        if (t.openedAt > before) break;
        t.ack(true);
      }
      q[this.head++] = undefined as unknown as AckTicket;
    }
    if (this.head === q.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > q.length) {
      this.queue = q.slice(this.head);
      this.head = 0;
    }
  }
}

/** Tickets by partition, with the sweep that bounds how long a line holds its message. */
export class AckTracker {
  private readonly parts = new Map<number, PartitionTickets>();
  private readonly timer: NodeJS.Timeout;
  /** messages acknowledged, and of those, acknowledged because `holdMs` ran out */
  readonly counts = { acked: 0, forced: 0 };

  constructor(private readonly holdMs: number) {
    this.timer = setInterval(() => this.sweep(), Math.max(20, Math.floor(holdMs / 4)));
    this.timer.unref();
  }

  open(partition: number, msg: JsMsg, now = Date.now()): AckTicket {
    let list = this.parts.get(partition);
    if (!list) this.parts.set(partition, (list = new PartitionTickets(this.counts)));
    const t = new AckTicket(msg, list, now);
    list.queue.push(t);
    list.open++;
    return t;
  }

  openCount(partition: number): number {
    return this.parts.get(partition)?.open ?? 0;
  }

  /** Resolves once every ticket of the partition is acknowledged (at most about `holdMs`). */
  async whenSettled(partition: number): Promise<void> {
    while (this.openCount(partition) > 0) {
      await new Promise((r) => setTimeout(r, 10));
      this.parts.get(partition)?.sweep(Date.now() - this.holdMs);
    }
  }

  private sweep(): void {
    const before = Date.now() - this.holdMs;
    for (const list of this.parts.values()) list.sweep(before);
  }

  close(): void {
    clearInterval(this.timer);
  }
}
