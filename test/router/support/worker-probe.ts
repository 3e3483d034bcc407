import { Agent } from 'node:http';
import { until, type RunningRouter } from '../../support/router-harness.js';
import { get } from './http-get.js';
import { scrape, type Scrape } from './prometheus.js';

/** Requests answered by worker `i` since its thread started (-1 when it did not answer the scrape). */
export const perWorker = (m: Scrape, i: number): number => m.get('edgeplane_router_worker_requests_total', { worker: String(i) }) ?? -1;
/** The thread id of worker slot `i`. */
export const threadOf = (m: Scrape, i: number): string | undefined => m.all('edgeplane_router_worker_thread', { worker: String(i) })[0]?.labels.thread_id;

/**
 * Sends a request for `host` then one for web.example.io on the same connection, on fresh
 * connections (spread by the kernel over both workers' listen sockets), until each worker's
 * request counter has moved (the second request is the one counted: a 404 for an unknown host
 * is answered before routing and counted by no app). Every `host` answer must be `status`.
 */
export async function throughEveryWorker(router: RunningRouter, host: string, status: number): Promise<string[]> {
  const before = await scrape(router.ports.admin);
  const wrong: string[] = [];
  await until(async () => {
    for (let i = 0; i < 8; i++) {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const first = await get(router.ports.http, host, '/', agent);
      const second = await get(router.ports.http, 'web.example.io', '/', agent);
      agent.destroy();
      if (first.status !== status) wrong.push(`${host}: ${first.status}`);
      if (second.status !== 200 || !second.reusedSocket) wrong.push(`web: ${second.status}${second.reusedSocket ? '' : ' (new connection)'}`);
    }
    const now = await scrape(router.ports.admin);
    return perWorker(now, 0) > perWorker(before, 0) && perWorker(now, 1) > perWorker(before, 1);
  }, 30000, 'requests through both workers');
  return wrong;
}

