import type { KV } from '@nats-io/kv';
import { isWrongLastSequence } from '../../shared/bus/nats-errors.js';
import type { Logger } from '../../shared/logger.js';

/** What the lease holder drives: the partition consumers. */
export interface LeaseHooks {
  /** the lease of `p` is ours (again): start pulling it */
  start(p: number): void;
  /**
   * Stop pulling `p`. Graceful (a release): finish the pull in hand and settle its lines first;
   * the promise resolves when nothing of `p` is held any more. Not graceful (the lease may be
   * lost): stop at once.
   */
  stop(p: number, graceful: boolean): Promise<void>;
}

/** pending: created, not yet confirmed by a renewal (no pulling yet) */
export type LeaseState = 'pending' | 'active' | 'suspended' | 'releasing';

export interface Held {
  rev: number;
  state: LeaseState;
  /** set once the graceful stop of a release finished: the lease may be deleted */
  drained: boolean;
  /** local time until which the lease is surely ours (last renewal sent + TTL - margin) */
  validUntil: number;
}

export const LEASE = 'lease.';

/**
 * The leases this replica holds, kept alive on their own timer (every third of the TTL, never
 * behind a slow rebalancing pass). A renewal is a compare-and-set on the key's revision: when it
 * fails because the key moved (expired, taken) the lease is lost; when the request only failed
 * (the bus is unsettled) the lease is suspended: pulling stops at once and resumes if a later
 * renewal succeeds. Fencing: the server expires a key TTL after it stored the last write, which
 * is after that write was sent, so a lease is surely ours until `sent + TTL`; a lease not
 * renewed by `sent + TTL - margin` (margin: a quarter of the TTL, at least a pull's length) is
 * suspended by the replica itself, so two replicas never pull one partition at once even when
 * renewals stall. Confirmation: a new lease is pulled only after its first renewal succeeded.
 * nats-server 2.9 checks a clustered stream's expected-last-subject-sequence against what it
 * has applied, so two `create`s of one key racing within a commit both succeed (seen in the
 * stream-leader failover test); the renewal a third of the TTL later, a compare-and-set on each
 * one's own revision, lets only the last writer keep the key.
 */
export class HeldLeases {
  private readonly held = new Map<number, Held>();
  private renewTimer: NodeJS.Timeout | null = null;
  private fenceTimer: NodeJS.Timeout | null = null;
  private renewing = false;
  private readonly marginMs: number;

  constructor(private readonly o: { kv: KV; replicaId: string; ttlMs: number; logger: Logger; hooks: LeaseHooks }) {
    this.marginMs = Math.floor(o.ttlMs / 4);
  }

  start(): void {
    this.renewTimer = setInterval(() => void this.renewAll(), Math.max(50, Math.floor(this.o.ttlMs / 3)));
    this.fenceTimer = setInterval(() => this.fence(), Math.max(20, Math.min(200, Math.floor(this.marginMs / 4))));
  }

  stopTimers(): void {
    if (this.renewTimer) clearInterval(this.renewTimer);
    if (this.fenceTimer) clearInterval(this.fenceTimer);
    this.renewTimer = this.fenceTimer = null;
  }

  get(p: number): Held | undefined {
    return this.held.get(p);
  }

  partitions(): number[] {
    return [...this.held.keys()];
  }

  entries(): Array<[number, Held]> {
    return [...this.held];
  }

  get size(): number {
    return this.held.size;
  }

  /** A lease just created (request sent at `sentAt`): pulled once a renewal confirms it. */
  add(p: number, rev: number, sentAt: number): void {
    this.held.set(p, { rev, state: 'pending', drained: false, validUntil: sentAt + this.o.ttlMs - this.marginMs });
  }

  delete(p: number): void {
    this.held.delete(p);
  }

  clear(): void {
    this.held.clear();
  }

  /** Renews every lease held (in parallel); skipped while the previous round still runs. */
  async renewAll(): Promise<void> {
    if (this.renewing) return;
    this.renewing = true;
    try {
      await Promise.all([...this.held].map(([p, h]) => this.renew(p, h)));
    } finally {
      this.renewing = false;
    }
  }

  private async renew(p: number, h: Held): Promise<void> {
    const { kv, replicaId, logger, hooks } = this.o;
    const sentAt = Date.now();
    try {
      const rev = await kv.update(LEASE + p, replicaId, h.rev);
      if (this.held.get(p) !== h) return; // released or lost meanwhile
      h.rev = rev;
      h.validUntil = sentAt + this.o.ttlMs - this.marginMs;
      if (h.state === 'suspended' || h.state === 'pending') {
        if (h.state === 'suspended') logger.info({ partition: p }, 'partition lease renewed again; pulling resumes');
        h.state = 'active';
        hooks.start(p);
      }
    } catch (err) {
      if (this.held.get(p) !== h) return;
      if (isWrongLastSequence(err)) {
        this.held.delete(p);
        logger.warn({ partition: p, state: h.state }, 'partition lease lost (expired or taken); stopped pulling');
        if (h.state === 'active' || h.state === 'releasing') void hooks.stop(p, false);
      } else if (h.state === 'active') {
        h.state = 'suspended';
        logger.warn({ partition: p, err: (err as Error).message }, 'partition lease not renewed; stopped pulling until it is');
        void hooks.stop(p, false);
      }
    }
  }

  /** Suspends active leases that may have expired on the server by now. */
  private fence(): void {
    const now = Date.now();
    for (const [p, h] of this.held) {
      if (h.state !== 'active' || now < h.validUntil) continue;
      h.state = 'suspended';
      this.o.logger.warn({ partition: p, lateMs: now - h.validUntil }, 'partition lease not renewed in time; stopped pulling until it is');
      void this.o.hooks.stop(p, false);
    }
  }
}
