/**
 * What a dashboard open on the admin listener costs the router: req/s through the router (1
 * worker, pinned with its backend to CPU 0, autocannon on CPU 1) with no dashboard client, and
 * with `clients` dashboard streams open (GET /stats/stream, read as they come, as the page
 * does). The per-second collection runs in both (it always does); the difference is what the
 * streams' events cost. One router process; the two conditions alternate within each round;
 * medians over the rounds, the ratio to no client.
 *
 *   npm run build && node dist/bench/router-dashboard.js [--duration 10] [--rounds 3] [--connections 50] [--clients 1]
 */
import type { ChildProcess } from 'node:child_process';
import { request, type ClientRequest } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startBackend } from './lib/backend.js';
import { runLoad, type LoadResult } from './lib/load.js';
import { pinSelf, SUBJECT_CPU } from './lib/pinning.js';
import { stopChild, treeRssMb } from './lib/processes.js';
import { BENCH_HOST, benchRouterConfig, startRouter } from './lib/router-process.js';
import { ratio, spread } from './lib/stats.js';
import { okRow, renderTable, statusRow, type Row } from './lib/table.js';

export interface DashboardBenchOptions {
  durationS?: number;
  rounds?: number;
  connections?: number;
  /** dashboard streams open in the second condition */
  clients?: number;
  warmupS?: number;
  log?: (line: string) => void;
}

const GROUP = 'dashboard';

/** An open dashboard stream: counts what it receives. */
interface Stream {
  events: number;
  bytes: number;
  close(): void;
}

function openStream(adminPort: number): Promise<Stream> {
  return new Promise((resolve, reject) => {
    let req: ClientRequest | null = null;
    const s: Stream = { events: 0, bytes: 0, close: () => req?.destroy() };
    req = request({ host: '127.0.0.1', port: adminPort, path: '/stats/stream', agent: false }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`GET /stats/stream answered ${res.statusCode}`));
      res.on('data', (c: Buffer) => {
        s.bytes += c.length;
        for (let i = c.indexOf('event:'); i >= 0; i = c.indexOf('event:', i + 6)) s.events++;
      });
      res.on('error', () => undefined);
      resolve(s);
    });
    req.on('error', reject);
    req.end();
  });
}

export async function runDashboardBench(opts: DashboardBenchOptions = {}): Promise<Row[]> {
  const durationS = opts.durationS ?? 10;
  const rounds = opts.rounds ?? 3;
  const connections = opts.connections ?? 50;
  const clients = opts.clients ?? 1;
  const warmupS = opts.warmupS ?? Math.min(3, durationS);
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const dir = mkdtempSync(join(tmpdir(), 'edgeplane-bench-dashboard-'));
  const backend = await startBackend();
  let router: ChildProcess | null = null;
  const none: LoadResult[] = [];
  const open: LoadResult[] = [];
  let received = { events: 0, bytes: 0, seconds: 0 };
  let rss = 0;
  const names = { none: 'router, 1 worker, no dashboard client', open: `router, 1 worker, ${clients} dashboard stream${clients === 1 ? '' : 's'} open` };
  try {
    const r = await startRouter({ dir, name: 'router-dashboard', cpu: SUBJECT_CPU, config: benchRouterConfig([`127.0.0.1:${backend.port}`], 1) });
    router = r.child;
    const spec = { url: `http://127.0.0.1:${r.ports.http!}/bench`, host: BENCH_HOST, connections, durationS };
    await runLoad('autocannon', { ...spec, durationS: warmupS });
    for (let round = 0; round < rounds; round++) {
      for (const withClients of round % 2 === 0 ? [false, true] : [true, false]) {
        const opened = performance.now();
        const streams = withClients ? await Promise.all(Array.from({ length: clients }, () => openStream(r.ports.admin!))) : [];
        try {
          const result = await runLoad('autocannon', spec);
          (withClients ? open : none).push(result);
          // per stream over the time it was open (the snapshot sent at once included)
          const seconds = (performance.now() - opened) / 1000;
          for (const s of streams) received = { events: received.events + s.events, bytes: received.bytes + s.bytes, seconds: received.seconds + seconds };
          log(`dashboard round ${round + 1}/${rounds} ${withClients ? names.open : names.none}: ${result.rps.toFixed(0)} req/s p99 ${result.p99Ms.toFixed(2)} ms`);
        } finally {
          for (const s of streams) s.close();
        }
      }
    }
    rss = treeRssMb(router.pid);
  } catch (err) {
    log(`dashboard bench failed: ${(err as Error).message}`);
    return [statusRow(GROUP, names.none, 'failed', (err as Error).message, 'autocannon', 'req/s')];
  } finally {
    if (router) await stopChild(router);
    await stopChild(backend.child);
    rmSync(dir, { recursive: true, force: true });
  }
  const base = spread(none.map((x) => x.rps));
  const withOpen = spread(open.map((x) => x.rps));
  const perClientSecond = received.seconds > 0 ? received.bytes / received.seconds : 0;
  return [
    okRow({ group: GROUP, subject: names.none, tool: 'autocannon', unit: 'req/s', value: base,
      p50Ms: spread(none.map((x) => x.p50Ms)).median, p99Ms: spread(none.map((x) => x.p99Ms)).median, rssMb: rss }),
    okRow({ group: GROUP, subject: names.open, tool: 'autocannon', unit: 'req/s', value: withOpen,
      p50Ms: spread(open.map((x) => x.p50Ms)).median, p99Ms: spread(open.map((x) => x.p99Ms)).median,
      ratio: ratio(withOpen.median, base.median), ratioTo: 'no dashboard client',
      note: `each stream got ${(received.seconds > 0 ? received.events / received.seconds : 0).toFixed(2)} events/s, ${(perClientSecond / 1024).toFixed(1)} KiB/s` }),
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { duration: { type: 'string' }, rounds: { type: 'string' }, connections: { type: 'string' }, clients: { type: 'string' } } });
  pinSelf();
  const rows = await runDashboardBench({
    durationS: values.duration ? Number(values.duration) : undefined,
    rounds: values.rounds ? Number(values.rounds) : undefined,
    connections: values.connections ? Number(values.connections) : undefined,
    clients: values.clients ? Number(values.clients) : undefined,
  });
  process.stdout.write(`${renderTable(rows)}\n`);
}
