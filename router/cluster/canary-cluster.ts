import type { Logger } from '../../shared/logger.js';
import type { CanaryBoard, CanarySnapshot } from '../canary/canary-board.js';
import type { BoardEntry } from '../canary/board-layout.js';
import type { CanaryAbortEvent } from '../canary/canary-view.js';
import { formatCanaryAbortLine } from '../canary/abort-line.js';
import { abortThreshold, shouldAbort } from '../canary/sequential-test.js';
import { canaryKey } from './cluster-names.js';
import type { CountsMessage, PodCounts, PublishedCanary } from './pod-counts.js';

/** An abort decided by one router (JSON on `edgeplane.canary.<stream>.abort`, and the KV value). */
export interface AbortMessage {
  v: 1;
  router: string;
  app: string;
  key: string;
  /** epoch ms of the decision: what every router's `GET /canaries` shows as `since` */
  time: number;
  counts: CanaryAbortEvent['counts'];
}

export function parseAbortMessage(data: unknown): AbortMessage | null {
  if (typeof data !== 'object' || data === null) return null;
  const m = data as Partial<AbortMessage>;
  if (m.v !== 1 || typeof m.router !== 'string' || typeof m.app !== 'string' || typeof m.key !== 'string'
    || typeof m.time !== 'number' || !(m.time > 0)) return null;
  return m as AbortMessage;
}

/** A canary as `GET /canaries` shows it on a router with a bus. */
export interface ClusterCanarySnapshot extends CanarySnapshot {
  /** `cluster`: counts are the sum of every live router's; `local`: this router's alone (the bus is down) */
  scope: 'cluster' | 'local';
  /** the routers whose counts are summed, this one included */
  routers: number;
  /** this router's own counts */
  local: CanarySnapshot['counts'];
}

/** What the canary side needs of the cluster link (router-cluster.ts). */
export interface CanaryLink {
  readonly routerId: string;
  /** the bus is up: the cluster decides (else the workers decide locally) */
  connected(): boolean;
  publishAbort(m: AbortMessage): void;
  /** records the abort in KV (a router that starts later learns it); resolves false when it could not */
  storeAbort(m: AbortMessage): Promise<boolean>;
  /** writes a router line to an app's stream */
  writeLine(app: string, line: string, time: number): void;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  onAbort(decided: 'here' | 'elsewhere'): void;
}

interface Local {
  entry: BoardEntry;
  key: string;
  snap: CanarySnapshot;
}

/**
 * Cluster-wide canary decisions on the main thread (docs/router/cluster.md). The workers keep
 * counting into the board's shared memory but, while the bus is up, do not decide (the board is
 * `deferred`); this router sums its own counts (read fresh from the board) with the latest counts
 * of every other live router for the same canary key and runs the same sequential test on the
 * sum. The first router whose sum reaches the bound aborts: its board at once, the abort line
 * to both apps' streams, the abort to every router (core NATS) and to KV. A router obeys an
 * abort it hears of (message, KV, or another router's counts saying aborted) for the canary key
 * it runs.
 */
export class CanaryCluster {
  /** aborts of this router (or heard of) already in KV: `<app>/<key>` */
  private readonly stored = new Set<string>();
  /** canary keys looked up in KV since the last (re)connect */
  private readonly checked = new Set<string>();

  constructor(private readonly board: CanaryBoard, private readonly pods: PodCounts, private readonly link: CanaryLink) {}

  /** This router's canaries: board entry, count key and local snapshot. */
  private locals(): Local[] {
    const entries = new Map(this.board.description().canaries.map((e) => [e.prodApp, e]));
    const out: Local[] = [];
    for (const snap of this.board.snapshot()) {
      const entry = entries.get(snap.app);
      if (entry !== undefined) out.push({ entry, key: canaryKey(entry), snap });
    }
    return out;
  }

  /** This router's counts message. */
  counts(): CountsMessage {
    return {
      v: 1, router: this.link.routerId,
      canaries: this.locals().map(({ entry, key, snap }): PublishedCanary => ({
        app: entry.prodApp, key,
        cr: snap.counts.canary.requests, ce: snap.counts.canary.errors,
        pr: snap.counts.production.requests, pe: snap.counts.production.errors,
        ab: snap.state === 'aborted' ? Date.parse(snap.since) : 0,
      })),
    };
  }

  /**
   * Runs the test on every active canary's cluster sum (with `decide`), obeys aborts other
   * routers report in their counts, and publishes aborts this router's workers decided while the
   * bus was down. Called with `decide` on this router's own tick only: routers tick at unrelated
   * phases, so two of them rarely decide on the same message at once. On a message received,
   * without. Does nothing while the bus is down.
   */
  evaluate(decide: boolean): void {
    if (!this.link.connected()) return;
    for (const l of this.locals()) {
      const others = this.pods.sum(l.entry.prodApp, l.key);
      const id = `${l.entry.prodApp}/${l.key}`;
      if (l.snap.state === 'aborted') {
        // decided here by a worker (the bus was down then) or by us: make sure the cluster knows
        if (!this.stored.has(id)) this.share(l, Date.parse(l.snap.since), sumOf(l.snap, others.counts));
        continue;
      }
      if (others.abortedAt !== 0) {
        this.obey(l, others.abortedAt, others.abortedBy, 'counts');
        continue;
      }
      if (!decide) continue;
      const s = sumOf(l.snap, others.counts);
      const e = l.entry;
      if (!shouldAbort(s.canary.requests, s.canary.errors, s.production.errors, e.weight / 100, e.minRequests, abortThreshold(e.confidence))) continue;
      const time = Date.now();
      if (!this.board.abort(e.prodApp, time)) continue;
      this.link.onAbort('here');
      const event: CanaryAbortEvent = {
        prodApp: e.prodApp, canaryApp: e.canaryApp, slot: e.slot, generation: 0, weight: e.weight, confidence: e.confidence, time,
        counts: s, rates: { canary: rate(s.canary), production: rate(s.production) },
      };
      const line = formatCanaryAbortLine(event);
      this.link.writeLine(e.prodApp, line, time);
      this.link.writeLine(e.canaryApp, line, time);
      this.link.logger.warn({ app: e.prodApp, canary: e.canaryApp, key: l.key, counts: s, routers: others.routers + 1 }, 'canary aborted (cluster decision)');
      this.share(l, time, s);
    }
  }

  /** An abort message (or KV entry): obeyed when it is for a canary key this router runs. */
  onAbortMessage(m: AbortMessage, via: 'message' | 'kv'): void {
    const l = this.locals().find((x) => x.entry.prodApp === m.app && x.key === m.key);
    if (l === undefined || l.snap.state === 'aborted') return;
    this.obey(l, m.time, m.router, via);
  }

  /**
   * Looks up, in KV, the aborts of canary keys not looked up since the last (re)connect: how a
   * router that starts (or reconnects) later learns them.
   */
  async checkStored(get: (app: string, key: string) => Promise<AbortMessage | null>): Promise<void> {
    for (const l of this.locals()) {
      const id = `${l.entry.prodApp}/${l.key}`;
      if (this.checked.has(id)) continue;
      const m = await get(l.entry.prodApp, l.key);
      this.checked.add(id);
      if (m !== null) this.onAbortMessage(m, 'kv');
    }
  }

  /** After a reconnect: look everything up again (aborts may have been decided meanwhile). */
  reconnected(): void {
    this.checked.clear();
  }

  /** What `GET /canaries` answers with a bus. */
  snapshot(): ClusterCanarySnapshot[] {
    const cluster = this.link.connected();
    return this.locals().map(({ entry, key, snap }) => {
      const others = cluster ? this.pods.sum(entry.prodApp, key) : null;
      const counts = others === null ? snap.counts : sumOf(snap, others.counts);
      // two routers may reach the bound within the same few ms: every router shows the earliest decision
      const since = snap.state === 'aborted' && others !== null && others.abortedAt !== 0 && others.abortedAt < Date.parse(snap.since)
        ? new Date(others.abortedAt).toISOString() : snap.since;
      return {
        ...snap, counts, since,
        rates: { canary: rate(counts.canary), production: rate(counts.production) },
        scope: cluster ? 'cluster' : 'local',
        routers: 1 + (others?.routers ?? 0),
        local: snap.counts,
      };
    });
  }

  private obey(l: Local, time: number, by: string, via: string): void {
    // the router that decided it stores it
    this.stored.add(`${l.entry.prodApp}/${l.key}`);
    if (!this.board.abort(l.entry.prodApp, time)) return;
    this.link.onAbort('elsewhere');
    this.link.logger.warn({ app: l.entry.prodApp, canary: l.entry.canaryApp, key: l.key, by, via }, 'canary aborted by another router');
  }

  /** Tells every router (message now) and every later one (KV, retried each tick until stored). */
  private share(l: Local, time: number, counts: CanaryAbortEvent['counts']): void {
    const id = `${l.entry.prodApp}/${l.key}`;
    const m: AbortMessage = { v: 1, router: this.link.routerId, app: l.entry.prodApp, key: l.key, time, counts };
    this.link.publishAbort(m);
    this.stored.add(id);
    void this.link.storeAbort(m).then((ok) => { if (!ok) this.stored.delete(id); });
  }
}

function rate(c: { requests: number; errors: number }): number {
  return c.requests === 0 ? 0 : c.errors / c.requests;
}

function sumOf(snap: CanarySnapshot, o: { cr: number; ce: number; pr: number; pe: number }): CanaryAbortEvent['counts'] {
  const { canary, production } = snap.counts;
  return {
    canary: { requests: canary.requests + o.cr, errors: canary.errors + o.ce },
    production: { requests: production.requests + o.pr, errors: production.errors + o.pe },
  };
}
