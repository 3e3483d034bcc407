/**
 * The cost of shipping access lines to the log bus: the router (1 worker) in front of the fast
 * backend with its lines going to stdout (a file, the reference) vs to a NATS JetStream stream
 * (one nats-server, replicas 1, file storage). Router + backend on CPU 0, the load generator and
 * nats-server on CPU 1 (the bus is another machine's work in production). Each bus run checks
 * from the router's /metrics that every line was acked (or says how many were not). Every run is
 * a fresh process: warm-up (discarded), then the measured run; rounds alternate the order.
 *
 *   npm run build && node dist/bench/router-bus.js [--duration 10] [--rounds 3] [--connections 50]
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startBackend } from './lib/backend.js';
import { runLoad, type LoadResult } from './lib/load.js';
import { LOAD_CPU, SUBJECT_CPU, pinSelf, spawnPinned } from './lib/pinning.js';
import { stopChild, treeRssMb } from './lib/processes.js';
import { BENCH_HOST, benchRouterConfig, startRouter } from './lib/router-process.js';
import { ratio, spread } from './lib/stats.js';
import { okRow, renderTable, statusRow, type Row } from './lib/table.js';

export interface RouterBusBenchOptions {
  durationS?: number;
  rounds?: number;
  connections?: number;
  warmupS?: number;
  log?: (line: string) => void;
}

const GROUP = 'bus';

function natsServerPath(): string | null {
  for (const p of ['/usr/bin/nats-server', '/usr/sbin/nats-server']) if (existsSync(p)) return p;
  const r = spawnSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : null;
}

/** One JetStream nats-server on a random loopback port (read back from its ports file). */
async function startNats(bin: string, dir: string): Promise<{ child: ChildProcess; url: string }> {
  const portsDir = join(dir, 'ports');
  mkdirSync(portsDir, { recursive: true });
  const conf = join(dir, 'nats.conf');
  writeFileSync(conf, [
    'listen: "127.0.0.1:-1"',
    `ports_file_dir: "${portsDir}"`,
    `jetstream { store_dir: "${join(dir, 'store')}", max_memory_store: 256MB, max_file_store: 4GB }`,
  ].join('\n'));
  const child = spawnPinned(LOAD_CPU, bin, ['-c', conf]);
  const end = Date.now() + 20000;
  for (;;) {
    const file = readdirSync(portsDir).find((f) => f.endsWith('.ports'));
    if (file) {
      try {
        const j = JSON.parse(readFileSync(join(portsDir, file), 'utf8')) as { nats?: string[] };
        if (j.nats?.[0]) return { child, url: j.nats[0] };
      } catch { /* partly written */ }
    }
    if (child.exitCode !== null || Date.now() > end) throw new Error('nats-server did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function metric(adminPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

interface Subject { name: string; bus: boolean; reference?: boolean }

export async function runRouterBusBench(opts: RouterBusBenchOptions = {}): Promise<Row[]> {
  const durationS = opts.durationS ?? 10;
  const rounds = opts.rounds ?? 3;
  const connections = opts.connections ?? 50;
  const warmupS = opts.warmupS ?? Math.min(3, durationS);
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const subjects: Subject[] = [
    { name: 'router, 1 worker, lines to stdout', bus: false, reference: true },
    { name: 'router, 1 worker, lines to the bus', bus: true },
  ];
  const bin = natsServerPath();
  if (!bin) return subjects.map((s) => statusRow(GROUP, s.name, 'not installed', 'apt-get install nats-server', 'autocannon', 'req/s'));
  const dir = mkdtempSync(join(tmpdir(), 'edgeplane-bench-bus-'));
  const backend = await startBackend();
  const results = new Map<Subject, LoadResult[]>();
  const rss = new Map<Subject, number>();
  const notes = new Map<Subject, string>();
  const failures = new Map<Subject, string>();
  try {
    for (let round = 0; round < rounds; round++) {
      for (const s of round % 2 === 0 ? subjects : [...subjects].reverse()) {
        if (failures.has(s)) continue;
        const runDir = join(dir, `${round}-${s.bus ? 'bus' : 'stdout'}`);
        mkdirSync(runDir);
        let nats: { child: ChildProcess; url: string } | null = null;
        let router: ChildProcess | null = null;
        try {
          if (s.bus) nats = await startNats(bin, runDir);
          const extra = nats ? { bus: { servers: [nats.url], stream: 'BENCH', replicas: 1, partitions: 16 } } : {};
          const r = await startRouter({ dir: runDir, name: 'router', cpu: SUBJECT_CPU, config: benchRouterConfig([`127.0.0.1:${backend.port}`], 1, extra) });
          router = r.child;
          const spec = { url: `http://127.0.0.1:${r.ports.http}/bench`, host: BENCH_HOST, connections, durationS };
          await runLoad('autocannon', { ...spec, durationS: warmupS });
          const res = await runLoad('autocannon', spec);
          rss.set(s, treeRssMb(router.pid));
          results.set(s, [...(results.get(s) ?? []), res]);
          if (s.bus) {
            // every line acked within a few seconds after the load?
            const end = Date.now() + 10000;
            let published = 0;
            let acked = 0;
            do {
              await new Promise((w) => setTimeout(w, 200));
              published = await metric(r.ports.admin!, 'edgeplane_router_bus_published_total');
              acked = await metric(r.ports.admin!, 'edgeplane_router_bus_acked_total');
            } while (acked < published && Date.now() < end);
            const dropped = await metric(r.ports.admin!, 'edgeplane_router_bus_dropped_total{reason="overflow"}');
            notes.set(s, `${acked.toLocaleString('en-US')} of ${published.toLocaleString('en-US')} lines acked${dropped > 0 ? `, ${dropped} dropped (outbox full)` : ''}; nats-server on the load CPU`);
          }
          log(`bus round ${round + 1}/${rounds} ${s.name}: ${res.rps.toFixed(0)} req/s p50 ${res.p50Ms.toFixed(2)} ms p99 ${res.p99Ms.toFixed(2)} ms${notes.has(s) ? ` (${notes.get(s)})` : ''}`);
        } catch (err) {
          failures.set(s, (err as Error).message);
          log(`bus ${s.name} failed: ${(err as Error).message}`);
        } finally {
          if (router) await stopChild(router);
          if (nats) await stopChild(nats.child);
        }
      }
    }
  } finally {
    await stopChild(backend.child);
    rmSync(dir, { recursive: true, force: true });
  }
  const ref = subjects.find((s) => s.reference)!;
  const refRps = results.get(ref) ? spread(results.get(ref)!.map((r) => r.rps)).median : undefined;
  return subjects.map((s): Row => {
    const rs = results.get(s);
    if (!rs || failures.has(s)) return statusRow(GROUP, s.name, 'failed', failures.get(s) ?? 'no run', 'autocannon', 'req/s');
    const rps = spread(rs.map((r) => r.rps));
    return okRow({
      group: GROUP, subject: s.name, tool: 'autocannon', unit: 'req/s', value: rps,
      p50Ms: spread(rs.map((r) => r.p50Ms)).median, p99Ms: spread(rs.map((r) => r.p99Ms)).median,
      ratio: s.reference ? null : ratio(rps.median, refRps), ratioTo: s.reference ? undefined : 'lines to stdout',
      rssMb: rss.get(s), note: notes.get(s),
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { duration: { type: 'string' }, rounds: { type: 'string' }, connections: { type: 'string' } } });
  pinSelf();
  const rows = await runRouterBusBench({
    durationS: values.duration ? Number(values.duration) : undefined,
    rounds: values.rounds ? Number(values.rounds) : undefined,
    connections: values.connections ? Number(values.connections) : undefined,
  });
  process.stdout.write(`${renderTable(rows)}\n`);
}
