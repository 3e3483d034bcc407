/**
 * How many partitions a replica should hold, and which to give up or try to take, from what
 * every replica can see in the lease bucket: the live members and the leases held. Each replica
 * computes its own share the same way (members sorted by id; the first `partitions % members`
 * get one more), so the shares add up to `partitions` and, once the views agree, every
 * partition has exactly one owner and the counts differ by at most one.
 */
export interface LeaseView {
  partitions: number;
  /** ids of the live replicas (their membership keys), this one included or not */
  members: readonly string[];
  me: string;
  /** partitions this replica holds (releasing ones included) */
  held: ReadonlySet<number>;
  /** partitions with a lease key (anyone's) */
  taken: ReadonlySet<number>;
}

export interface LeasePlan {
  target: number;
  /** partitions to give up (highest first), when holding more than the share */
  release: number[];
  /** free partitions to try, in order, while holding fewer than the share */
  candidates: number[];
}

export function shareOf(partitions: number, members: readonly string[], me: string): number {
  const all = members.includes(me) ? [...members] : [...members, me];
  all.sort();
  const n = all.length;
  const i = all.indexOf(me);
  return Math.floor(partitions / n) + (i < partitions % n ? 1 : 0);
}

export function planLeases(v: LeaseView): LeasePlan {
  const target = shareOf(v.partitions, v.members, v.me);
  const held = [...v.held].sort((a, b) => a - b);
  const release = held.length > target ? held.slice(target).reverse() : [];
  const candidates: number[] = [];
  if (held.length < target) {
    // start each replica at its own offset so that replicas joining together seldom collide
    const all = v.members.includes(v.me) ? [...v.members] : [...v.members, v.me];
    all.sort();
    const offset = Math.floor((all.indexOf(v.me) * v.partitions) / all.length);
    for (let k = 0; k < v.partitions; k++) {
      const p = (offset + k) % v.partitions;
      if (!v.taken.has(p) && !v.held.has(p)) candidates.push(p);
    }
  }
  return { target, release, candidates };
}
