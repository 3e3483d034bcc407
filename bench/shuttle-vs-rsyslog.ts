/**
 * The log shuttle as a syslog relay against rsyslog: the same octet-counted RFC5424 input sent on
 * one connection to each relay's syslog TCP port, relayed to the same sink, nothing lost (the
 * sink marks every line's sequence number: a run passes only with every line exactly once).
 * The relay runs on CPU 0; this process (generator + sink) on CPU 1. Runs alternate between the
 * relays; rows show medians with min–max of lines/s (first byte sent to last line received) and
 * the ratio to rsyslog with the same number of apps.
 *
 *   npm run build && node dist/bench/shuttle-vs-rsyslog.js [--lines 500000] [--rounds 3] [--apps 1] [--https]
 *       [--kinds shuttle,rsyslog,shuttle-https,shuttle-http] [--warmup LINES] [--cpu-prof DIR]
 *
 * --apps N interleaves N apps; each app has its own drain in both relays: the shuttle one
 * `syslog://` drain per app, rsyslog one omfwd action per app selected by `$hostname` (so N
 * connections to the sink for both). --https adds the shuttle with an HTTPS (logplex) drain to a
 * local HTTPS receiver (its ratio is still to rsyslog's TCP relay). Needs rsyslog (apt-get
 * install rsyslog), taskset, and openssl for --https.
 *
 * The clock starts at the first byte sent to a relay that has just started (after a 300 ms
 * settle) and stops at the last line the sink receives, so a cold relay's start (JIT, first
 * GCs, heap growth) is inside the window: fewer lines per run weigh it more. --warmup LINES sends
 * that many lines first, outside the window (not used by `npm run bench`). Each round line
 * also gives the CPU per line, from /proc, of the relay and of this process (generator + sink),
 * over the timed window. --kinds picks the rows (shuttle-http: the HTTPS row over plain HTTP,
 * to tell TLS's share apart); --cpu-prof DIR writes a V8 profile of every shuttle run.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { HttpsFrameSink, TcpFrameSink, type FrameSink } from './lib/frame-sink.js';
import { pinSelf, spawnPinned, SUBJECT_CPU } from './lib/pinning.js';
import { freePort, stopChild, treeRssMb, waitPort } from './lib/processes.js';
import { appName, buildSyslogInput } from './lib/syslog-input.js';
import { startRsyslog } from './lib/rsyslog.js';
import { median, ratio, spread } from './lib/stats.js';
import { okRow, renderTable, statusRow, type Row } from './lib/table.js';
import { makeLoopbackCertificate } from './lib/test-certificate.js';
import { hasTool, installHint } from './lib/tools.js';

const SHUTTLE = fileURLToPath(new URL('../logshuttle/main.js', import.meta.url));
const GROUP = 'relay';

/** shuttle-http (plain HTTP logplex drain) is a diagnostic kind: the HTTPS row without TLS */
export type RelayKind = 'shuttle' | 'rsyslog' | 'shuttle-https' | 'shuttle-http';

export interface RelayBenchOptions {
  lines?: number;
  rounds?: number;
  apps?: number;
  kinds?: readonly RelayKind[];
  /** lines sent to each relay and received before the timed run (default 0: the clock starts at the relay's first line) */
  warmupLines?: number;
  /** write a V8 CPU profile of every shuttle run into this directory (node --cpu-prof) */
  cpuProfDir?: string;
  log?: (line: string) => void;
}

/** CPU seconds (user + system) a process has used so far, from /proc (NaN when gone). */
function procCpuS(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks (USER_HZ 100)
  } catch {
    return NaN;
  }
}

function startShuttle(dir: string, port: number, drainUrl: string, apps: number, lines: number, env: NodeJS.ProcessEnv, cpuProfDir?: string): ChildProcess {
  const drains: Record<string, string[]> = {};
  for (let a = 0; a < apps; a++) drains[appName(a, apps)] = [drainUrl];
  const cfg = join(dir, 'shuttle.json');
  writeFileSync(cfg, JSON.stringify({ listen: { syslog_tcp: { host: '127.0.0.1', port } }, history: 1500, drainBuffer: lines, drains }));
  const prof = cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : [];
  return spawnPinned(SUBJECT_CPU, process.execPath, [...prof, SHUTTLE, '--config', cfg], { env: { ...process.env, LOG_LEVEL: 'warn', ...env } });
}


interface RunResult {
  linesPerSec: number;
  rssMb: number;
  /** CPU seconds per 1,000,000 lines over the measured window: the relay, and this process (generator + sink) */
  relayCpuSPerM: number;
  benchCpuSPerM: number;
}

/** One run: start the relay, send the input, wait until the sink holds every line once. */
/** Sends `input` on one connection to the relay; resolves once it is all written and closed. */
function send(port: number, input: Buffer): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.end(input));
    s.on('error', reject);
    s.on('close', () => resolve());
  });
}

async function runOnce(kind: RelayKind, input: Buffer, lines: number, apps: number, sink: FrameSink, dir: string, caFile: string, warmup: { input: Buffer; lines: number } | null, cpuProfDir?: string): Promise<RunResult> {
  const port = await freePort();
  sink.frames.reset(lines);
  const child = kind === 'rsyslog' ? startRsyslog(dir, port, sink.port, apps)
    : kind === 'shuttle' ? startShuttle(dir, port, `syslog://127.0.0.1:${sink.port}`, apps, lines, {}, cpuProfDir)
      : kind === 'shuttle-http' ? startShuttle(dir, port, `http://127.0.0.1:${sink.port}/logs`, apps, lines, {}, cpuProfDir)
        : startShuttle(dir, port, `https://127.0.0.1:${sink.port}/logs`, apps, lines, { NODE_EXTRA_CA_CERTS: caFile }, cpuProfDir);
  try {
    await waitPort(port, child);
    await new Promise((r) => setTimeout(r, 300));
    if (warmup) {
      // a warm-up outside the timed window (JIT, first GCs, heap growth): its lines are counted apart
      sink.frames.reset(warmup.lines);
      await send(port, warmup.input);
      if (!(await sink.frames.wait(180_000))) throw new Error(`${kind}: the warm-up did not arrive`);
      sink.frames.reset(lines);
    }
    const relayCpu0 = procCpuS(child.pid);
    const benchCpu0 = process.cpuUsage();
    const t0 = performance.now();
    await send(port, input);
    await sink.frames.wait(180_000);
    const perM = 1e6 / lines;
    const relayCpuSPerM = (procCpuS(child.pid) - relayCpu0) * perM;
    const benchCpu = process.cpuUsage(benchCpu0);
    const benchCpuSPerM = ((benchCpu.user + benchCpu.system) / 1e6) * perM;
    const rssMb = treeRssMb(child.pid);
    const f = sink.frames;
    if (f.count !== lines || f.dupes > 0) throw new Error(`${kind}: sink got ${f.count} frames for ${lines} lines (${f.dupes} doubled)`);
    const missing = f.missing();
    if (missing > 0) throw new Error(`${kind}: ${missing} of ${lines} lines never arrived`);
    return { linesPerSec: lines / ((f.lastAt - t0) / 1000), rssMb, relayCpuSPerM, benchCpuSPerM };
  } finally {
    await stopChild(child);
  }
}

function subjectName(kind: RelayKind, apps: number): string {
  const a = `${apps} app${apps > 1 ? 's' : ''}`;
  if (kind === 'rsyslog') return `rsyslog, ${a} (imtcp -> omfwd${apps > 1 ? ', one action per app' : ''})`;
  if (kind === 'shuttle-http') return `edgeplane shuttle, ${a}, plain HTTP (logplex) drain${apps > 1 ? ' per app' : ''}`;
  return kind === 'shuttle' ? `edgeplane shuttle, ${a}, syslog TCP drain${apps > 1 ? ' per app' : ''}` : `edgeplane shuttle, ${a}, HTTPS (logplex) drain${apps > 1 ? ' per app' : ''}`;
}

export async function runShuttleVsRsyslog(opts: RelayBenchOptions = {}): Promise<Row[]> {
  const lines = opts.lines ?? 500_000;
  const rounds = opts.rounds ?? 3;
  const apps = opts.apps ?? 1;
  const wanted = opts.kinds ?? ['shuttle', 'rsyslog'];
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const installed = (k: RelayKind) => (k === 'rsyslog' ? hasTool('rsyslogd') : k === 'shuttle-https' ? hasTool('openssl') : true);
  const kinds = wanted.filter(installed);
  const input = buildSyslogInput(lines, apps);
  const warmup = opts.warmupLines ? { input: buildSyslogInput(opts.warmupLines, apps), lines: opts.warmupLines } : null;
  const dir = mkdtempSync(join(tmpdir(), 'edgeplane-bench-relay-'));
  const tcpSink = new TcpFrameSink();
  await tcpSink.listen();
  let httpsSink: HttpsFrameSink | null = null;
  let httpSink: HttpsFrameSink | null = null;
  let caFile = '';
  if (kinds.includes('shuttle-http')) {
    httpSink = new HttpsFrameSink(null);
    await httpSink.listen();
  }
  if (kinds.includes('shuttle-https')) {
    const cert = makeLoopbackCertificate(dir);
    caFile = cert.ca;
    httpsSink = new HttpsFrameSink(cert);
    await httpsSink.listen();
  }
  const runs = new Map<RelayKind, RunResult[]>();
  const failed = new Map<RelayKind, string>();
  try {
    for (let r = 0; r < rounds; r++) {
      for (const kind of r % 2 === 0 ? kinds : [...kinds].reverse()) {
        if (failed.has(kind)) continue;
        try {
          const res = await runOnce(kind, input, lines, apps, kind === 'shuttle-https' ? httpsSink! : kind === 'shuttle-http' ? httpSink! : tcpSink, dir, caFile, warmup, opts.cpuProfDir);
          runs.set(kind, [...(runs.get(kind) ?? []), res]);
          log(`relay round ${r + 1}/${rounds} ${kind} (${apps} apps): ${Math.round(res.linesPerSec)} lines/s, RSS ${res.rssMb.toFixed(0)} MiB, `
            + `CPU per line: relay ${res.relayCpuSPerM.toFixed(2)} µs, generator + sink ${res.benchCpuSPerM.toFixed(2)} µs`);
        } catch (err) {
          failed.set(kind, (err as Error).message);
          log(`relay ${kind} (${apps} apps) failed: ${(err as Error).message}`);
        }
      }
    }
  } finally {
    await tcpSink.close();
    if (httpsSink) await httpsSink.close();
    if (httpSink) await httpSink.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const base = runs.get('rsyslog');
  const baseMedian = base ? median(base.map((x) => x.linesPerSec)) : undefined;
  return wanted.map((kind): Row => {
    const subject = subjectName(kind, apps);
    if (!installed(kind)) return statusRow(GROUP, subject, 'not installed', installHint([kind === 'rsyslog' ? 'rsyslogd' : 'openssl']), 'syslog generator', 'lines/s');
    const rs = runs.get(kind);
    if (!rs || failed.has(kind)) return statusRow(GROUP, subject, 'failed', failed.get(kind) ?? 'no run', 'syslog generator', 'lines/s');
    const v = spread(rs.map((x) => x.linesPerSec));
    return okRow({
      group: GROUP, subject, tool: 'syslog generator', unit: 'lines/s', value: v,
      ratio: ratio(v.median, baseMedian), ratioTo: `rsyslog ${apps} app${apps > 1 ? 's' : ''}`,
      rssMb: median(rs.map((x) => x.rssMb)),
      note: `${lines.toLocaleString('en-US')} lines per run, every line received once` + (kind === 'shuttle-https' ? '; ratio to rsyslog relaying over TCP' : ''),
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { lines: { type: 'string' }, rounds: { type: 'string' }, apps: { type: 'string' }, https: { type: 'boolean' }, kinds: { type: 'string' }, warmup: { type: 'string' }, 'cpu-prof': { type: 'string' } } });
  pinSelf();
  const rows = await runShuttleVsRsyslog({
    lines: values.lines ? Number(values.lines) : undefined,
    rounds: values.rounds ? Number(values.rounds) : undefined,
    apps: values.apps ? Number(values.apps) : undefined,
    kinds: values.kinds ? values.kinds.split(',') as RelayKind[] : values.https ? ['shuttle', 'rsyslog', 'shuttle-https'] : undefined,
    cpuProfDir: values['cpu-prof'],
    warmupLines: values.warmup ? Number(values.warmup) : undefined,
  });
  process.stdout.write(`${renderTable(rows)}\n`);
}
