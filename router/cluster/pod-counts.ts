/**
 * The latest counts every other router published (router/cluster/canary-cluster.ts), and who
 * is alive: a router is live while it has published within the last `silentMs` (5 s); a silent
 * one drops out, its counts with it. Pure bookkeeping, no I/O.
 */

/** One canary's counts as a router publishes them. */
export interface CanaryCounts {
  /** canary requests and errors, production requests and errors */
  cr: number; ce: number; pr: number; pe: number;
}

/** One canary in a counts message. */
export interface PublishedCanary extends CanaryCounts {
  app: string;
  /** the canary's count key (cluster-names.ts canaryKey) */
  key: string;
  /** epoch ms the canary was aborted at on that router, 0 = active */
  ab: number;
}

/** A counts message (JSON on `edgeplane.canary.<stream>.counts`). */
export interface CountsMessage {
  v: 1;
  /** the router's id (cluster-names.ts routerId) */
  router: string;
  canaries: PublishedCanary[];
}

interface Router {
  seen: number;
  canaries: Map<string, PublishedCanary>;
}

const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/** A counts message from the wire, or null when it is not one (another version, garbage). */
export function parseCountsMessage(data: unknown): CountsMessage | null {
  if (typeof data !== 'object' || data === null) return null;
  const m = data as Partial<CountsMessage>;
  if (m.v !== 1 || typeof m.router !== 'string' || !Array.isArray(m.canaries)) return null;
  for (const c of m.canaries as unknown[]) {
    const p = c as Partial<PublishedCanary>;
    if (typeof c !== 'object' || c === null || typeof p.app !== 'string' || typeof p.key !== 'string'
      || !isCount(p.cr) || !isCount(p.ce) || !isCount(p.pr) || !isCount(p.pe) || !isCount(p.ab)) return null;
  }
  return m as CountsMessage;
}

export class PodCounts {
  private readonly routers = new Map<string, Router>();

  constructor(private readonly self: string, private readonly silentMs = 5000) {}

  /** Takes a router's message (our own is ignored: this router's counts are read fresh from its board). */
  update(m: CountsMessage, now: number): void {
    if (m.router === this.self) return;
    const canaries = new Map<string, PublishedCanary>();
    for (const c of m.canaries) canaries.set(`${c.app}/${c.key}`, c);
    this.routers.set(m.router, { seen: now, canaries });
  }

  /** Drops the routers silent for silentMs; returns their ids. */
  prune(now: number): string[] {
    const gone: string[] = [];
    for (const [id, r] of this.routers) {
      if (now - r.seen > this.silentMs) {
        this.routers.delete(id);
        gone.push(id);
      }
    }
    return gone;
  }

  /** Live routers other than this one. */
  get others(): number {
    return this.routers.size;
  }

  /**
   * The other live routers' counts of one canary, summed, how many of them have it, and the
   * earliest abort time one of them reports (0: none).
   */
  sum(app: string, key: string): { counts: CanaryCounts; routers: number; abortedAt: number; abortedBy: string } {
    const counts = { cr: 0, ce: 0, pr: 0, pe: 0 };
    let routers = 0;
    let abortedAt = 0;
    let abortedBy = '';
    const k = `${app}/${key}`;
    for (const [id, r] of this.routers) {
      const c = r.canaries.get(k);
      if (c === undefined) continue;
      routers++;
      counts.cr += c.cr;
      counts.ce += c.ce;
      counts.pr += c.pr;
      counts.pe += c.pe;
      if (c.ab !== 0 && (abortedAt === 0 || c.ab < abortedAt)) {
        abortedAt = c.ab;
        abortedBy = id;
      }
    }
    return { counts, routers, abortedAt, abortedBy };
  }
}
