import { createUpstreamPool, type UpstreamPool } from './h1/select-client.js';
import { ejectionMs, type RotationDyno } from './dyno-attempts.js';

/**
 * One dyno (host:port): its keep-alive pool (undici's Pool or the lean client of
 * router/upstream/h1, EDGEPLANE_UPSTREAM_CLIENT) and its passive-ejection state. Lives in the
 * DynoRegistry across config reloads as long as some app still names it.
 */
export class Dyno implements RotationDyno {
  readonly address: string;
  readonly pool: UpstreamPool;
  /** performance.now() until which the dyno is out of rotation */
  ejectedUntil = 0;
  private failures = 0;

  constructor(address: string, connectMs: number) {
    this.address = address;
    this.pool = createUpstreamPool(address, {
      connect: { timeout: connectMs },
      keepAliveTimeout: 4000,
      keepAliveMaxTimeout: 60000,
      pipelining: 1,
    });
  }

  isEjected(now: number): boolean {
    return this.ejectedUntil > now;
  }

  /** A failure the dyno-attempt policy blames on it: out of rotation for a while, longer each time. */
  fail(now: number): void {
    this.failures = Math.min(this.failures + 1, 16);
    this.ejectedUntil = now + ejectionMs(this.failures);
  }

  succeed(): void {
    if (this.failures !== 0) {
      this.failures = 0;
      this.ejectedUntil = 0;
    }
  }

  close(): Promise<void> {
    return this.pool.close().catch(() => undefined);
  }
}
