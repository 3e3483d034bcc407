// Shared by the router cluster tests: N router processes with `bus` pointing at one real NATS
// cluster (the stream name namespaces a fleet), and a client for each one's admin API.
import { request } from 'undici';
import { baseConfig, startRouter, writeConfig, until, type RunningRouter } from '../../../support/router-harness.js';
import type { NatsCluster } from '../../../support/nats-cluster.js';

export interface ClusterCanary {
  app: string;
  canary: string;
  state: 'active' | 'aborted';
  counts: { canary: { requests: number; errors: number }; production: { requests: number; errors: number } };
  since: string;
  scope: 'cluster' | 'local';
  routers: number;
  local: ClusterCanary['counts'];
}

/** The config of every router of a fleet (same document: same canary keys). */
export function fleetConfig(nats: NatsCluster, stream: string, extra: Record<string, unknown>): string {
  return writeConfig(baseConfig({ workers: 1, bus: { servers: nats.servers, stream, partitions: 4, replicas: nats.nodes.length }, ...extra }));
}

/** Starts `n` routers on one config file, with access lines on stdout too (--log-stdout). */
export async function startFleet(t: { teardown(fn: () => unknown): void }, configFile: string, n: number): Promise<RunningRouter[]> {
  const routers = await Promise.all(Array.from({ length: n }, () => startRouter(configFile, ['--log-stdout'])));
  for (const r of routers) t.teardown(() => r.stop('SIGKILL'));
  return routers;
}

export async function canaries(r: RunningRouter): Promise<ClusterCanary[]> {
  const res = await request(`http://127.0.0.1:${r.ports.admin}/canaries`);
  return (await res.body.json()) as ClusterCanary[];
}

/** Waits until every router's GET /canaries satisfies `check` for its first canary. */
export async function untilAll(routers: readonly RunningRouter[], check: (c: ClusterCanary) => boolean, timeoutMs: number, what: string): Promise<void> {
  await until(async () => (await Promise.all(routers.map(canaries))).every((cs) => cs[0] !== undefined && check(cs[0])), timeoutMs, what);
}

/** The router's JSON log lines (stderr) with this msg. */
export function logs(r: RunningRouter, msg: string): { time: number; [k: string]: unknown }[] {
  const out: { time: number }[] = [];
  for (const l of r.errLines) {
    try {
      const j = JSON.parse(l) as { msg?: string; time: number };
      if (j.msg === msg) out.push(j);
    } catch { /* not JSON */ }
  }
  return out;
}

/** GETs through the routers in turn, `concurrency` at a time; the statuses, in order of sending. */
export async function spread(routers: readonly RunningRouter[], host: string, count: number, concurrency: number, stop?: () => boolean): Promise<number[]> {
  const statuses: number[] = [];
  let next = 0;
  const one = async (): Promise<void> => {
    while (next < count && !(stop?.() ?? false)) {
      const i = next++;
      const live = routers.filter((r) => r.proc.exitCode === null && r.proc.signalCode === null);
      const r = live[i % live.length];
      try {
        const res = await request(r.url(`/r/${i}`), { headers: { host } });
        await res.body.dump();
        statuses[i] = res.statusCode;
      } catch {
        statuses[i] = 0; // the router was killed under it
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, one));
  return statuses;
}
