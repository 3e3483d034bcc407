import { KvWatchInclude, type KV } from '@nats-io/kv';
import type { Logger } from '../../shared/logger.js';
import { planLeases } from './lease-plan.js';

/** What the lease manager drives: the partition consumers. */
export interface LeaseHooks {
  /** the lease of `p` is ours: start pulling it */
  start(p: number): void;
  /**
   * Stop pulling `p`. Graceful (a release): finish the pull in hand and settle its lines first;
   * the promise resolves when nothing of `p` is held any more. Not graceful (the lease may be
   * lost): stop at once.
   */
  stop(p: number, graceful: boolean): Promise<void>;
}

export interface PartitionLeasesOptions {
  /** the lease bucket (`<stream>_LEASES`, TTL = ttlMs) */
  kv: KV;
  partitions: number;
  replicaId: string;
  ttlMs: number;
  logger: Logger;
  hooks: LeaseHooks;
}

type LeaseState = 'active' | 'suspended' | 'releasing';

interface Held {
  rev: number;
  state: LeaseState;
  /** set once a graceful stop of a release finished: the lease may be deleted */
  drained: boolean;
}

const MEMBER = 'member.';
const LEASE = 'lease.';

function isWrongSequence(err: unknown): boolean {
  return /wrong last sequence/i.test((err as Error)?.message ?? '');
}

/**
 * Partition ownership through the KV bucket `<stream>_LEASES`, whose entries expire `ttlMs`
 * after their last write. Each replica keeps `member.<id>` alive and holds `lease.<p>` for its
 * partitions, renewing both every third of the TTL (a compare-and-set on the revision, so a
 * lease that expired and was taken by another is noticed as lost). A renewal that fails stops
 * pulling that partition at once: when the key was taken (or expired) the lease is gone; when
 * the request only failed (the bus is unsettled) it is suspended and resumes if the next
 * renewal succeeds. Shares are computed by lease-plan.ts; a replica over its share releases
 * (graceful stop, then delete), one under it takes free keys with `create` (which fails when
 * the key exists). A watch on the bucket wakes the loop at once when a member appears or a
 * lease is released, so hand-overs take one round trip, not a renewal period.
 */
export class PartitionLeases {
  private readonly held = new Map<number, Held>();
  private readonly knownMembers = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private again = false;
  private closed = false;
  private watching: { stop(): void } | null = null;
  private readonly intervalMs: number;

  constructor(private readonly o: PartitionLeasesOptions) {
    this.intervalMs = Math.max(50, Math.floor(o.ttlMs / 3));
  }

  /** Starts the loop (the bus may still be unreachable: it retries every period). */
  start(): void {
    this.kick();
    void this.watch();
  }

  /** partitions held and not suspended or being released */
  owned(): number[] {
    return [...this.held].filter(([, h]) => h.state === 'active').map(([p]) => p).sort((a, b) => a - b);
  }

  /** Releases every lease (graceful stops first) and the membership key; the loop ends. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.watching?.stop();
    while (this.running) await new Promise((r) => setTimeout(r, 10));
    await Promise.all([...this.held.keys()].map(async (p) => {
      const h = this.held.get(p)!;
      await this.o.hooks.stop(p, true);
      await this.deleteLease(p, h.rev);
    }));
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
    await this.renewAll();
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
    for (const [p, h] of this.held) {
      if (h.state === 'releasing' && h.drained) {
        await this.deleteLease(p, h.rev);
        this.held.delete(p);
        taken.delete(p);
      }
    }
    const plan = planLeases({ partitions: this.o.partitions, members, me: replicaId, held: new Set(this.held.keys()), taken });
    const releasing = [...this.held.values()].filter((h) => h.state === 'releasing').length;
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
      try {
        const rev = await kv.create(LEASE + p, replicaId);
        this.held.set(p, { rev, state: 'active', drained: false });
        want--;
        logger.info({ partition: p, target: plan.target, members: members.length }, 'partition lease taken');
        this.o.hooks.start(p);
      } catch (err) {
        if (!isWrongSequence(err) && !/exists/i.test((err as Error).message)) {
          logger.debug({ partition: p, err: (err as Error).message }, 'partition lease not taken');
        }
      }
    }
  }

  private async renewAll(): Promise<void> {
    const { kv, replicaId, logger, hooks } = this.o;
    await Promise.all([...this.held].map(async ([p, h]) => {
      try {
        h.rev = await kv.update(LEASE + p, replicaId, h.rev);
        if (h.state === 'suspended') {
          h.state = 'active';
          logger.info({ partition: p }, 'partition lease renewed again; pulling resumes');
          hooks.start(p);
        }
      } catch (err) {
        if (isWrongSequence(err)) {
          this.held.delete(p);
          logger.warn({ partition: p }, 'partition lease lost (expired or taken); stopped pulling');
          if (h.state !== 'suspended') void hooks.stop(p, false);
        } else if (h.state === 'active') {
          h.state = 'suspended';
          logger.warn({ partition: p, err: (err as Error).message }, 'partition lease not renewed; stopped pulling until it is');
          void hooks.stop(p, false);
        }
      }
    }));
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

  private async listKeys(): Promise<string[]> {
    const out: string[] = [];
    const it = await this.o.kv.keys();
    for await (const k of it) out.push(k);
    return out;
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
