import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { BoardEntry } from '../canary/board-layout.js';

/**
 * Names the routers of one bus agree on (docs/router/cluster.md). Everything is namespaced by
 * the bus `stream`, so two router fleets on one NATS cluster (e.g. staging and production with
 * different streams) never mix their counts.
 */
export interface ClusterNames {
  /** every router's counts, at least once a second (core NATS, JSON) */
  readonly counts: string;
  /** an abort decided by one router, for all (core NATS, JSON) */
  readonly abort: string;
  /** a router that (re)connects asks the others to send their counts at once */
  readonly hello: string;
  /** KV bucket of aborts, key `<app>.<canary key>`: a router that starts later learns them */
  readonly abortsBucket: string;
}

export function clusterNames(stream: string): ClusterNames {
  return {
    counts: `edgeplane.canary.${stream}.counts`,
    abort: `edgeplane.canary.${stream}.abort`,
    hello: `edgeplane.canary.${stream}.hello`,
    abortsBucket: `${stream}_CANARY_ABORTS`,
  };
}

/** This router process, unique over restarts: `<hostname>.<pid>.<start ms>` (the pod name in Kubernetes). */
export function routerId(): string {
  return `${hostname()}.${process.pid}.${Date.now()}`;
}

const keys = new WeakMap<BoardEntry, string>();

/**
 * The canary's count key: 12 hex digits of sha256 over everything that makes the board start a
 * fresh count (canary-config.ts sameCanary: the apps, weight and abort settings). Routers
 * running the same canary settings sum their counts; a change of any of them is a new key, so a
 * new count everywhere, whatever else the config changes.
 */
export function canaryKey(e: BoardEntry): string {
  let k = keys.get(e);
  if (k === undefined) {
    k = createHash('sha256').update(JSON.stringify([e.prodApp, e.canaryApp, e.weight, e.minRequests, e.confidence, e.statuses])).digest('hex').slice(0, 12);
    keys.set(e, k);
  }
  return k;
}
