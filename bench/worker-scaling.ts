/**
 * What a second worker buys, measured where the 2-core machine allows it (bench/PROFILE.md
 * "Two workers"): the load generator cannot get CPUs of its own here, so instead of a saturated
 * throughput this bench offers the same fixed load (bench/lib/conn-load.ts `--rate`, 50
 * connections) to the router with 1 worker and with 2 workers, and measures the CPU time each
 * thread spends per request (/proc/PID/task/TID/schedstat over the window). Everything (router,
 * backend, load) may run on both CPUs; the load is well below saturation, so no thread waits for
 * a CPU long and the CPU per request is the router's own cost. From it:
 *
 * - 1 worker on a core of its own would serve at most 1e6 / (router CPU µs per request) req/s;
 * - 2 workers on two cores: each worker thread's CPU per request of the whole load, plus half
 *   the shared threads (main, V8 helpers), gives each core's load; the busier core sets the
 *   ceiling: 1e6 / max(core µs per request);
 * - their ratio is the 2-worker scaling where the load generator does not share the CPUs,
 *   assuming the CPU per request stays what it is at this load (at saturation batching makes
 *   it lower for both: the estimate is of the ratio, not of the absolute req/s).
 *
 * The split of requests between the workers is the kernel's (SO_REUSEPORT hashes each client
 * connection to one worker): its imbalance is in the estimate through the busier core.
 *
 *   npm run build && flock /tmp/bench.lock node dist/bench/worker-scaling.js [--rate 3000,6000] [--duration 8] [--rounds 2]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { startBackend } from './lib/backend.js';
import { ALL_CPUS, pinSelf } from './lib/pinning.js';
import { stopChild } from './lib/processes.js';
import { BENCH_HOST, benchRouterConfig, startRouter } from './lib/router-process.js';
import { median } from './lib/stats.js';
import type { ConnLoadResult } from './lib/conn-load.js';

const CONN_LOAD = fileURLToPath(new URL('./lib/conn-load.js', import.meta.url));

interface Run { workers: number; rate: number; rps: number; p99: number; serving: number[]; others: number; backend: number }

async function run(workers: number, rate: number, backendPort: number, backendPid: number, durationS: number): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeplane-scaling-'));
  try {
    const r = await startRouter({ dir, name: 'router-scaling', cpu: ALL_CPUS, config: benchRouterConfig([`127.0.0.1:${backendPort}`], workers) });
    const out = join(dir, 'load.json');
    const warm = 2;
    // the window: conn-load's measured part; /proc read at its edges (the load runs in its own process)
    const child = spawnSync('sh', ['-c', `taskset -c ${ALL_CPUS} ${process.execPath} ${CONN_LOAD} --port ${r.ports.http} --host ${BENCH_HOST} --connections 50 --warmup ${warm} --duration ${durationS} --rate ${rate} --out ${out} & `
      + `sleep ${warm}; cat /proc/${r.child.pid}/task/*/schedstat > ${dir}/a; cat /proc/${backendPid}/task/*/schedstat > ${dir}/ba; `
      + `sleep ${durationS}; cat /proc/${r.child.pid}/task/*/schedstat > ${dir}/b; cat /proc/${backendPid}/task/*/schedstat > ${dir}/bb; wait`], { encoding: 'utf8' });
    if (child.status !== 0) throw new Error(`conn-load failed: ${child.stderr}`);
    const load = JSON.parse(readFileSync(out, 'utf8')) as ConnLoadResult;
    const runs = (f: string): number[] => readFileSync(join(dir, f), 'utf8').trim().split('\n').map((l) => Number(l.split(' ')[0]));
    const [a, b] = [runs('a'), runs('b')];
    const d = b.map((v, i) => v - (a[i] ?? 0)).sort((x, y) => y - x);
    const requests = load.rps * durationS;
    const perReq = (ns: number): number => ns / 1000 / requests;
    const backend = runs('bb').reduce((s, v) => s + v, 0) - runs('ba').reduce((s, v) => s + v, 0);
    const lat: number[] = [];
    for (let i = 1; i < load.samples.length; i += 3) lat.push(load.samples[i]);
    lat.sort((x, y) => x - y);
    await stopChild(r.child, 10_000);
    return {
      workers, rate, rps: load.rps, p99: lat[Math.floor(lat.length * 0.99)] ?? NaN,
      serving: d.slice(0, workers).map(perReq), others: perReq(d.slice(workers).reduce((s, v) => s + v, 0)), backend: perReq(backend),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { rate: { type: 'string', default: '3000,6000' }, duration: { type: 'string', default: '8' }, rounds: { type: 'string', default: '2' } } });
  const rates = values.rate.split(',').map(Number);
  const durationS = Number(values.duration);
  const rounds = Number(values.rounds);
  pinSelf(ALL_CPUS);
  const backend = await startBackend(ALL_CPUS);
  const results: Run[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      for (const rate of rates) {
        for (const w of i % 2 === 0 ? [1, 2] : [2, 1]) {
          const r = await run(w, rate, backend.port, backend.child.pid!, durationS);
          results.push(r);
          process.stderr.write(`round ${i + 1} rate ${rate} workers ${w}: ${r.rps.toFixed(0)} req/s, serving ${r.serving.map((x) => x.toFixed(1)).join('+')} µs/req, others ${r.others.toFixed(1)}, backend ${r.backend.toFixed(1)}\n`);
        }
      }
    }
  } finally {
    await stopChild(backend.child);
  }
  const out: string[] = [`conn-load paced, 50 connections, ${durationS} s per run, ${rounds} alternating rounds (medians); router, backend and load on CPUs ${ALL_CPUS}; CPU from schedstat`, ''];
  out.push('| offered req/s | workers | served req/s | p99 ms | serving thread(s) µs/req (of all requests) | other router threads µs/req | router total µs/req | busier core µs/req (est.) | ceiling req/s (est.) | 2 workers / 1 worker (est.) |');
  out.push('|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|');
  for (const rate of rates) {
    const ceil: Record<number, number> = {};
    for (const w of [1, 2]) {
      const rs = results.filter((r) => r.rate === rate && r.workers === w);
      const serving = Array.from({ length: w }, (_, i) => median(rs.map((r) => r.serving[i])));
      const others = median(rs.map((r) => r.others));
      const total = median(rs.map((r) => r.serving.reduce((s, v) => s + v, 0) + r.others));
      // one core per worker: the busier worker's thread + its half of the shared threads
      const core = median(rs.map((r) => Math.max(...r.serving) + r.others / w));
      ceil[w] = 1e6 / core;
      out.push(`| ${rate} | ${w} | ${median(rs.map((r) => r.rps)).toFixed(0)} | ${median(rs.map((r) => r.p99)).toFixed(2)} | ${serving.map((x) => x.toFixed(1)).join(' + ')} | ${others.toFixed(1)} | ${total.toFixed(1)} | ${core.toFixed(1)} | ${ceil[w].toFixed(0)} | ${w === 2 ? `${(ceil[2] / ceil[1]).toFixed(2)}x` : ''} |`);
    }
  }
  process.stdout.write(`${out.join('\n')}\n`);
}
