import type { AckTracker } from './ack-tracker.js';
import type { LeaseHooks } from './partition-leases.js';
import type { PartitionConsumer } from './partition-consumer.js';

/**
 * The partition consumers running on this replica, started and stopped by the lease manager.
 * A graceful stop finishes the pull in hand, waits until every line of the partition is
 * acknowledged (drains wrote them, or `holdMs` ran out) and flushes the acknowledgements to the
 * server, so the next owner finds nothing pending and starts at once. A start that comes while
 * a stop of the same partition runs waits for it.
 */
export class PartitionSet implements LeaseHooks {
  private readonly running = new Map<number, PartitionConsumer>();
  private readonly stopping = new Map<number, Promise<void>>();
  private readonly wanted = new Set<number>();

  constructor(
    private readonly make: (p: number) => PartitionConsumer,
    private readonly tracker: AckTracker,
    private readonly flush: () => Promise<void>,
    private readonly onStopped: (p: number) => void,
  ) {}

  start(p: number): void {
    this.wanted.add(p);
    if (this.running.has(p)) return;
    const go = (): void => {
      if (!this.wanted.has(p) || this.running.has(p)) return;
      const c = this.make(p);
      this.running.set(p, c);
      c.start();
    };
    const prev = this.stopping.get(p);
    if (prev) void prev.then(go);
    else go();
  }

  async stop(p: number, graceful: boolean): Promise<void> {
    this.wanted.delete(p);
    const c = this.running.get(p);
    if (!c) {
      await this.stopping.get(p);
      return;
    }
    this.running.delete(p);
    const done = (async () => {
      await c.stop(graceful);
      if (graceful) {
        await this.tracker.whenSettled(p);
        await this.flush().catch(() => undefined);
      }
      this.onStopped(p);
    })();
    this.stopping.set(p, done);
    try {
      await done;
    } finally {
      if (this.stopping.get(p) === done) this.stopping.delete(p);
    }
  }

  /** partitions being pulled */
  partitions(): number[] {
    return [...this.running.keys()].sort((a, b) => a - b);
  }
}
