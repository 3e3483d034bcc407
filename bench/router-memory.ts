/**
 * What the router's RSS under load is made of (bench/PROFILE.md "Router memory"), beside the
 * minimal proxy and nginx: each subject pinned to CPU 0 with the backend, idle for 3 s, then wrk
 * on CPU 1 (50 connections, 3 s warm-up, then `--duration` s). Read at idle and right after the
 * load: /proc/PID/status (RSS: anonymous, file, shmem) and /proc/PID/smaps (RSS by mapping kind:
 * the node binary and libraries, malloc arenas, anonymous mappings, stacks), and, for Node
 * subjects, every thread's heap (bench/lib/memory-probe.ts preloaded with `--require`:
 * process.memoryUsage() and V8's heap spaces per thread). Router variants (node flags) are extra
 * columns: `--variant=--max-semi-space-size=2` (repeatable).
 *
 *   npm run build && flock /tmp/bench.lock node dist/bench/router-memory.js [--duration 8] [--variant=FLAGS]…
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startBackend } from './lib/backend.js';
import { wrk } from './lib/load.js';
import type { MemorySnapshot } from './lib/memory-probe.js';
import { startMinimalProxy, startNginx } from './lib/peers.js';
import { pinSelf, SUBJECT_CPU } from './lib/pinning.js';
import { stopChild } from './lib/processes.js';
import { BENCH_HOST, benchRouterConfig, startRouter } from './lib/router-process.js';
import { hasTool } from './lib/tools.js';

const PROBE = fileURLToPath(new URL('./lib/memory-probe.js', import.meta.url));
const MiB = 1024 * 1024;

interface Column { label: string; kind: 'router' | 'minimal proxy' | 'nginx'; args: string[]; workers?: number }

interface ProcMemory {
  rss: number; anon: number; file: number; shmem: number; threads: number;
  /** RSS (bytes) by mapping kind */
  byKind: Map<string, number>;
}

/** RSS of `pid` and of its children (nginx: master + worker), by kind. */
function procMemory(pids: number[]): ProcMemory {
  const m: ProcMemory = { rss: 0, anon: 0, file: 0, shmem: 0, threads: 0, byKind: new Map() };
  for (const pid of pids) {
    const st = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string): number => Number(new RegExp(`^${k}:\\s*(\\d+)`, 'm').exec(st)?.[1] ?? 0) * 1024;
    m.rss += kb('VmRSS');
    m.anon += kb('RssAnon');
    m.file += kb('RssFile');
    m.shmem += kb('RssShmem');
    m.threads += kb('Threads') / 1024;
    let kind = '';
    let size = 0;
    for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
      const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
      if (head) {
        const [a, b] = line.split(' ')[0].split('-').map((x) => parseInt(x, 16));
        size = b - a;
        const path = head[1];
        if (path === '') kind = size >= 60 * MiB && size <= 64 * MiB ? 'anonymous: malloc arenas of threads (64 MiB reservations)' : size >= 8 * MiB - 4096 && size <= 8 * MiB + 4096 ? 'anonymous: 8 MiB (thread stacks)' : 'anonymous: other (V8 heap pages, buffers, malloc mmaps)';
        else if (path === '[heap]') kind = 'malloc main arena ([heap])';
        else if (path.startsWith('[stack')) kind = 'main stack';
        else if (path.startsWith('[')) kind = `other ${path}`;
        else if (/\/node$|\/nginx$/.test(path)) kind = 'file: the program binary';
        else kind = 'file: libraries and other files';
        continue;
      }
      const rss = /^Rss:\s+(\d+) kB/.exec(line);
      if (rss) m.byKind.set(kind, (m.byKind.get(kind) ?? 0) + Number(rss[1]) * 1024);
    }
  }
  return m;
}

function childPids(pid: number): number[] {
  const out = [pid];
  try {
    for (const c of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) out.push(Number(c));
  } catch {
    // no children file
  }
  return out;
}

function snapshots(dir: string): MemorySnapshot[] {
  return readdirSync(dir).filter((f) => f.startsWith('mem-') && f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as MemorySnapshot).sort((a, b) => Number(b.main) - Number(a.main) || a.threadId - b.threadId);
}

interface Result { idle: ProcMemory; load: ProcMemory; idleHeaps: MemorySnapshot[]; loadHeaps: MemorySnapshot[]; rps: number }

async function measure(col: Column, backendPort: number, durationS: number): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeplane-memory-'));
  const probeDir = join(dir, 'probe');
  process.env.MEMORY_PROBE_OUT = probeDir;
  await import('node:fs').then((fs) => fs.mkdirSync(probeDir));
  let child: ChildProcess | null = null;
  try {
    let port: number;
    if (col.kind === 'nginx') ({ child, port } = await startNginx({ dir, backendPort, cpu: SUBJECT_CPU }));
    else if (col.kind === 'minimal proxy') ({ child, port } = await startMinimalProxy({ dir, backendPort, cpu: SUBJECT_CPU, nodeArgs: ['--require', PROBE, ...col.args] }));
    else {
      const r = await startRouter({ dir, name: 'router-memory', cpu: SUBJECT_CPU, config: benchRouterConfig([`127.0.0.1:${backendPort}`], col.workers ?? 1), nodeArgs: ['--require', PROBE, ...col.args] });
      child = r.child;
      port = r.ports.http!;
    }
    await new Promise((r) => setTimeout(r, 3000));
    const pids = childPids(child.pid!);
    const idle = procMemory(pids);
    const idleHeaps = col.kind === 'nginx' ? [] : snapshots(probeDir);
    const spec = { url: `http://127.0.0.1:${port}/bench`, host: BENCH_HOST, connections: 50, durationS: 3 };
    wrk(spec);
    const w = wrk({ ...spec, durationS });
    const load = procMemory(pids);
    const loadHeaps = col.kind === 'nginx' ? [] : snapshots(probeDir);
    return { idle, load, idleHeaps, loadHeaps, rps: w.rps };
  } finally {
    if (child) await stopChild(child, 10_000);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { duration: { type: 'string', default: '8' }, variant: { type: 'string', multiple: true, default: [] }, workers: { type: 'string', default: '1' } } });
  const durationS = Number(values.duration);
  pinSelf();
  const columns: Column[] = [
    { label: 'router', kind: 'router', args: [], workers: Number(values.workers) },
    ...values.variant.map((v): Column => ({ label: `router ${v}`, kind: 'router', args: v.split(' ').filter(Boolean), workers: Number(values.workers) })),
    { label: 'minimal proxy', kind: 'minimal proxy', args: [] },
    ...(hasTool('nginx') ? [{ label: 'nginx', kind: 'nginx', args: [] } as Column] : []),
  ];
  const backend = await startBackend();
  const results = new Map<string, Result>();
  try {
    for (const col of columns) {
      const r = await measure(col, backend.port, durationS);
      results.set(col.label, r);
      process.stderr.write(`${col.label}: ${r.rps.toFixed(0)} req/s, RSS idle ${(r.idle.rss / MiB).toFixed(1)} MiB, under load ${(r.load.rss / MiB).toFixed(1)} MiB\n`);
    }
  } finally {
    await stopChild(backend.child);
  }
  const labels = columns.map((c) => c.label);
  const mb = (x: number | undefined): string => (x === undefined ? '' : (x / MiB).toFixed(1));
  const out: string[] = [`MiB; idle = 3 s after start, load = right after ${durationS} s of wrk (50 connections, after a 3 s warm-up); router: ${values.workers} worker(s)`, ''];
  out.push(`| | ${labels.map((l) => `${l} idle | load`).join(' | ')} |`, `|---|${labels.map(() => '---:|---:').join('|')}|`);
  const row = (name: string, g: (m: ProcMemory) => number | undefined): void => {
    out.push(`| ${name} | ${labels.map((l) => { const r = results.get(l)!; return `${mb(g(r.idle))} | ${mb(g(r.load))}`; }).join(' | ')} |`);
  };
  out.push(`| req/s | ${labels.map((l) => `| ${results.get(l)!.rps.toFixed(0)}`).join(' | ')} |`);
  row('RSS', (m) => m.rss);
  row('  anonymous', (m) => m.anon);
  row('  file (binary, libraries: shared, clean)', (m) => m.file);
  row('  shmem', (m) => m.shmem);
  out.push(`| threads | ${labels.map((l) => { const r = results.get(l)!; return `${r.idle.threads} | ${r.load.threads}`; }).join(' | ')} |`);
  const kinds = [...new Set([...results.values()].flatMap((r) => [...r.load.byKind.keys(), ...r.idle.byKind.keys()]))].sort();
  for (const k of kinds) row(`smaps: ${k}`, (m) => m.byKind.get(k) ?? 0);
  // per-thread heaps of the Node subjects
  out.push('', 'Per thread (Node subjects): process.memoryUsage() of the thread\'s isolate and its V8 spaces, MiB (idle → load)', '');
  out.push('| subject | thread | heap used | heap total | external | arrayBuffers | new space (size) | old space (size) | code space (size) | large objects (size) |', '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const l of labels) {
    const r = results.get(l)!;
    for (const s of r.loadHeaps) {
      const i = r.idleHeaps.find((x) => x.threadId === s.threadId);
      const pair = (g: (x: MemorySnapshot) => number): string => `${i ? mb(g(i)) : '?'} → ${mb(g(s))}`;
      const space = (name: string) => (x: MemorySnapshot): number => x.spaces.find((y) => y.name === name)?.size ?? 0;
      out.push(`| ${l} | ${s.main ? 'main' : `worker ${s.threadId}`} | ${pair((x) => x.usage.heapUsed)} | ${pair((x) => x.usage.heapTotal)} | ${pair((x) => x.usage.external)} | ${pair((x) => x.usage.arrayBuffers)}`
        + ` | ${pair(space('new_space'))} | ${pair(space('old_space'))} | ${pair(space('code_space'))} | ${pair(space('large_object_space'))} |`);
    }
  }
  process.stdout.write(`${out.join('\n')}\n`);
  if (!existsSync('/proc/self/smaps')) process.stderr.write('no /proc/PID/smaps: the mapping rows are empty\n');
}
