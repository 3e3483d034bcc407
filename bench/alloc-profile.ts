/**
 * Where the router allocates per request: its serving worker thread sampled under wrk load
 * (bench/lib/alloc-sampler.ts: inspector `HeapProfiler.startSampling` with the objects that
 * scavenges collect counted too), printed as bytes per request by allocation site, and by the
 * nearest router (or bench) frame that caused it. Same setup as bench/request-budget.ts: the
 * subject and the backend on CPU 0, wrk on CPU 1, 50 connections, a 3 s warm-up, then `--duration`
 * s sampled. `--subject minimal` profiles bench/lib/minimal-proxy.ts (its main thread) instead.
 *
 *   npm run build && flock /tmp/bench.lock node dist/bench/alloc-profile.js [--duration 8] [--top 25]
 *     [--interval 4096] [--subject router|minimal] [--save file.heapprofile]
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

interface CallFrame { functionName: string; url: string; lineNumber: number; columnNumber: number }
interface HeapNode { callFrame: CallFrame; selfSize: number; id: number; children: HeapNode[] }
interface HeapProfile { head: HeapNode }

const SAMPLER = fileURLToPath(new URL('./lib/alloc-sampler.js', import.meta.url));

function short(url: string): string {
  const m = /\/dist\/(.*)$/.exec(url);
  if (m !== null) return m[1];
  return url.replace(/^file:\/\/.*node_modules\//, '');
}

function site(f: CallFrame): string {
  const name = f.functionName === '' ? '(anonymous)' : f.functionName;
  if (f.url === '') return name;
  return `${name} ${short(f.url)}:${f.lineNumber + 1}`;
}

/** A frame of the project's own code (router/, shared/, bench/). */
function ownFrame(f: CallFrame): boolean {
  return /\/dist\/(router|shared|bench)\//.test(f.url);
}

interface Tally { total: number; bySite: Map<string, number>; byOwner: Map<string, number>; byStack: Map<string, number> }

/** Self bytes by site, by the nearest own frame on the stack, and by a short stack (site <- own callers). */
function tally(profile: HeapProfile): Tally {
  const t: Tally = { total: 0, bySite: new Map(), byOwner: new Map(), byStack: new Map() };
  const add = (m: Map<string, number>, k: string, v: number): void => {
    m.set(k, (m.get(k) ?? 0) + v);
  };
  const walk = (n: HeapNode, stack: CallFrame[]): void => {
    stack.push(n.callFrame);
    if (n.selfSize > 0) {
      t.total += n.selfSize;
      add(t.bySite, site(n.callFrame), n.selfSize);
      let owner = '(no own frame)';
      for (let i = stack.length - 1; i >= 0; i--) {
        if (ownFrame(stack[i])) {
          owner = site(stack[i]);
          break;
        }
      }
      add(t.byOwner, owner, n.selfSize);
      // the allocating frame, then up to two own frames above it
      const parts = [site(n.callFrame)];
      for (let i = stack.length - 2; i >= 0 && parts.length < 3; i--) if (ownFrame(stack[i])) parts.push(site(stack[i]));
      add(t.byStack, parts.join(' <- '), n.selfSize);
    }
    for (const c of n.children) walk(c, stack);
    stack.pop();
  };
  walk(profile.head, []);
  return t;
}

async function waitFor(check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('alloc-profile: the sampler did not answer in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '8' },
      top: { type: 'string', default: '25' },
      interval: { type: 'string', default: '4096' },
      subject: { type: 'string', default: 'router' },
      save: { type: 'string' },
    },
  });
  const durationS = Number(values.duration);
  const top = Number(values.top);
  const subject = values.subject === 'minimal' ? 'minimal' : 'router';
  pinSelf();
  const dir = mkdtempSync(join(tmpdir(), 'edgeplane-alloc-'));
  const ctl = join(dir, 'ctl');
  mkdirSync(ctl);
  process.env.EDGEPLANE_ALLOC_DIR = ctl;
  process.env.EDGEPLANE_ALLOC_INTERVAL = values.interval;
  if (subject === 'minimal') process.env.EDGEPLANE_ALLOC_MAIN = '1';
  const backend = await startBackend();
  let child: ChildProcess | null = null;
  try {
    const nodeArgs = ['--import', SAMPLER];
    let port: number;
    if (subject === 'minimal') {
      const p = await startMinimalProxy({ dir, backendPort: backend.port, cpu: SUBJECT_CPU, nodeArgs });
      child = p.child;
      port = p.port;
    } else {
      const r = await startRouter({ dir, name: 'router-alloc', cpu: SUBJECT_CPU, config: benchRouterConfig([`127.0.0.1:${backend.port}`], 1), nodeArgs });
      child = r.child;
      port = r.ports.http!;
    }
    const spec = { url: `http://127.0.0.1:${port}/bench`, host: BENCH_HOST, connections: 50, durationS: 3 };
    wrk(spec); // warm-up: optimised code, pools full
    writeFileSync(join(ctl, 'start'), '');
    await new Promise((r) => setTimeout(r, 300));
    const r = wrk({ ...spec, durationS });
    writeFileSync(join(ctl, 'stop'), '');
    await waitFor(() => readdirSync(ctl).some((f) => f.endsWith('.done')), 30_000);
    const files = readdirSync(ctl).filter((f) => f.endsWith('.heapprofile'));
    // the serving thread: the one that allocated most
    let best: { t: Tally; file: string } | null = null;
    for (const f of files) {
      const t = tally(JSON.parse(readFileSync(join(ctl, f), 'utf8')) as HeapProfile);
      if (best === null || t.total > best.t.total) best = { t, file: f };
    }
    if (best === null) throw new Error('alloc-profile: no profile written');
    if (values.save !== undefined) copyFileSync(join(ctl, best.file), values.save);
    const requests = r.rps * durationS;
    const perReq = (b: number): string => (b / requests).toFixed(0).padStart(6);
    const out: string[] = [];
    out.push(`${subject}: ${r.rps.toFixed(0)} req/s over ${durationS} s (wrk, 50 connections), sampling interval ${values.interval} B,`,
      `objects collected by scavenges and mark-compacts included; ${(best.t.total / requests).toFixed(0)} B allocated per request on the serving thread`, '');
    const section = (title: string, m: Map<string, number>): void => {
      out.push(title);
      for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) out.push(`${perReq(v)} B  ${k}`);
      out.push('');
    };
    section('By allocation site (bytes per request):', best.t.bySite);
    section('By the nearest own frame (router/, shared/, bench/) on the stack:', best.t.byOwner);
    section('By site <- the two nearest own frames:', best.t.byStack);
    process.stdout.write(out.join('\n'));
  } finally {
    if (child !== null) await stopChild(child, 10_000);
    await stopChild(backend.child);
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  }
}
