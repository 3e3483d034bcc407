/**
 * Where the router's p99 comes from (bench/PROFILE.md "Router p99"): the serving thread's loop
 * turns, GCs and run-queue waits under the same load as the request-budget bench, for the
 * minimal proxy and the router side by side. Each subject, in alternating rounds, pinned to
 * CPU 0 with the backend, the load on CPU 1, 50 connections:
 *
 * 1. wrk (3 s warm-up, then `--duration` s): req/s and p99 as the bench reports them, and the
 *    CPU time and run-queue wait of every thread of the subject and of the backend
 *    (/proc/PID/task/TID/schedstat) over the measured window;
 * 2. conn-load (bench/lib/conn-load.ts: the same load, every response's latency with its
 *    connection and end time): the latency per connection (fairness), and which of the slowest
 *    responses overlapped a long turn, a GC or a run-queue wait of the serving thread.
 *
 * The subject runs with bench/lib/loop-probe.ts preloaded (`--require`: it runs in the router's
 * worker threads too), which records every loop turn of the thread serving requests.
 *
 *   npm run build && flock /tmp/bench.lock node dist/bench/loop-turns.js [--duration 8] [--rounds 3] [--router-b=--single-threaded-gc]
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { startBackend } from './lib/backend.js';
import { wrk } from './lib/load.js';
import { LOAD_CPU, pinSelf, SUBJECT_CPU } from './lib/pinning.js';
import { stopChild } from './lib/processes.js';
import { startMinimalProxy } from './lib/peers.js';
import { BENCH_HOST, benchRouterConfig, startRouter } from './lib/router-process.js';
import { median } from './lib/stats.js';
import type { ProbeFile } from './lib/loop-probe.js';
import type { ConnLoadResult } from './lib/conn-load.js';

const PROBE = fileURLToPath(new URL('./lib/loop-probe.js', import.meta.url));
const CONN_LOAD = fileURLToPath(new URL('./lib/conn-load.js', import.meta.url));
const FIELDS = 7;

/** Per thread: CPU time (run), run-queue wait (ns) and involuntary context switches. */
interface Sched { run: number; wait: number; invol: number; name: string }

export function schedOf(pid: number): Map<string, Sched> {
  const out = new Map<string, Sched>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const [run, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(' ').map(Number);
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      const name = /^Name:\s*(.*)$/m.exec(status)?.[1] ?? '?';
      const invol = Number(/^nonvoluntary_ctxt_switches:\s*(\d+)/m.exec(status)?.[1] ?? 0);
      out.set(tid, { run, wait, invol, name: tid === String(pid) ? 'main' : name });
    } catch {
      // the thread ended
    }
  }
  return out;
}

function schedDiff(after: Map<string, Sched>, before: Map<string, Sched>): Map<string, Sched> {
  const d = new Map<string, Sched>();
  for (const [k, v] of after) {
    const b = before.get(k);
    d.set(k, { run: v.run - (b?.run ?? 0), wait: v.wait - (b?.wait ?? 0), invol: v.invol - (b?.invol ?? 0), name: v.name });
  }
  return d;
}

type Kind = 'minimal proxy' | 'router';
/** a column: a subject and the node flags it runs with */
interface Column { label: string; kind: Kind; args: string[] }

interface Turn { end: number; busy: number; span: number; reqs: number; reads: number; waitIn: number; waitBefore: number }
interface Gc { start: number; ms: number; kind: number }

interface Round {
  wrkRps: number; wrkP99: number; wrkP50: number;
  wrkWindow: [number, number];
  /** per thread over the wrk window */
  sched: Map<string, Sched>;
  backendSched: Sched;
  load: ConnLoadResult;
  turns: Turn[];
  gcs: Gc[];
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

const sortNum = (xs: number[]): number[] => xs.sort((a, b) => a - b);

async function startSubject(subject: Kind, backendPort: number, dir: string, nodeArgs: string[]): Promise<{ child: ChildProcess; port: number }> {
  if (subject === 'minimal proxy') {
    const p = await startMinimalProxy({ dir, backendPort, cpu: SUBJECT_CPU, nodeArgs });
    return { child: p.child, port: p.port };
  }
  const r = await startRouter({ dir, name: 'router-turns', cpu: SUBJECT_CPU, config: benchRouterConfig([`127.0.0.1:${backendPort}`], 1), nodeArgs });
  return { child: r.child, port: r.ports.http! };
}

async function measure(col: Column, backend: { port: number; child: ChildProcess }, durationS: number): Promise<Round> {
  const subject = col.kind;
  const extraArgs = col.args;
  const dir = mkdtempSync(join(tmpdir(), 'edgeplane-turns-'));
  process.env.LOOP_PROBE_OUT = dir;
  try {
    const s = await startSubject(subject, backend.port, dir, ['--require', PROBE, ...extraArgs]);
    const spec = { url: `http://127.0.0.1:${s.port}/bench`, host: BENCH_HOST, connections: 50, durationS: 3 };
    wrk(spec);
    const before = schedOf(s.child.pid!);
    const bBefore = schedOf(backend.child.pid!);
    const from = Date.now();
    const w = wrk({ ...spec, durationS });
    const to = Date.now();
    const sched = schedDiff(schedOf(s.child.pid!), before);
    const bd = [...schedDiff(schedOf(backend.child.pid!), bBefore).values()];
    const backendSched: Sched = { run: 0, wait: 0, invol: 0, name: 'backend' };
    for (const t of bd) {
      backendSched.run += t.run;
      backendSched.wait += t.wait;
      backendSched.invol += t.invol;
    }
    const out = join(dir, 'load.json');
    const r = spawnSync('taskset', ['-c', LOAD_CPU, process.execPath, CONN_LOAD, '--port', String(s.port), '--host', BENCH_HOST, '--connections', '50',
      '--warmup', '2', '--duration', String(durationS), '--out', out], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`conn-load failed: ${r.stderr}`);
    const load = JSON.parse(readFileSync(out, 'utf8')) as ConnLoadResult;
    await stopChild(s.child, 15_000);
    // the serving thread: the probe file with the most turns
    let best: ProbeFile | null = null;
    for (const f of readdirSync(dir).filter((x) => x.startsWith('turns-'))) {
      const p = JSON.parse(readFileSync(join(dir, f), 'utf8')) as ProbeFile;
      if (best === null || p.turns.length > best.turns.length) best = p;
    }
    if (best === null) throw new Error(`${col.label}: the loop probe wrote nothing`);
    const turns: Turn[] = [];
    for (let i = 0; i < best.turns.length; i += FIELDS) {
      const t = best.turns;
      turns.push({ end: t[i], busy: t[i + 1], span: t[i + 2], reqs: t[i + 3], reads: t[i + 4], waitIn: t[i + 5], waitBefore: t[i + 6] });
    }
    const gcs: Gc[] = [];
    for (let i = 0; i < best.gcs.length; i += 3) gcs.push({ start: best.gcs[i], ms: best.gcs[i + 1], kind: best.gcs[i + 2] });
    return { wrkRps: w.rps, wrkP99: w.p99Ms, wrkP50: w.p50Ms, wrkWindow: [from, to], sched, backendSched, load, turns, gcs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const BUCKETS_US = [50, 100, 200, 500, 1000, 2000, 5000, 10_000, Infinity];
const bucketName = (i: number): string => {
  const lo = i === 0 ? 0 : BUCKETS_US[i - 1];
  const f = (us: number): string => (us >= 1000 ? `${us / 1000} ms` : `${us} µs`);
  return BUCKETS_US[i] === Infinity ? `≥ ${f(lo)}` : `${f(lo)}–${f(BUCKETS_US[i])}`;
};

interface TurnStats {
  turnsPerS: number; reqPerTurnMean: number; reqPerTurnP99: number; reqPerTurnMax: number;
  busyP50: number; busyP99: number; busyP999: number; busyMax: number;
  /** share of turns, share of busy time, share of requests: per bucket */
  hist: { turns: number; time: number; reqs: number }[];
  waitInPerReq: number; waitBeforePerReq: number; waitInP99: number;
  usPerReqInLong: number; usPerReqInShort: number;
  gcPerS: number; gcMsPerS: number; gcMax: number; gcP99: number; minorCount: number; otherCount: number;
}

function turnStats(turns: Turn[], gcs: Gc[], [from, to]: [number, number]): TurnStats {
  const w = turns.filter((t) => t.end >= from && t.end <= to);
  const seconds = (to - from) / 1000;
  const busy = sortNum(w.map((t) => t.busy));
  const reqs = sortNum(w.map((t) => t.reqs));
  const totalReqs = reqs.reduce((a, b) => a + b, 0) || 1;
  const totalBusy = busy.reduce((a, b) => a + b, 0) || 1;
  const hist = BUCKETS_US.map(() => ({ turns: 0, time: 0, reqs: 0 }));
  for (const t of w) {
    const i = BUCKETS_US.findIndex((b) => t.busy < b);
    hist[i].turns += 1 / w.length;
    hist[i].time += t.busy / totalBusy;
    hist[i].reqs += t.reqs / totalReqs;
  }
  const long = w.filter((t) => t.busy >= 1000);
  const short = w.filter((t) => t.busy < 1000);
  const perReq = (ts: Turn[]): number => ts.reduce((a, t) => a + t.busy, 0) / Math.max(1, ts.reduce((a, t) => a + t.reqs, 0));
  const g = gcs.filter((x) => x.start >= from && x.start <= to);
  const gms = sortNum(g.map((x) => x.ms));
  return {
    turnsPerS: w.length / seconds, reqPerTurnMean: totalReqs / Math.max(1, w.length), reqPerTurnP99: percentile(reqs, 99), reqPerTurnMax: reqs.at(-1) ?? NaN,
    busyP50: percentile(busy, 50), busyP99: percentile(busy, 99), busyP999: percentile(busy, 99.9), busyMax: busy.at(-1) ?? NaN,
    hist,
    waitInPerReq: w.reduce((a, t) => a + t.waitIn, 0) / totalReqs, waitBeforePerReq: w.reduce((a, t) => a + t.waitBefore, 0) / totalReqs,
    waitInP99: percentile(sortNum(w.map((t) => t.waitIn)), 99),
    usPerReqInLong: perReq(long), usPerReqInShort: perReq(short),
    gcPerS: g.length / seconds, gcMsPerS: gms.reduce((a, b) => a + b, 0) / seconds, gcMax: gms.at(-1) ?? 0, gcP99: percentile(gms, 99),
    minorCount: g.filter((x) => x.kind === 1).length / seconds, otherCount: g.filter((x) => x.kind !== 1).length / seconds,
  };
}

interface ClientStats {
  rps: number; p50: number; p99: number; p999: number; max: number;
  connP99Min: number; connP99Median: number; connP99Max: number; connReqMin: number; connReqMax: number;
  /** of the slowest 1% of responses (and of all): share that overlapped a turn ≥ 5 ms, a GC, a run-queue wait ≥ 0.5 ms in or before a turn */
  slowLongTurn: number; allLongTurn: number; slowGc: number; allGc: number; slowWait: number; allWait: number;
  /** the slowest 1%: mean of (the longest turn busy inside the response's time) in ms */
  slowMaxTurnMs: number;
}

function clientStats(load: ConnLoadResult, turns: Turn[], gcs: Gc[]): ClientStats {
  const s = load.samples;
  const lat: number[] = [];
  const perConn: number[][] = Array.from({ length: load.connections }, () => []);
  for (let i = 0; i < s.length; i += 3) {
    lat.push(s[i + 1]);
    perConn[s[i + 2]].push(s[i + 1]);
  }
  const sorted = sortNum([...lat]);
  const p99 = percentile(sorted, 99);
  const connP99 = sortNum(perConn.filter((c) => c.length > 0).map((c) => percentile(sortNum(c), 99)));
  const counts = perConn.map((c) => c.length);
  // turns sorted by end; a turn covers [end - busy, end]
  const ends = turns.map((t) => t.end);
  const overlapping = (a: number, b: number): Turn[] => {
    // turns ending in [a, b + 50 ms] whose start is before b
    let lo = 0;
    let hi = ends.length;
    while (lo < hi) {
      const m = (lo + hi) >> 1;
      if (ends[m] < a) lo = m + 1;
      else hi = m;
    }
    const out: Turn[] = [];
    for (let i = lo; i < turns.length && ends[i] <= b + 50; i++) if (turns[i].end - (turns[i].busy + turns[i].waitBefore) / 1000 < b) out.push(turns[i]);
    return out;
  };
  const gcIn = (a: number, b: number): boolean => gcs.some((g) => g.start < b && g.start + g.ms > a);
  let slow = 0; let slowLong = 0; let slowGc = 0; let slowWait = 0; let slowMax = 0;
  let all = 0; let allLong = 0; let allGc = 0; let allWait = 0;
  for (let i = 0; i < s.length; i += 3) {
    const end = s[i];
    const l = s[i + 1];
    const a = end - l;
    const ts = overlapping(a, end);
    const long = ts.some((t) => t.busy >= 5000);
    const wait = ts.some((t) => t.waitIn + t.waitBefore >= 500);
    const gc = gcIn(a, end);
    all++;
    if (long) allLong++;
    if (gc) allGc++;
    if (wait) allWait++;
    if (l >= p99) {
      slow++;
      if (long) slowLong++;
      if (gc) slowGc++;
      if (wait) slowWait++;
      slowMax += Math.max(0, ...ts.map((t) => t.busy)) / 1000;
    }
  }
  return {
    rps: load.rps, p50: percentile(sorted, 50), p99, p999: percentile(sorted, 99.9), max: sorted.at(-1) ?? NaN,
    connP99Min: connP99[0], connP99Median: median(connP99), connP99Max: connP99.at(-1) ?? NaN,
    connReqMin: Math.min(...counts), connReqMax: Math.max(...counts),
    slowLongTurn: slowLong / Math.max(1, slow), allLongTurn: allLong / Math.max(1, all), slowGc: slowGc / Math.max(1, slow), allGc: allGc / Math.max(1, all),
    slowWait: slowWait / Math.max(1, slow), allWait: allWait / Math.max(1, all), slowMaxTurnMs: slowMax / Math.max(1, slow),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: {
    duration: { type: 'string', default: '8' }, rounds: { type: 'string', default: '3' },
    'router-args': { type: 'string', default: '' }, 'minimal-args': { type: 'string', default: '' },
    /** more columns: the router with these node flags (e.g. '--single-threaded-gc'); repeatable */
    'router-b': { type: 'string', multiple: true, default: [] },
  } });
  const durationS = Number(values.duration);
  const rounds = Number(values.rounds);
  const words = (x: string): string[] => x.split(' ').filter(Boolean);
  const columns: Column[] = [
    { label: 'minimal proxy', kind: 'minimal proxy', args: words(values['minimal-args']) },
    { label: 'router', kind: 'router', args: words(values['router-args']) },
  ];
  for (const b of values['router-b']) columns.push({ label: `router ${b.replace(/--require \S*\/([^/ ]+)\.js/g, '+$1')}`, kind: 'router', args: words(b) });
  type Subject = string;
  pinSelf();
  const backend = await startBackend();
  const results: Record<Subject, Round[]> = Object.fromEntries(columns.map((c) => [c.label, []]));
  try {
    for (let i = 0; i < rounds; i++) {
      const order = i % 2 === 0 ? columns : [...columns].reverse();
      for (const col of order) {
        const r = await measure(col, backend, durationS);
        results[col.label].push(r);
        process.stderr.write(`round ${i + 1} ${col.label}: wrk ${r.wrkRps.toFixed(0)} req/s p99 ${r.wrkP99.toFixed(2)} ms; conn-load ${r.load.rps.toFixed(0)} req/s\n`);
      }
    }
  } finally {
    await stopChild(backend.child);
  }
  const subjects: Subject[] = columns.map((c) => c.label);
  const ts = Object.fromEntries(subjects.map((k) => [k, results[k].map((r) => turnStats(r.turns, r.gcs, r.wrkWindow))])) as Record<Subject, TurnStats[]>;
  const cs = Object.fromEntries(subjects.map((k) => [k, results[k].map((r) => clientStats(r.load, r.turns, r.gcs))])) as Record<Subject, ClientStats[]>;
  const out: string[] = [];
  const f = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
  const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
  const row = (name: string, g: (k: Subject) => number[], fmt: (x: number) => string = (x) => f(x)): void => {
    out.push(`| ${name} | ${subjects.map((k) => fmt(median(g(k)))).join(' | ')} |`);
  };
  out.push(`wrk and conn-load, 50 connections, ${durationS} s measured per run, ${rounds} alternating rounds (medians); subject + backend on CPU ${SUBJECT_CPU}, load on CPU ${LOAD_CPU};`
    + ` node flags: ${columns.map((c) => `${c.label}: ${c.args.join(' ') || '(none)'}`).join('; ')}`, '');
  out.push(`| | ${subjects.join(' | ')} |`, `|---|${subjects.map(() => '---:').join('|')}|`);
  row('wrk req/s', (k) => results[k].map((r) => r.wrkRps), (x) => f(x, 0));
  row('wrk p50 ms', (k) => results[k].map((r) => r.wrkP50), (x) => f(x, 2));
  row('wrk p99 ms', (k) => results[k].map((r) => r.wrkP99), (x) => f(x, 2));
  out.push('| **serving thread, loop turns (wrk window)** | | |');
  row('turns/s', (k) => ts[k].map((t) => t.turnsPerS), (x) => f(x, 0));
  row('requests per turn: mean', (k) => ts[k].map((t) => t.reqPerTurnMean));
  row('requests per turn: p99 / max', (k) => ts[k].map((t) => t.reqPerTurnP99), (x) => f(x, 0));
  row('turn busy µs: p50', (k) => ts[k].map((t) => t.busyP50), (x) => f(x, 0));
  row('turn busy µs: p99', (k) => ts[k].map((t) => t.busyP99), (x) => f(x, 0));
  row('turn busy µs: p99.9', (k) => ts[k].map((t) => t.busyP999), (x) => f(x, 0));
  row('turn busy µs: max', (k) => ts[k].map((t) => t.busyMax), (x) => f(x, 0));
  row('busy µs per request, turns < 1 ms', (k) => ts[k].map((t) => t.usPerReqInShort));
  row('busy µs per request, turns ≥ 1 ms', (k) => ts[k].map((t) => t.usPerReqInLong));
  row('run-queue wait inside turns, µs per request', (k) => ts[k].map((t) => t.waitInPerReq));
  row('run-queue wait before turns (wake-up), µs per request', (k) => ts[k].map((t) => t.waitBeforePerReq));
  row('run-queue wait inside a turn, p99 µs', (k) => ts[k].map((t) => t.waitInP99), (x) => f(x, 0));
  row('GCs/s (scavenges / others)', (k) => ts[k].map((t) => t.gcPerS), (x) => f(x, 0));
  out.push(`| … of which not scavenges /s | ${subjects.map((k) => f(median(ts[k].map((t) => t.otherCount)))).join(' | ')} |`);
  for (const [kind, name] of [[1, 'scavenge'], [4, 'mark-compact'], [8, 'incremental marking step'], [16, 'weak callbacks']] as const) {
    out.push(`| GC ${name}: per s / ms per s / max ms | ${subjects.map((k) => {
      const g = results[k].map((r) => r.gcs.filter((x) => x.kind === kind && x.start >= r.wrkWindow[0] && x.start <= r.wrkWindow[1]));
      const secs = results[k].map((r) => (r.wrkWindow[1] - r.wrkWindow[0]) / 1000);
      return `${f(median(g.map((x, i) => x.length / secs[i])))} / ${f(median(g.map((x, i) => x.reduce((a, y) => a + y.ms, 0) / secs[i])))} / ${f(Math.max(0, ...g.flat().map((x) => x.ms)), 2)}`;
    }).join(' | ')} |`);
  }
  row('GC pause ms per s', (k) => ts[k].map((t) => t.gcMsPerS));
  row('GC pause p99 / max ms', (k) => ts[k].map((t) => t.gcP99), (x) => f(x, 2));
  out.push(`| GC pause max ms (max of rounds) | ${subjects.map((k) => f(Math.max(...ts[k].map((t) => t.gcMax)), 2)).join(' | ')} |`);
  out.push('| **threads (wrk window), µs per request** | | |');
  const perReq = (r: Round, v: number): number => v / 1000 / (r.wrkRps * (r.wrkWindow[1] - r.wrkWindow[0]) / 1000);
  const serving = (r: Round): Sched => [...r.sched.values()].reduce((a, b) => (b.run > a.run ? b : a));
  row('serving thread CPU', (k) => results[k].map((r) => perReq(r, serving(r).run)));
  row('serving thread run-queue wait', (k) => results[k].map((r) => perReq(r, serving(r).wait)));
  row('serving thread involuntary switches per 1000 requests', (k) => results[k].map((r) => serving(r).invol / (r.wrkRps * (r.wrkWindow[1] - r.wrkWindow[0]) / 1000) * 1000));
  row('other threads CPU', (k) => results[k].map((r) => perReq(r, [...r.sched.values()].reduce((a, b) => a + b.run, 0) - serving(r).run)));
  row('backend CPU', (k) => results[k].map((r) => perReq(r, r.backendSched.run)));
  row('backend run-queue wait', (k) => results[k].map((r) => perReq(r, r.backendSched.wait)));
  out.push('| **conn-load (the same load, every response kept)** | | |');
  row('req/s', (k) => cs[k].map((c) => c.rps), (x) => f(x, 0));
  row('p50 / p99 / p99.9 / max ms: p50', (k) => cs[k].map((c) => c.p50), (x) => f(x, 2));
  row('p99', (k) => cs[k].map((c) => c.p99), (x) => f(x, 2));
  row('p99.9', (k) => cs[k].map((c) => c.p999), (x) => f(x, 2));
  row('max', (k) => cs[k].map((c) => c.max), (x) => f(x, 2));
  row('per-connection p99 ms: min', (k) => cs[k].map((c) => c.connP99Min), (x) => f(x, 2));
  row('per-connection p99 ms: median', (k) => cs[k].map((c) => c.connP99Median), (x) => f(x, 2));
  row('per-connection p99 ms: max', (k) => cs[k].map((c) => c.connP99Max), (x) => f(x, 2));
  row('requests per connection: min', (k) => cs[k].map((c) => c.connReqMin), (x) => f(x, 0));
  row('requests per connection: max', (k) => cs[k].map((c) => c.connReqMax), (x) => f(x, 0));
  row('slowest 1%: overlapped a turn ≥ 5 ms', (k) => cs[k].map((c) => c.slowLongTurn), pct);
  row('all responses: overlapped a turn ≥ 5 ms', (k) => cs[k].map((c) => c.allLongTurn), pct);
  row('slowest 1%: overlapped a GC', (k) => cs[k].map((c) => c.slowGc), pct);
  row('all responses: overlapped a GC', (k) => cs[k].map((c) => c.allGc), pct);
  row('slowest 1%: overlapped a run-queue wait ≥ 0.5 ms', (k) => cs[k].map((c) => c.slowWait), pct);
  row('all responses: overlapped a run-queue wait ≥ 0.5 ms', (k) => cs[k].map((c) => c.allWait), pct);
  row('slowest 1%: mean longest turn inside, ms', (k) => cs[k].map((c) => c.slowMaxTurnMs), (x) => f(x, 2));
  out.push('', 'Turn busy time histogram (serving thread, wrk window; median of rounds): share of turns / of busy time / of requests', '');
  out.push(`| turn busy | ${subjects.map((k) => `${k}: turns | time | requests`).join(' | ')} |`, `|---|${subjects.map(() => '---:|---:|---:').join('|')}|`);
  BUCKETS_US.forEach((_, i) => {
    const cell = (k: Subject): string => {
      const m = (g: (h: TurnStats['hist'][number]) => number): string => pct(median(ts[k].map((t) => g(t.hist[i]))));
      return `${m((h) => h.turns)} | ${m((h) => h.time)} | ${m((h) => h.reqs)}`;
    };
    out.push(`| ${bucketName(i)} | ${subjects.map(cell).join(' | ')} |`);
  });
  for (const k of subjects) {
    const r = results[k][0];
    const top = [...r.sched.values()].sort((a, b) => b.run - a.run).slice(0, 7).map((t) => `${t.name} ${perReq(r, t.run).toFixed(1)}/${perReq(r, t.wait).toFixed(1)}`);
    out.push('', `${k}, round 1, threads (name CPU/run-queue-wait µs per request): ${top.join(', ')}`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
}
