import { setRateLimitShare, type RateLimitMemory } from '../filters/rate-limit-table.js';

/**
 * Rate limits across routers (docs/router/cluster.md "Rate limits"): each of the N live routers
 * enforces `ceil(limit / N)` of every limit, exactly (the process-wide GCRA table, as without a
 * bus), so the fleet lets through at most `limit + N − 1` per burst plus the refill, with no
 * message per request. N is the routers heard within the last 5 s, this one included. While the
 * bus is down the last N is kept (no overshoot from an outage; routers that died meanwhile leave
 * their share unused until it is back). A router that never reached the bus enforces the whole
 * limit (as without a bus).
 */
export class RateLimitShare {
  private current = 1;

  constructor(private readonly memory: RateLimitMemory) {}

  get routers(): number {
    return this.current;
  }

  /** Called once per tick while connected, with the live routers (this one included). */
  update(routers: number): void {
    const n = Math.max(1, routers);
    if (n === this.current) return;
    this.current = n;
    setRateLimitShare(this.memory, n);
  }
}
