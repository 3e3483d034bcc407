import { Dyno } from './dyno.js';

/**
 * Dynos by address, shared by every route table a worker compiles. A reload reuses the Dyno
 * (pool, keep-alive connections, ejection state) of every address still named; dynos no
 * longer named are closed once their in-flight requests finish (undici's Pool.close waits).
 */
export class DynoRegistry {
  private readonly dynos = new Map<string, Dyno>();

  private key(address: string, connectMs: number): string {
    return `${address}|${connectMs}`;
  }

  get(address: string, connectMs: number): Dyno {
    const key = this.key(address, connectMs);
    let dyno = this.dynos.get(key);
    if (!dyno) {
      dyno = new Dyno(address, connectMs);
      this.dynos.set(key, dyno);
    }
    return dyno;
  }

  /** Close the dynos that the current table no longer uses. */
  retainOnly(inUse: ReadonlySet<Dyno>): void {
    for (const [key, dyno] of this.dynos) {
      if (!inUse.has(dyno)) {
        this.dynos.delete(key);
        void dyno.close();
      }
    }
  }

  get size(): number {
    return this.dynos.size;
  }

  /** Dynos out of rotation now and how long they stay out (the dashboard's dyno list). */
  ejected(now: number): { address: string; forMs: number }[] {
    const out: { address: string; forMs: number }[] = [];
    for (const d of this.dynos.values()) if (d.isEjected(now)) out.push({ address: d.address, forMs: Math.ceil(d.ejectedUntil - now) });
    return out;
  }

  ejectedCount(now: number): number {
    let n = 0;
    for (const d of this.dynos.values()) if (d.isEjected(now)) n++;
    return n;
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.dynos.values()].map((d) => d.close()));
    this.dynos.clear();
  }
}
