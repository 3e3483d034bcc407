/**
 * The router vs nginx vs HAProxy vs @fastify/http-proxy vs the backend direct, in front of the
 * same fast backend (bench/lib/backend.ts), one worker each, access logging on for all, the
 * proxy + backend on CPU 0 and the load on CPU 1. Load from autocannon (driven in this process);
 * wrk as a second opinion on the backend direct (where autocannon saturates), nginx and the
 * router. Also the router with 2 workers (CPUs 0-1, sharing CPU 1 with the load generator).
 * Every run is a fresh process: warm-up (discarded), then the measured run; rounds alternate the
 * order; the rows show medians with min–max, and the ratio to nginx measured by the same tool.
 *
 *   npm run build && node dist/bench/router.js [--duration 10] [--rounds 3] [--connections 50]
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startBackend } from './lib/backend.js';
import { runLoad, type LoadResult, type LoadTool } from './lib/load.js';
import { startFastify, startHaproxy, startMinimalProxy, startNginx } from './lib/peers.js';
import { ALL_CPUS, pinSelf, SUBJECT_CPU } from './lib/pinning.js';
import { stopChild, treeRssMb } from './lib/processes.js';
import { BENCH_HOST, benchRouterConfig, startRouter } from './lib/router-process.js';
import { ratio, spread } from './lib/stats.js';
import { okRow, renderTable, statusRow, type Row } from './lib/table.js';
import { hasTool, installHint, type Tool } from './lib/tools.js';

export interface ProxyBenchOptions {
  durationS?: number;
  rounds?: number;
  connections?: number;
  warmupS?: number;
  log?: (line: string) => void;
}

interface Subject {
  name: string;
  tool: LoadTool;
  needs: Tool[];
  /** the reference for ratios (nginx, per tool) */
  reference?: boolean;
  /** the minimal proxy on the router's stack (the ceiling the router is measured against, per tool) */
  ceiling?: boolean;
  note?: string;
  start: (backendPort: number, dir: string) => Promise<{ child: ChildProcess | null; port: number }>;
}

const GROUP = 'proxy';

function subjects(): Subject[] {
  const router = (workers: number) => async (backendPort: number, dir: string) => {
    const r = await startRouter({
      dir, name: `router-${workers}w`, cpu: workers > 1 ? ALL_CPUS : SUBJECT_CPU,
      config: benchRouterConfig([`127.0.0.1:${backendPort}`], workers),
    });
    return { child: r.child, port: r.ports.http! };
  };
  const nginx = (backendPort: number, dir: string) => startNginx({ dir, backendPort, cpu: SUBJECT_CPU });
  const direct = async (backendPort: number) => ({ child: null, port: backendPort });
  const minimal = (backendPort: number, dir: string) => startMinimalProxy({ dir, backendPort, cpu: SUBJECT_CPU });
  return [
    { name: 'edgeplane router, 1 worker', tool: 'autocannon', needs: [], start: router(1) },
    { name: 'nginx, 1 worker', tool: 'autocannon', needs: ['nginx'], reference: true, start: nginx },
    { name: 'minimal proxy (uWS + node:net, bench/lib)', tool: 'autocannon', needs: [], ceiling: true, start: minimal },
    { name: 'HAProxy, 1 thread', tool: 'autocannon', needs: ['haproxy'], start: (p, d) => startHaproxy({ dir: d, backendPort: p, cpu: SUBJECT_CPU }) },
    { name: '@fastify/http-proxy', tool: 'autocannon', needs: [], start: (p, d) => startFastify({ dir: d, backendPort: p, cpu: SUBJECT_CPU }) },
    { name: 'backend direct (uWS, no proxy)', tool: 'autocannon', needs: [], note: 'autocannon-bound: see the wrk row', start: direct },
    { name: 'edgeplane router, 2 workers', tool: 'autocannon', needs: [], note: 'router on CPUs 0-1: shares CPU 1 with the load generator', start: router(2) },
    { name: 'edgeplane router, 1 worker', tool: 'wrk', needs: ['wrk'], start: router(1) },
    { name: 'nginx, 1 worker', tool: 'wrk', needs: ['wrk', 'nginx'], reference: true, start: nginx },
    { name: 'minimal proxy (uWS + node:net, bench/lib)', tool: 'wrk', needs: ['wrk'], ceiling: true, start: minimal },
    { name: 'backend direct (uWS, no proxy)', tool: 'wrk', needs: ['wrk'], start: direct },
  ];
}

export async function runProxyBench(opts: ProxyBenchOptions = {}): Promise<Row[]> {
  const durationS = opts.durationS ?? 10;
  const rounds = opts.rounds ?? 3;
  const connections = opts.connections ?? 50;
  const warmupS = opts.warmupS ?? Math.min(3, durationS);
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const all = subjects();
  const runnable = all.filter((s) => s.needs.every(hasTool));
  const dir = mkdtempSync(join(tmpdir(), 'edgeplane-bench-proxy-'));
  const backend = await startBackend();
  const results = new Map<Subject, LoadResult[]>();
  const rss = new Map<Subject, number>();
  const failures = new Map<Subject, string>();
  try {
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? runnable : [...runnable].reverse();
      for (const s of order) {
        if (failures.has(s)) continue;
        let child: ChildProcess | null = null;
        try {
          const started = await s.start(backend.port, dir);
          child = started.child;
          const spec = { url: `http://127.0.0.1:${started.port}/bench`, host: BENCH_HOST, connections, durationS };
          await runLoad(s.tool, { ...spec, durationS: warmupS });
          const r = await runLoad(s.tool, spec);
          rss.set(s, treeRssMb(child?.pid));
          results.set(s, [...(results.get(s) ?? []), r]);
          log(`proxy round ${round + 1}/${rounds} ${s.name} (${s.tool}): ${r.rps.toFixed(0)} req/s p50 ${r.p50Ms.toFixed(2)} ms p99 ${r.p99Ms.toFixed(2)} ms`);
        } catch (err) {
          failures.set(s, (err as Error).message);
          log(`proxy ${s.name} (${s.tool}) failed: ${(err as Error).message}`);
        } finally {
          if (child) await stopChild(child);
        }
      }
    }
  } finally {
    await stopChild(backend.child);
    rmSync(dir, { recursive: true, force: true });
  }
  const medianOf = (s: Subject | undefined, pick: (r: LoadResult) => number) => {
    const rs = s ? results.get(s) : undefined;
    return rs ? spread(rs.map(pick)).median : undefined;
  };
  return all.map((s): Row => {
    if (!s.needs.every(hasTool)) {
      const hint = installHint(s.needs);
      return statusRow(GROUP, s.name, 'not installed', hint, s.tool, 'req/s');
    }
    const rs = results.get(s);
    if (!rs || failures.has(s)) return statusRow(GROUP, s.name, 'failed', failures.get(s) ?? 'no run', s.tool, 'req/s');
    const ref = all.find((x) => x.reference && x.tool === s.tool);
    const refName = `nginx (${s.tool})`;
    const rps = spread(rs.map((r) => r.rps));
    const p99 = spread(rs.map((r) => r.p99Ms)).median;
    const p99Ratio = ratio(p99, medianOf(ref, (r) => r.p99Ms));
    const ceiling = all.find((x) => x.ceiling && x.tool === s.tool);
    const toCeiling = s.name.startsWith('edgeplane') ? ratio(rps.median, medianOf(ceiling, (r) => r.rps)) : null;
    const notes = [s.note, toCeiling !== null ? `${toCeiling.toFixed(2)}x the minimal proxy` : '',
      !s.reference && p99Ratio !== null ? `p99 ${p99Ratio.toFixed(2)}x nginx` : ''].filter(Boolean).join('; ');
    return okRow({
      group: GROUP, subject: s.name, tool: s.tool, unit: 'req/s', value: rps,
      p50Ms: spread(rs.map((r) => r.p50Ms)).median, p99Ms: p99,
      ratio: ratio(rps.median, medianOf(ref, (r) => r.rps)), ratioTo: refName,
      rssMb: rss.get(s), note: notes || undefined,
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { duration: { type: 'string' }, rounds: { type: 'string' }, connections: { type: 'string' } } });
  pinSelf();
  const rows = await runProxyBench({
    durationS: values.duration ? Number(values.duration) : undefined,
    rounds: values.rounds ? Number(values.rounds) : undefined,
    connections: values.connections ? Number(values.connections) : undefined,
  });
  process.stdout.write(`${renderTable(rows)}\n`);
}
