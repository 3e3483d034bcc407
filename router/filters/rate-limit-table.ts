/**
 * The rate-limit buckets of one router process: a fixed-size table in a SharedArrayBuffer that
 * the main thread creates once and hands to every worker thread in its start data (so buckets
 * outlive config reloads and worker restarts), updated with Atomics: a count is exact across the
 * worker threads, with no message per request.
 *
 * Layout: BUCKETS slots in groups of GROUP_SIZE. A bucket key hashes (seeded per process) to a
 * 64-bit fingerprint; its high word picks the group, and the key may live in any slot of that
 * group only. A group is taken under a spin lock (an Int32 per group: compareExchange 0 -> 1,
 * held for a few hundred nanoseconds, no allocation, nothing that can throw), so finding,
 * inserting and charging a bucket is one atomic step: two threads can never create the same
 * bucket twice or lose a charge.
 *
 * Bucket state is GCRA, the token bucket as one number: the bucket's "theoretical arrival time"
 * (TAT, integer microseconds of the shared monotonic clock). A bucket of `limit` tokens refilled
 * evenly over `window` has an emission interval T = ceil(window / limit); a request conforms
 * when TAT - now <= (limit - 1) * T, and then TAT = max(TAT, now) + T. A bucket is full (idle,
 * refilled) when TAT <= now: such a slot is as good as empty, and a new key takes it first;
 * only when none of the group's slots is empty or full is the bucket closest to full evicted
 * (it loses the tokens it had spent). "Closest to full" is the smallest share of its own limit
 * spent, (TAT - now) / (limit * T), kept per slot as the bucket's span (limit * T): a bucket of
 * a long window with one token spent goes before a spent bucket of a short window, whose TAT is
 * nearer in time but whose client is the one being limited. Memory is therefore fixed: BUCKETS
 * per router process.
 */

/** buckets per router process (the cap on memory: ~1.6 MB of shared memory) */
export const BUCKETS = 65_536;
/** slots a key may occupy (its group): probing stays within one cache-friendly group */
export const GROUP_SIZE = 8;
const GROUPS = BUCKETS / GROUP_SIZE;
/** spins before a lock is taken over (its holder can only have died mid-update) */
const MAX_SPINS = 10_000_000;

/** What the main thread hands every worker (structured-cloneable: the buffer is shared). */
export interface RateLimitMemory {
  readonly sab: SharedArrayBuffer;
  /** per process: bucket placement cannot be predicted from outside */
  readonly seed: number;
}

/** per group a lock; per slot a fingerprint (2 words), a TAT and a span (Float64 each) */
const TABLE_BYTES = GROUPS * 4 + BUCKETS * 8 + BUCKETS * 8 + BUCKETS * 8;

/** Creates a process's bucket table (main thread, once). */
export function createRateLimitMemory(seed = (Math.random() * 0x100000000) >>> 0): RateLimitMemory {
  // + one Int32 after the table: the share divisor (setRateLimitShare)
  return { sab: new SharedArrayBuffer(TABLE_BYTES + 4), seed };
}

/**
 * Routers sharing their limits over the bus (router/cluster/rate-limit-share.ts): every bucket
 * of this process gets `1/pods` of each limit (`ceil(limit / pods)` tokens, same window). 0 or 1
 * (the default, and always without a bus): the whole limit.
 */
export function setRateLimitShare(memory: RateLimitMemory, pods: number): void {
  Atomics.store(new Int32Array(memory.sab, TABLE_BYTES, 1), 0, Math.max(0, Math.floor(pods)));
}

/** The outcome of one charge. */
export interface Charge {
  /** the request may pass (a token was taken) */
  allowed: boolean;
  /** tokens left after this request */
  remaining: number;
  /** microseconds until the bucket is full again */
  toFullUs: number;
  /** refused: microseconds until one token is available */
  retryUs: number;
}

/** Microseconds of the process-wide monotonic clock (the same in every thread, unlike performance.now()). */
export function nowUs(): number {
  const t = process.hrtime();
  return t[0] * 1_000_000 + Math.floor(t[1] / 1000);
}

export class RateLimitTable {
  private readonly locks: Int32Array;
  /** two words per slot: the key's fingerprint (0, 0 = empty) */
  private readonly keys: Uint32Array;
  private readonly tats: Float64Array;
  /** per slot: limit * interval of the bucket's last charge (µs from empty to full) */
  private readonly spans: Float64Array;
  private readonly shareWord: Int32Array;
  readonly seed: number;

  constructor(memory: RateLimitMemory) {
    this.locks = new Int32Array(memory.sab, 0, GROUPS);
    this.keys = new Uint32Array(memory.sab, GROUPS * 4, BUCKETS * 2);
    this.tats = new Float64Array(memory.sab, GROUPS * 4 + BUCKETS * 8, BUCKETS);
    this.spans = new Float64Array(memory.sab, GROUPS * 4 + BUCKETS * 16, BUCKETS);
    this.shareWord = new Int32Array(memory.sab, TABLE_BYTES, 1);
    this.seed = memory.seed;
  }

  /** The share divisor (setRateLimitShare): 1 unless routers share their limits over the bus. */
  share(): number {
    const n = Atomics.load(this.shareWord, 0);
    return n > 1 ? n : 1;
  }

  /**
   * Takes one token from the bucket of key fingerprint (hi, lo) for a bucket of `limit` tokens
   * with emission interval `intervalUs`; the result is written into `out`.
   */
  charge(hi: number, lo: number, limit: number, intervalUs: number, now: number, out: Charge): void {
    if (hi === 0 && lo === 0) lo = 1; // (0, 0) marks an empty slot
    const group = (hi >>> 0) % GROUPS;
    const base = group * GROUP_SIZE;
    this.lock(group);
    try {
      let slot = -1;
      let free = -1;
      let closest = -1;
      let closestSpent = Infinity;
      const keys = this.keys;
      const tats = this.tats;
      const spans = this.spans;
      for (let s = base; s < base + GROUP_SIZE; s++) {
        const kh = keys[s * 2];
        const kl = keys[s * 2 + 1];
        if (kh === hi && kl === lo) {
          slot = s;
          break;
        }
        const tat = tats[s];
        if (free === -1 && ((kh === 0 && kl === 0) || tat <= now)) free = s;
        // the share of its limit the bucket has spent (a span of 0 cannot be in use: TAT <= now)
        const spent = (tat - now) / spans[s];
        if (spent < closestSpent) {
          closestSpent = spent;
          closest = s;
        }
      }
      if (slot === -1) {
        slot = free !== -1 ? free : closest;
        keys[slot * 2] = hi;
        keys[slot * 2 + 1] = lo;
        tats[slot] = now;
      }
      spans[slot] = limit * intervalUs;
      const tat = Math.max(tats[slot], now);
      const burst = (limit - 1) * intervalUs;
      if (tat - now <= burst) {
        const next = tat + intervalUs;
        tats[slot] = next;
        out.allowed = true;
        out.remaining = next - now > burst ? 0 : Math.floor((burst - (next - now)) / intervalUs) + 1;
        out.toFullUs = next - now;
        out.retryUs = 0;
      } else {
        out.allowed = false;
        out.remaining = 0;
        out.toFullUs = tat - now;
        out.retryUs = tat - burst - now;
      }
    } finally {
      Atomics.store(this.locks, group, 0);
    }
  }

  /**
   * The state of the bucket of (hi, lo) without taking a token (`allowed` says whether a request
   * would pass): for the headers of a response the filter did not count.
   */
  peek(hi: number, lo: number, limit: number, intervalUs: number, now: number, out: Charge): void {
    if (hi === 0 && lo === 0) lo = 1;
    const group = (hi >>> 0) % GROUPS;
    const base = group * GROUP_SIZE;
    let tat = now;
    this.lock(group);
    try {
      for (let s = base; s < base + GROUP_SIZE; s++) {
        if (this.keys[s * 2] === hi && this.keys[s * 2 + 1] === lo) {
          tat = Math.max(this.tats[s], now);
          break;
        }
      }
    } finally {
      Atomics.store(this.locks, group, 0);
    }
    const burst = (limit - 1) * intervalUs;
    out.allowed = tat - now <= burst;
    out.remaining = out.allowed ? Math.floor((burst - (tat - now)) / intervalUs) + 1 : 0;
    out.toFullUs = tat - now;
    out.retryUs = out.allowed ? 0 : tat - burst - now;
  }

  /** Buckets in use (not empty, not full): for tests and diagnostics. */
  inUse(now: number): number {
    let n = 0;
    for (let s = 0; s < BUCKETS; s++) {
      if ((this.keys[s * 2] !== 0 || this.keys[s * 2 + 1] !== 0) && this.tats[s] > now) n++;
    }
    return n;
  }

  private lock(group: number): void {
    const locks = this.locks;
    if (Atomics.compareExchange(locks, group, 0, 1) === 0) return;
    for (let spins = 0; spins < MAX_SPINS; spins++) {
      if (Atomics.load(locks, group) === 0 && Atomics.compareExchange(locks, group, 0, 1) === 0) return;
    }
    // the holder cannot be slow (a few statements, no allocation): it died mid-update
    Atomics.store(locks, group, 1);
  }
}

/**
 * A 64-bit fingerprint of a string (two seeded 32-bit multiplicative hashes over its UTF-16
 * code units, murmur-style mixing), written to out[0] (hi) and out[1] (lo).
 */
export function fingerprint(s: string, seed: number, out: Uint32Array | number[]): void {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  out[0] = h1 >>> 0;
  out[1] = h2 >>> 0;
}
