/**
 * The per-request CPU budget of the router against the minimal proxy (bench/PROFILE.md): each
 * subject pinned to CPU 0 with the backend, wrk on CPU 1 (50 connections) for `--duration` s
 * after a 3 s warm-up, in alternating rounds. Two measurements per subject and round:
 *
 * 1. without a profiler: CPU µs per request of every thread of the subject's process (utime +
 *    stime from /proc/PID/task/TID/stat over the measured window, by thread name), and of the
 *    backend's;
 * 2. with `--cpu-prof`: the JS thread that serves requests, its self time split by stage (by
 *    source file: front, routing, filters, exchange, upstream client, access log, metrics,
 *    Node internals, native calls, GC), each stage's share scaled to that thread's µs per
 *    request from measurement 1.
 *
 *   npm run build && node dist/bench/request-budget.js [--duration 10] [--rounds 2]
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ChildProcess } from 'node:child_process';
import { startBackend } from './lib/backend.js';
import { wrk } from './lib/load.js';
import { pinSelf, SUBJECT_CPU } from './lib/pinning.js';
import { stopChild } from './lib/processes.js';
import { startMinimalProxy } from './lib/peers.js';
import { BENCH_HOST, benchRouterConfig, startRouter } from './lib/router-process.js';
import { median } from './lib/stats.js';

const TICK_US = 1_000_000 / 100; // USER_HZ: 100 on Linux

interface ProfileNode { id: number; callFrame: { functionName: string; url: string } }
interface CpuProfile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

/** CPU time (µs) of each thread of `pid`, by `name#tid`. */
function threadCpu(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const us = (Number(f[11]) + Number(f[12])) * TICK_US; // utime, stime (fields 14, 15)
    out.set(`${tid === String(pid) ? 'main' : name}#${tid}`, us);
  }
  return out;
}

function diff(after: Map<string, number>, before: Map<string, number>): Map<string, number> {
  const d = new Map<string, number>();
  for (const [k, v] of after) d.set(k, v - (before.get(k) ?? 0));
  return d;
}

/** The stage a profile node's self time belongs to. */
function stageOf(fn: string, url: string): string | null {
  if (fn === '(idle)') return null;
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(program)') return 'native outside JS (uWS loop, libuv, syscalls not attributed)';
  if (url === '') {
    if (/^write(Latin1|Utf8|Ascii)String$|^writeBuffer$|^writev$/.test(fn)) return 'socket writes to the dyno (node:net)';
    return 'native calls (uWS methods, Buffer, crypto)';
  }
  if (url.startsWith('node:')) return 'Node internals (net, streams, timers, buffers)';
  const m = /\/dist\/(router|bench|shared)\/(.*)$/.exec(url);
  if (m === null) return url.includes('node_modules') ? 'libraries (node_modules)' : 'other JS';
  const [, top, rest] = m;
  if (top === 'bench') return 'the proxy\'s own JS (minimal-proxy.ts)';
  if (top === 'shared') return 'shared/';
  if (rest.startsWith('upstream/h1/')) return 'upstream client (router/upstream/h1)';
  if (rest.startsWith('upstream/')) return 'exchange, dyno policy (router/upstream)';
  const area = rest.split('/')[0];
  return `router/${area.endsWith('.js') ? '(top)' : area}`;
}

/** Self time (µs) per stage of the busiest profile in `dir` (the thread that served requests). */
function stages(dir: string): { busyUs: number; byStage: Map<string, number> } {
  let best: { busyUs: number; byStage: Map<string, number> } = { busyUs: 0, byStage: new Map() };
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.cpuprofile'))) {
    const p = JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile;
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    const byStage = new Map<string, number>();
    let busyUs = 0;
    for (let i = 0; i < p.samples.length; i++) {
      const n = byId.get(p.samples[i]);
      if (n === undefined) continue;
      const s = stageOf(n.callFrame.functionName, n.callFrame.url);
      if (s === null) continue;
      const dt = p.timeDeltas[i] ?? 0;
      busyUs += dt;
      byStage.set(s, (byStage.get(s) ?? 0) + dt);
    }
    if (busyUs > best.busyUs) best = { busyUs, byStage };
  }
  return best;
}

type Subject = 'minimal proxy' | 'router';

interface Started { child: ChildProcess; port: number }

async function start(subject: Subject, backendPort: number, dir: string, nodeArgs: string[]): Promise<Started> {
  if (subject === 'minimal proxy') {
    const p = await startMinimalProxy({ dir, backendPort, cpu: SUBJECT_CPU, nodeArgs });
    return { child: p.child, port: p.port };
  }
  const r = await startRouter({ dir, name: 'router-budget', cpu: SUBJECT_CPU, config: benchRouterConfig([`127.0.0.1:${backendPort}`], 1), nodeArgs });
  return { child: r.child, port: r.ports.http! };
}

interface Round { rps: number; p99Ms: number; requests: number; threads: Map<string, number>; backendUs: number; byStage: Map<string, number>; busyUs: number }

async function measure(subject: Subject, backend: { port: number; child: ChildProcess }, durationS: number): Promise<Round> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeplane-budget-'));
  try {
    // 1. no profiler: CPU per thread over the measured window
    const s = await start(subject, backend.port, dir, []);
    const spec = { url: `http://127.0.0.1:${s.port}/bench`, host: BENCH_HOST, connections: 50, durationS: 3 };
    wrk(spec);
    const before = threadCpu(s.child.pid!);
    const backendBefore = threadCpu(backend.child.pid!);
    const r = wrk({ ...spec, durationS });
    const threads = diff(threadCpu(s.child.pid!), before);
    const backendUs = [...diff(threadCpu(backend.child.pid!), backendBefore).values()].reduce((a, b) => a + b, 0);
    await stopChild(s.child, 10_000);
    // 2. the profile of the same load
    const profDir = join(dir, 'prof');
    const p = await start(subject, backend.port, dir, ['--cpu-prof', `--cpu-prof-dir=${profDir}`]);
    const pspec = { ...spec, url: `http://127.0.0.1:${p.port}/bench` };
    wrk(pspec);
    wrk({ ...pspec, durationS });
    await stopChild(p.child, 10_000);
    const { busyUs, byStage } = stages(profDir);
    return { rps: r.rps, p99Ms: r.p99Ms, requests: r.rps * durationS, threads, backendUs, byStage, busyUs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { duration: { type: 'string', default: '10' }, rounds: { type: 'string', default: '2' } } });
  const durationS = Number(values.duration);
  const rounds = Number(values.rounds);
  pinSelf();
  const backend = await startBackend();
  const results: Record<Subject, Round[]> = { 'minimal proxy': [], router: [] };
  try {
    for (let i = 0; i < rounds; i++) {
      const order: Subject[] = i % 2 === 0 ? ['minimal proxy', 'router'] : ['router', 'minimal proxy'];
      for (const subject of order) {
        const r = await measure(subject, backend, durationS);
        results[subject].push(r);
        process.stderr.write(`round ${i + 1} ${subject}: ${r.rps.toFixed(0)} req/s, p99 ${r.p99Ms.toFixed(2)} ms\n`);
      }
    }
  } finally {
    await stopChild(backend.child);
  }
  const out: string[] = [];
  const sum = (xs: Iterable<number>): number => [...xs].reduce((a, b) => a + b, 0);
  const jsThread = (r: Round): number => Math.max(...r.threads.values());
  const perReq = (rs: Round[], f: (r: Round) => number) => median(rs.map((r) => f(r) / r.requests));
  out.push(`wrk, 50 connections, ${durationS} s per run, ${rounds} alternating rounds (medians); subject + backend on CPU 0, wrk on CPU 1`, '');
  out.push('| | minimal proxy | router | difference |', '|---|---:|---:|---:|');
  const row = (name: string, f: (r: Round) => number, unit = 'µs') => {
    const a = perReq(results['minimal proxy'], f);
    const b = perReq(results.router, f);
    out.push(`| ${name} | ${a.toFixed(1)} ${unit} | ${b.toFixed(1)} ${unit} | ${(b - a).toFixed(1)} ${unit} |`);
  };
  out.push(`| req/s | ${median(results['minimal proxy'].map((r) => r.rps)).toFixed(0)} | ${median(results.router.map((r) => r.rps)).toFixed(0)} | |`);
  out.push(`| p99 ms | ${median(results['minimal proxy'].map((r) => r.p99Ms)).toFixed(2)} | ${median(results.router.map((r) => r.p99Ms)).toFixed(2)} | |`);
  row('CPU per request, whole process', (r) => sum(r.threads.values()));
  row('  the serving thread (the busiest)', (r) => jsThread(r));
  row('  every other thread (main, GC helpers, libuv pool)', (r) => sum(r.threads.values()) - jsThread(r));
  row('backend CPU per request (same CPU)', (r) => r.backendUs);
  for (const subject of ['minimal proxy', 'router'] as const) {
    const r = results[subject][0];
    const top = [...r.threads].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, v]) => `${k} ${(v / r.requests).toFixed(1)} µs`);
    out.push('', `${subject}, round 1, busiest threads (name#tid, CPU per request): ${top.join(', ')}`);
  }
  out.push('', 'The request-serving JS thread, self time by stage (share of its profile × its CPU per request):', '');
  out.push('| stage | minimal proxy µs | router µs |', '|---|---:|---:|');
  const allStages = new Set([...results['minimal proxy'], ...results.router].flatMap((r) => [...r.byStage.keys()]));
  const stageRows = [...allStages].map((s) => {
    const v = (rs: Round[]) => median(rs.map((r) => ((r.byStage.get(s) ?? 0) / Math.max(1, r.busyUs)) * (jsThread(r) / r.requests)));
    return { s, a: v(results['minimal proxy']), b: v(results.router) };
  }).sort((x, y) => y.b - x.b);
  for (const { s, a, b } of stageRows) out.push(`| ${s} | ${a.toFixed(2)} | ${b.toFixed(2)} |`);
  process.stdout.write(`${out.join('\n')}\n`);
}
