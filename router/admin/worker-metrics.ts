import type { WorkerStats } from '../workers/worker-pool.js';

/**
 * Prometheus text for what only the main thread knows: each worker thread (its requests and
 * thread id, so an operator sees the load spread and a replaced worker) and the running config
 * version. The request metrics summed over workers are rendered by metrics/worker-stats.ts.
 */
export function renderWorkerMetrics(workers: readonly WorkerStats[], configured: number, version: string): string {
  const out: string[] = [];
  out.push('# HELP edgeplane_router_workers Worker threads configured, and ready (answering the scrape).');
  out.push('# TYPE edgeplane_router_workers gauge');
  out.push(`edgeplane_router_workers{state="configured"} ${configured}`);
  out.push(`edgeplane_router_workers{state="ready"} ${workers.length}`);
  out.push('# HELP edgeplane_router_worker_requests_total Requests answered by one worker thread since it started.');
  out.push('# TYPE edgeplane_router_worker_requests_total counter');
  for (const w of workers) {
    let n = 0;
    for (const app of Object.values(w.snapshot.apps)) for (const c of app.classes) n += c;
    out.push(`edgeplane_router_worker_requests_total{worker="${w.index}"} ${n}`);
  }
  out.push('# HELP edgeplane_router_worker_thread The thread running each worker slot (changes when a crashed worker is replaced).');
  out.push('# TYPE edgeplane_router_worker_thread gauge');
  for (const w of workers) out.push(`edgeplane_router_worker_thread{worker="${w.index}",thread_id="${w.threadId}"} 1`);
  out.push('# HELP edgeplane_router_config_info The config version every worker runs.');
  out.push('# TYPE edgeplane_router_config_info gauge');
  out.push(`edgeplane_router_config_info{version="${version}"} 1`);
  return out.join('\n') + '\n';
}
