/**
 * The log shuttle relaying through the bus (NATS JetStream) against the direct relay and rsyslog,
 * in the same run: syslog TCP in, out to a syslog TCP drain per app, every line checked to arrive
 * exactly once (a run with a line missing or twice fails its row).
 *
 *   direct   one shuttle without a bus (the ingest hands lines to the drains in process)
 *   rsyslog  imtcp -> omfwd, as in shuttle-vs-rsyslog.ts (a row saying so when not installed)
 *   bus      1 and 2 shuttle replicas with a `bus`: ingest publishes to the log stream, the
 *            partition owner pulls, writes to the drain, acknowledges. The input is split
 *            evenly over the replicas' syslog ports. Each run gets a fresh standalone JetStream
 *            server (stream R1: this measures the shuttle, not a cluster's replication).
 *
 * with 1 app and 100 apps. Rows: lines/s (first byte sent to last line received), median with
 * min-max; the bus rows' ratio is to the direct relay with the same apps (the note adds the
 * ratio to rsyslog and to 1 replica). Every relay process and nats-server share CPU 0; the
 * generator and sink run on CPU 1: on a 2-core machine the 2-replica rows show the cost of the
 * hand-off, not a scale-out, and nats-server takes CPU from the replicas.
 *
 * Memory rows: `--mem-apps` apps (default 10,000), `--mem-lines` lines each, through 1 and 2
 * replicas (no drains: the replica's own memory, its rings and bus client), once every line was
 * taken from the bus (delivered_total); RSS per replica, against one direct shuttle given the
 * same lines.
 *
 *   npm run build && node dist/bench/shuttle-bus.js [--lines 200000] [--rounds 3] [--apps 1,100] [--replicas 1,2]
 *       [--mem-apps 10000] [--mem-lines 10] [--cpu-prof DIR]
 *
 * --mem-apps 0 leaves the memory rows out. Needs nats-server (apt-get install nats-server) and
 * taskset; rsyslog for its rows.
 */
import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { TcpFrameSink } from './lib/frame-sink.js';
import { pinSelf, spawnPinned, SUBJECT_CPU } from './lib/pinning.js';
import { freePort, stopChild, treeRssMb, waitPort } from './lib/processes.js';
import { appName, buildSyslogInput } from './lib/syslog-input.js';
import { startRsyslog } from './lib/rsyslog.js';
import { median, ratio, spread } from './lib/stats.js';
import { okRow, renderTable, statusRow, type Row } from './lib/table.js';
import { hasTool } from './lib/tools.js';

const SHUTTLE = fileURLToPath(new URL('../logshuttle/main.js', import.meta.url));
const GROUP = 'relay-bus';

export interface BusBenchOptions {
  lines?: number;
  rounds?: number;
  apps?: readonly number[];
  replicas?: readonly number[];
  /** apps of the memory rows (0: none); default 10,000 */
  memApps?: number;
  /** lines per app of the memory rows; default 10 */
  memLines?: number;
  /** write a V8 CPU profile of every bus replica into this directory (node --cpu-prof) */
  cpuProfDir?: string;
  log?: (line: string) => void;
}

interface Replica {
  child: ChildProcess;
  syslog: number;
  http: number;
}

type Kind = 'direct' | 'rsyslog' | number;

const plural = (n: number, word: string): string => `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;

async function startNats(dir: string): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawnPinned(SUBJECT_CPU, 'nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', join(dir, 'nats')]);
  await waitPort(port, child);
  return { child, url: `nats://127.0.0.1:${port}` };
}

function drainsFor(apps: number, sinkPort: number | null): Record<string, string[]> {
  const drains: Record<string, string[]> = {};
  if (sinkPort !== null) for (let a = 0; a < apps; a++) drains[appName(a, apps)] = [`syslog://127.0.0.1:${sinkPort}`];
  return drains;
}

/** A shuttle (bus mode when `natsUrl` is given) with a syslog TCP and an HTTP port. */
async function startShuttle(dir: string, name: string, natsUrl: string | null, drains: Record<string, string[]>, drainBuffer: number, cpuProfDir?: string): Promise<Replica> {
  const syslog = await freePort();
  const http = await freePort();
  const cfg = join(dir, `${name}.json`);
  writeFileSync(cfg, JSON.stringify({
    listen: { syslog_tcp: { host: '127.0.0.1', port: syslog }, http: { host: '127.0.0.1', port: http } },
    history: 1500, drainBuffer, drains,
    ...(natsUrl ? { bus: { servers: [natsUrl], replicas: 1, partitions: 16, max_age_s: 600 } } : {}),
  }));
  const prof = cpuProfDir && natsUrl ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : [];
  const child = spawnPinned(SUBJECT_CPU, process.execPath, [...prof, SHUTTLE, '--config', cfg], { env: { ...process.env, LOG_LEVEL: 'warn' } });
  await waitPort(http, child);
  await waitPort(syslog, child);
  return { child, syslog, http };
}


async function readyz(r: Replica): Promise<{ ready: boolean; partitions: number }> {
  try {
    const res = await fetch(`http://127.0.0.1:${r.http}/readyz`);
    const body = await res.json() as { partitions?: number[] };
    return { ready: res.status === 200, partitions: body.partitions?.length ?? 0 };
  } catch {
    return { ready: false, partitions: 0 };
  }
}

/** Until every replica is ready and owns its share of the 16 partitions. */
async function waitBalanced(rs: Replica[], timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const st = await Promise.all(rs.map(readyz));
    if (st.every((s) => s.ready && s.partitions === 16 / rs.length)) return;
    if (Date.now() > end) throw new Error(`partitions not balanced: ${st.map((s) => s.partitions).join('/')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Sum of a counter over the replicas' /metrics (every label set). */
async function counter(rs: Replica[], name: string): Promise<number> {
  let sum = 0;
  for (const r of rs) {
    const text = await (await fetch(`http://127.0.0.1:${r.http}/metrics`)).text();
    for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum += Number(m[1]);
  }
  return sum;
}

/** Sends each part on its own connection to the matching port; resolves when all are sent. */
function send(ports: number[], parts: Buffer[]): Promise<void> {
  return Promise.all(ports.map((port, i) => new Promise<void>((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.end(parts[i]));
    s.on('error', reject);
    s.on('close', () => resolve());
  }))).then(() => undefined);
}

interface RunResult { linesPerSec: number; rssMb: number }

/** One relay run: start it, send the input, wait until the sink holds every line exactly once. */
async function runOnce(kind: Kind, lines: number, apps: number, input: Buffer[], sink: TcpFrameSink, cpuProfDir?: string): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeplane-bench-bus-'));
  const children: ChildProcess[] = [];
  let nats: { child: ChildProcess; url: string } | null = null;
  try {
    sink.frames.reset(lines);
    let ports: number[];
    if (kind === 'rsyslog') {
      const port = await freePort();
      children.push(startRsyslog(dir, port, sink.port, apps));
      await waitPort(port, children[0]);
      await new Promise((r) => setTimeout(r, 300));
      ports = [port];
    } else if (kind === 'direct') {
      const s = await startShuttle(dir, 'direct', null, drainsFor(apps, sink.port), lines);
      children.push(s.child);
      ports = [s.syslog];
    } else {
      nats = await startNats(dir);
      const rs: Replica[] = [];
      for (let i = 0; i < kind; i++) rs.push(await startShuttle(dir, `replica-${i}`, nats.url, drainsFor(apps, sink.port), lines, cpuProfDir));
      children.push(...rs.map((r) => r.child));
      await waitBalanced(rs);
      ports = rs.map((r) => r.syslog);
    }
    const t0 = performance.now();
    await send(ports, input);
    if (!(await sink.frames.wait(300_000))) throw new Error(`sink got ${sink.frames.count} of ${lines} lines in 300 s`);
    const f = sink.frames;
    if (f.dupes > 0) throw new Error(`${f.dupes} lines arrived twice`);
    const missing = f.missing();
    if (missing > 0) throw new Error(`${missing} of ${lines} lines never arrived`);
    const rssMb = children.reduce((n, c) => n + treeRssMb(c.pid), 0);
    return { linesPerSec: lines / ((f.lastAt - t0) / 1000), rssMb };
  } finally {
    await Promise.all(children.map((c) => stopChild(c, 12_000)));
    if (nats) await stopChild(nats.child);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The input split over `parts` connections: frame i goes to part i mod parts. */
function splitInput(all: Buffer, parts: number): Buffer[] {
  if (parts === 1) return [all];
  const out: Buffer[][] = Array.from({ length: parts }, () => []);
  let off = 0;
  for (let i = 0; off < all.length; i++) {
    const sp = all.indexOf(0x20, off);
    const end = sp + 1 + Number(all.toString('latin1', off, sp));
    out[i % parts].push(all.subarray(off, end));
    off = end;
  }
  return out.map((p) => Buffer.concat(p));
}

/**
 * Memory of each relay given `apps` x `perApp` lines (no drains), once every line was taken in:
 * RSS per process (per replica for the bus).
 */
async function memoryOnce(kind: 'direct' | number, apps: number, perApp: number, input: Buffer): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeplane-bench-busmem-'));
  const lines = apps * perApp;
  let nats: { child: ChildProcess; url: string } | null = null;
  const rs: Replica[] = [];
  try {
    if (kind === 'direct') {
      rs.push(await startShuttle(dir, 'direct', null, {}, 1000));
    } else {
      nats = await startNats(dir);
      for (let i = 0; i < kind; i++) rs.push(await startShuttle(dir, `replica-${i}`, nats.url, {}, 1000));
      await waitBalanced(rs);
    }
    await send(rs.map((r) => r.syslog), splitInput(input, rs.length));
    const metric = kind === 'direct' ? 'edgeplane_shuttle_lines_in_total' : 'edgeplane_shuttle_bus_delivered_total';
    const end = Date.now() + 300_000;
    let got = 0;
    while ((got = await counter(rs, metric)) < lines) {
      if (Date.now() > end) throw new Error(`${got} of ${lines} lines taken in after 300 s`);
      await new Promise((r) => setTimeout(r, 250));
    }
    if (got > lines) throw new Error(`${got} lines taken in for ${lines} sent (redelivered)`);
    await new Promise((r) => setTimeout(r, 1000)); // acks and pulls settle
    return rs.map((r) => treeRssMb(r.child.pid));
  } finally {
    await Promise.all(rs.map((r) => stopChild(r.child, 12_000)));
    if (nats) await stopChild(nats.child);
    rmSync(dir, { recursive: true, force: true });
  }
}

function busSubject(apps: number, replicas: number): string {
  return `edgeplane shuttle via the bus, ${plural(replicas, 'replica')}, ${plural(apps, 'app')}, syslog TCP drain${apps > 1 ? ' per app' : ''}`;
}

function kindSubject(kind: Kind, apps: number): string {
  if (kind === 'direct') return `edgeplane shuttle, direct relay (no bus), ${plural(apps, 'app')}, syslog TCP drain${apps > 1 ? ' per app' : ''}`;
  if (kind === 'rsyslog') return `rsyslog, ${plural(apps, 'app')} (imtcp -> omfwd)`;
  return busSubject(apps, kind);
}

export async function runShuttleBus(opts: BusBenchOptions = {}): Promise<Row[]> {
  const lines = opts.lines ?? 200_000;
  const rounds = opts.rounds ?? 3;
  const appsList = opts.apps ?? [1, 100];
  const replicaList = opts.replicas ?? [1, 2];
  const memApps = opts.memApps ?? 10_000;
  const memLines = opts.memLines ?? 10;
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  if (spawnSync('sh', ['-c', 'command -v nats-server'], { stdio: 'ignore' }).status !== 0) {
    return appsList.flatMap((a) => replicaList.map((r) => statusRow(GROUP, busSubject(a, r), 'not installed', 'apt-get install -y nats-server', 'syslog generator', 'lines/s')));
  }
  const withRsyslog = hasTool('rsyslogd');
  const kinds: Kind[] = ['direct', ...(withRsyslog ? ['rsyslog' as const] : []), ...replicaList];
  const sink = new TcpFrameSink();
  await sink.listen();
  const rows: Row[] = [];
  try {
    for (const apps of appsList) {
      const runs = new Map<Kind, RunResult[]>();
      const failed = new Map<Kind, string>();
      const all = buildSyslogInput(lines, apps);
      for (let round = 0; round < rounds; round++) {
        for (const kind of round % 2 === 0 ? kinds : [...kinds].reverse()) {
          if (failed.has(kind)) continue;
          try {
            const res = await runOnce(kind, lines, apps, splitInput(all, typeof kind === 'number' ? kind : 1), sink, opts.cpuProfDir);
            runs.set(kind, [...(runs.get(kind) ?? []), res]);
            log(`bus relay round ${round + 1}/${rounds}, ${kindSubject(kind, apps)}: ${Math.round(res.linesPerSec)} lines/s, RSS ${res.rssMb.toFixed(0)} MiB`);
          } catch (err) {
            failed.set(kind, (err as Error).message);
            log(`bus relay ${kindSubject(kind, apps)} failed: ${(err as Error).message}`);
          }
        }
      }
      const med = (k: Kind): number | undefined => (runs.has(k) && !failed.has(k) ? median(runs.get(k)!.map((x) => x.linesPerSec)) : undefined);
      const direct = med('direct');
      const rsyslog = med('rsyslog');
      const note = `${lines.toLocaleString('en-US')} lines per run, every line received once`;
      if (!withRsyslog) rows.push(statusRow(GROUP, kindSubject('rsyslog', apps), 'not installed', 'apt-get install -y rsyslog', 'syslog generator', 'lines/s'));
      for (const kind of kinds) {
        const rs = runs.get(kind);
        if (!rs || failed.has(kind)) {
          rows.push(statusRow(GROUP, kindSubject(kind, apps), 'failed', failed.get(kind) ?? 'no run', 'syslog generator', 'lines/s'));
          continue;
        }
        const v = spread(rs.map((x) => x.linesPerSec));
        const rssMb = median(rs.map((x) => x.rssMb));
        if (kind === 'rsyslog') {
          rows.push(okRow({ group: GROUP, subject: kindSubject(kind, apps), tool: 'syslog generator', unit: 'lines/s', value: v, rssMb, note }));
        } else if (kind === 'direct') {
          rows.push(okRow({
            group: GROUP, subject: kindSubject(kind, apps), tool: 'syslog generator', unit: 'lines/s', value: v, rssMb,
            ratio: ratio(v.median, rsyslog), ratioTo: `rsyslog, ${plural(apps, 'app')}`, note,
          }));
        } else {
          const one = med(1);
          const extra = [
            rsyslog !== undefined ? `${(v.median / rsyslog).toFixed(2)}x rsyslog` : null,
            kind !== 1 && one !== undefined ? `${(v.median / one).toFixed(2)}x 1 replica` : null,
          ].filter(Boolean).join(', ');
          rows.push(okRow({
            group: GROUP, subject: kindSubject(kind, apps), tool: 'syslog generator', unit: 'lines/s', value: v, rssMb,
            ratio: ratio(v.median, direct), ratioTo: `direct relay, ${plural(apps, 'app')}`,
            note: `${note}${extra ? ` (${extra})` : ''}; input over ${plural(kind, 'connection')}; standalone nats-server (CPU 0 with the replicas), stream R1, 16 partitions; RSS: all replicas`,
          }));
        }
      }
    }
    if (memApps > 0) rows.push(...await memoryRows(memApps, memLines, rounds, replicaList, log));
  } finally {
    await sink.close();
  }
  return rows;
}

async function memoryRows(apps: number, perApp: number, rounds: number, replicaList: readonly number[], log: (l: string) => void): Promise<Row[]> {
  // apps interleaved round robin, `perApp` lines each
  const input = buildSyslogInput(apps * perApp, apps);
  const kinds: Array<'direct' | number> = ['direct', ...replicaList];
  const got = new Map<'direct' | number, number[]>();
  const failed = new Map<'direct' | number, string>();
  for (let round = 0; round < rounds; round++) {
    for (const kind of round % 2 === 0 ? kinds : [...kinds].reverse()) {
      if (failed.has(kind)) continue;
      try {
        const rss = await memoryOnce(kind, apps, perApp, input);
        got.set(kind, [...(got.get(kind) ?? []), ...rss]);
        log(`bus memory round ${round + 1}/${rounds}, ${kind === 'direct' ? 'direct shuttle' : plural(kind, 'replica')}, ${plural(apps, 'app')}: RSS ${rss.map((m) => m.toFixed(0)).join(' + ')} MiB`);
      } catch (err) {
        failed.set(kind, (err as Error).message);
        log(`bus memory ${kind} failed: ${(err as Error).message}`);
      }
    }
  }
  const subject = (k: 'direct' | number): string => k === 'direct'
    ? `edgeplane shuttle, direct (no bus), ${plural(apps, 'app')}: memory`
    : `edgeplane shuttle via the bus, ${plural(k, 'replica')}, ${plural(apps, 'app')}: memory per replica`;
  const direct = got.has('direct') && !failed.has('direct') ? median(got.get('direct')!) : undefined;
  return kinds.map((k): Row => {
    const v = got.get(k);
    if (!v || failed.has(k)) return statusRow(GROUP, subject(k), 'failed', failed.get(k) ?? 'no run', 'RSS', 'MiB');
    const s = spread(v);
    return okRow({
      group: GROUP, subject: subject(k), tool: 'RSS', unit: 'MiB', value: s,
      ratio: k === 'direct' ? undefined : ratio(s.median, direct), ratioTo: k === 'direct' ? undefined : 'direct shuttle',
      note: `${plural(apps * perApp, 'line')} (${perApp} per app, apps interleaved), no drains, history 1500; RSS of each process once every line was taken in${k === 'direct' ? '' : ' from the bus'}`,
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      lines: { type: 'string' }, rounds: { type: 'string' }, apps: { type: 'string' }, replicas: { type: 'string' },
      'mem-apps': { type: 'string' }, 'mem-lines': { type: 'string' }, 'cpu-prof': { type: 'string' },
    },
  });
  pinSelf();
  const list = (s: string | undefined): number[] | undefined => (s ? s.split(',').map(Number) : undefined);
  const num = (s: string | undefined): number | undefined => (s !== undefined ? Number(s) : undefined);
  const rows = await runShuttleBus({
    lines: num(values.lines),
    rounds: num(values.rounds),
    apps: list(values.apps),
    replicas: list(values.replicas),
    memApps: num(values['mem-apps']),
    memLines: num(values['mem-lines']),
    cpuProfDir: values['cpu-prof'],
  });
  process.stdout.write(`${renderTable(rows)}\n`);
}
