import { KvWatchInclude, type KV } from '@nats-io/kv';
import type { Logger } from '../../shared/logger.js';
import { isWrongLastSequence } from '../../shared/bus/nats-errors.js';
import { HeldLeases, LEASE, type Held, type LeaseHooks } from './held-leases.js';
import { planLeases } from './lease-plan.js';

export type { LeaseHooks } from './held-leases.js';

export interface PartitionLeasesOptions {
  /** the lease bucket (`<stream>_LEASES`, TTL = ttlMs) */
  kv: KV;
  partitions: number;
  replicaId: string;
  ttlMs: number;
  logger: Logger;
  hooks: LeaseHooks;
}

const MEMBER = 'member.';

/**
 * Partition ownership through the KV bucket `<stream>_LEASES`, whose entries expire `ttlMs`
 * after their last write. Each replica keeps `member.<id>` alive and holds `lease.<p>` for its
 * partitions (renewed and fenced by HeldLeases on their own timer). A rebalancing pass, every
 * third of the TTL: shares from lease-plan.ts; a replica over its share releases (graceful
 * stop, then delete), one under it takes free keys with `create` (which fails with "wrong last
 * sequence" when the key holds a value). A watch on the bucket wakes the pass at once when a member appears or a lease is
 * released, so hand-overs take one round trip, not a renewal period.
 */
export class PartitionLeases {
  private readonly held: HeldLeases;
  private readonly knownMembers = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private again = false;
  private closed = false;
  private watching: { stop(): void } | null = null;
  private readonly intervalMs: number;

  constructor(private readonly o: PartitionLeasesOptions) {
    this.intervalMs = Math.max(50, Math.floor(o.ttlMs / 3));
    this.held = new HeldLeases(o);
  }

  /** Starts the loop (the bus may still be unreachable: it retries every period). */
  start(): void {
    this.held.start();
    this.kick();
    void this.watch();
  }

  /** Releases every lease (graceful stops first) and the membership key; the loop ends. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.watching?.stop();
    while (this.running) await new Promise((r) => setTimeout(r, 10));
    // renewals go on until each lease is handed back
    await Promise.all(this.held.partitions().map(async (p) => {
      await this.o.hooks.stop(p, true);
      const h = this.held.get(p);
      if (h) await this.deleteLease(p, h.rev);
    }));
    this.held.stopTimers();
    this.held.clear();
    await this.o.kv.delete(MEMBER + this.o.replicaId).catch(() => undefined);
  }

  /** Runs the loop now (or once more right after the running pass). */
  kick(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.running = true;
    void this.pass().finally(() => {
      this.running = false;
      if (this.closed) return;
      if (this.again) {
        this.again = false;
        this.kick();
      } else {
        this.timer = setTimeout(() => this.kick(), this.intervalMs);
      }
    });
  }

  private async pass(): Promise<void> {
    const { kv, replicaId, logger } = this.o;
    try {
      await kv.put(MEMBER + replicaId, JSON.stringify({ pid: process.pid, at: Date.now() }));
    } catch (err) {
      logger.debug({ err: (err as Error).message }, 'membership not renewed');
    }
    let keys: string[];
    try {
      keys = await this.listKeys();
    } catch (err) {
      logger.debug({ err: (err as Error).message }, 'lease bucket not listed');
      return;
    }
    const members: string[] = [];
    const taken = new Set<number>();
    for (const k of keys) {
      if (k.startsWith(MEMBER)) members.push(k.slice(MEMBER.length));
      else if (k.startsWith(LEASE)) taken.add(Number(k.slice(LEASE.length)));
    }
    this.knownMembers.clear();
    for (const m of members) this.knownMembers.add(m);
    // leases being released count until deleted; deleted ones finished below
    for (const [p, h] of this.held.entries()) {
      if (h.state === 'releasing' && h.drained) {
        await this.deleteLease(p, h.rev);
        this.held.delete(p);
        taken.delete(p);
      }
    }
    const plan = planLeases({ partitions: this.o.partitions, members, me: replicaId, held: new Set(this.held.partitions()), taken });
    const releasing = this.held.entries().filter(([, h]) => h.state === 'releasing').length;
    let excess = this.held.size - releasing - plan.target;
    for (const p of plan.release) {
      if (excess <= 0) break;
      const h = this.held.get(p)!;
      if (h.state === 'releasing') continue;
      excess--;
      this.release(p, h, plan.target, members.length);
    }
    let want = plan.target - this.held.size;
    for (const p of plan.candidates) {
      if (want <= 0 || this.closed) break;
      const sentAt = Date.now();
      try {
        const rev = await kv.create(LEASE + p, replicaId);
        want--;
        logger.info({ partition: p, target: plan.target, members: members.length }, 'partition lease taken; pulled once a renewal confirms it');
        this.held.add(p, rev, sentAt);
      } catch (err) {
        if (!isWrongLastSequence(err)) { // not: held by another replica
          logger.debug({ partition: p, err: (err as Error).message }, 'partition lease not taken');
        }
      }
    }
  }

  private release(p: number, h: Held, target: number, members: number): void {
    h.state = 'releasing';
    this.o.logger.info({ partition: p, target, members }, 'releasing partition lease (rebalance)');
    void this.o.hooks.stop(p, true).then(() => {
      h.drained = true;
      this.kick();
    });
  }

  private async deleteLease(p: number, rev: number): Promise<void> {
    try {
      await this.o.kv.delete(LEASE + p, { previousSeq: rev });
      this.o.logger.info({ partition: p }, 'partition lease released');
    } catch (err) {
      this.o.logger.debug({ partition: p, err: (err as Error).message }, 'partition lease not deleted (it expires)');
    }
  }

  /** Every key once (the listing's consumer may deliver a key again after a reset). */
  private async listKeys(): Promise<string[]> {
    const out = new Set<string>();
    const it = await this.o.kv.keys();
    for await (const k of it) out.add(k);
    return [...out];
  }

  /** Wakes the loop when a new member appears or a lease is released (retried while the bus is away). */
  private async watch(): Promise<void> {
    while (!this.closed) {
      try {
        const it = await this.o.kv.watch({ include: KvWatchInclude.UpdatesOnly });
        this.watching = it;
        for await (const e of it) {
          if (this.closed) break;
          if (e.key.startsWith(LEASE) && e.operation !== 'PUT') this.kick();
          else if (e.key.startsWith(MEMBER) && e.operation === 'PUT' && !this.knownMembers.has(e.key.slice(MEMBER.length))) {
            this.knownMembers.add(e.key.slice(MEMBER.length));
            this.kick();
          } else if (e.key.startsWith(MEMBER) && e.operation !== 'PUT') this.kick();
        }
      } catch (err) {
        this.o.logger.debug({ err: (err as Error).message }, 'lease watch failed; retrying');
      }
      if (!this.closed) await new Promise((r) => setTimeout(r, this.intervalMs));
    }
  }
}
