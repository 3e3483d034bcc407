/**
 * The log shuttle relaying through the bus (NATS JetStream): syslog TCP in, published to the log
 * stream, pulled by the partition owner, out to a syslog TCP drain; with 1 and 2 replicas, 1 app
 * and 100 apps. The input is split evenly over the replicas' syslog ports; the sink checks that
 * every line arrived exactly once. Each run gets a fresh standalone JetStream server (stream R1:
 * this measures the shuttle, not a cluster's replication). Rows show lines/s (first byte sent to
 * last line received), median with min-max, and the ratio to 1 replica with the same apps.
 * Replicas and nats-server share CPU 0; the generator and sink run on CPU 1: on a 2-core machine
 * the 2-replica rows show the cost of the hand-off, not a scale-out.
 *
 *   npm run build && node dist/bench/shuttle-bus.js [--lines 200000] [--rounds 3] [--apps 1,100] [--replicas 1,2] [--cpu-prof DIR]
 *
 * Needs nats-server (apt-get install nats-server) and taskset.
 */
import type { ChildProcess } from 'node:child_process';
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
import { median, ratio, spread } from './lib/stats.js';
import { okRow, renderTable, statusRow, type Row } from './lib/table.js';
import { spawnSync } from 'node:child_process';

const SHUTTLE = fileURLToPath(new URL('../logshuttle/main.js', import.meta.url));
const GROUP = 'relay-bus';

export interface BusBenchOptions {
  lines?: number;
  rounds?: number;
  apps?: readonly number[];
  replicas?: readonly number[];
  /** write a V8 CPU profile of every replica into this directory (node --cpu-prof) */
  cpuProfDir?: string;
  log?: (line: string) => void;
}

interface Replica {
  child: ChildProcess;
  syslog: number;
  http: number;
}

async function startNats(dir: string): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawnPinned(SUBJECT_CPU, 'nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', join(dir, 'nats')]);
  await waitPort(port, child);
  return { child, url: `nats://127.0.0.1:${port}` };
}

async function startReplica(dir: string, i: number, natsUrl: string, sinkPort: number, apps: number, lines: number, cpuProfDir?: string): Promise<Replica> {
  const syslog = await freePort();
  const http = await freePort();
  const drains: Record<string, string[]> = {};
  for (let a = 0; a < apps; a++) drains[appName(a, apps)] = [`syslog://127.0.0.1:${sinkPort}`];
  const cfg = join(dir, `replica-${i}.json`);
  writeFileSync(cfg, JSON.stringify({
    listen: { syslog_tcp: { host: '127.0.0.1', port: syslog }, http: { host: '127.0.0.1', port: http } },
    history: 1500, drainBuffer: lines, drains,
    bus: { servers: [natsUrl], replicas: 1, partitions: 16, max_age_s: 600 },
  }));
  const prof = cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : [];
  const child = spawnPinned(SUBJECT_CPU, process.execPath, [...prof, SHUTTLE, '--config', cfg], { env: { ...process.env, LOG_LEVEL: 'warn' } });
  await waitPort(http, child);
  return { child, syslog, http };
}

async function partitionsOf(r: Replica): Promise<number> {
  try {
    const res = await fetch(`http://127.0.0.1:${r.http}/readyz`);
    const body = await res.json() as { ready?: boolean; partitions?: number[] };
    return res.status === 200 ? body.partitions?.length ?? 0 : -1;
  } catch {
    return -1;
  }
}

/** Until every replica is ready and owns its share of the 16 partitions. */
async function waitBalanced(rs: Replica[], timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const counts = await Promise.all(rs.map(partitionsOf));
    if (counts.every((c) => c === 16 / rs.length)) return;
    if (Date.now() > end) throw new Error(`partitions not balanced: ${counts.join('/')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface RunResult { linesPerSec: number; rssMb: number }

async function runOnce(lines: number, apps: number, replicas: number, input: Buffer[], sink: TcpFrameSink, cpuProfDir?: string): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeplane-bench-bus-'));
  const nats = await startNats(dir);
  const rs: Replica[] = [];
  try {
    sink.frames.reset(lines);
    for (let i = 0; i < replicas; i++) rs.push(await startReplica(dir, i, nats.url, sink.port, apps, lines, cpuProfDir));
    await waitBalanced(rs);
    const t0 = performance.now();
    await Promise.all(rs.map((r, i) => new Promise<void>((resolve, reject) => {
      const s = net.connect(r.syslog, '127.0.0.1', () => s.end(input[i]));
      s.on('error', reject);
      s.on('close', () => resolve());
    })));
    if (!(await sink.frames.wait(300_000))) throw new Error(`sink got ${sink.frames.count} of ${lines} lines in 300 s`);
    const f = sink.frames;
    if (f.dupes > 0) throw new Error(`${f.dupes} lines arrived twice`);
    const missing = f.missing();
    if (missing > 0) throw new Error(`${missing} of ${lines} lines never arrived`);
    const rssMb = rs.reduce((n, r) => n + treeRssMb(r.child.pid), 0);
    return { linesPerSec: lines / ((f.lastAt - t0) / 1000), rssMb };
  } finally {
    await Promise.all(rs.map((r) => stopChild(r.child, 12_000)));
    await stopChild(nats.child);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The input split over `replicas` connections: frame i goes to replica i mod replicas. */
function splitInput(lines: number, apps: number, replicas: number): Buffer[] {
  const all = buildSyslogInput(lines, apps);
  const parts: Buffer[][] = Array.from({ length: replicas }, () => []);
  let off = 0;
  for (let i = 0; off < all.length; i++) {
    const sp = all.indexOf(0x20, off);
    const end = sp + 1 + Number(all.toString('latin1', off, sp));
    parts[i % replicas].push(all.subarray(off, end));
    off = end;
  }
  return parts.map((p) => Buffer.concat(p));
}

export async function runShuttleBus(opts: BusBenchOptions = {}): Promise<Row[]> {
  const lines = opts.lines ?? 200_000;
  const rounds = opts.rounds ?? 3;
  const appsList = opts.apps ?? [1, 100];
  const replicaList = opts.replicas ?? [1, 2];
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const subject = (apps: number, replicas: number): string =>
    `edgeplane shuttle via the bus, ${replicas} replica${replicas > 1 ? 's' : ''}, ${apps} app${apps > 1 ? 's' : ''}, syslog TCP drain${apps > 1 ? ' per app' : ''}`;
  if (spawnSync('sh', ['-c', 'command -v nats-server'], { stdio: 'ignore' }).status !== 0) {
    return appsList.flatMap((a) => replicaList.map((r) => statusRow(GROUP, subject(a, r), 'not installed', 'apt-get install -y nats-server', 'syslog generator', 'lines/s')));
  }
  const sink = new TcpFrameSink();
  await sink.listen();
  const rows: Row[] = [];
  try {
    for (const apps of appsList) {
      const runs = new Map<number, RunResult[]>();
      const failed = new Map<number, string>();
      const inputs = new Map(replicaList.map((r) => [r, splitInput(lines, apps, r)]));
      for (let round = 0; round < rounds; round++) {
        for (const replicas of round % 2 === 0 ? replicaList : [...replicaList].reverse()) {
          if (failed.has(replicas)) continue;
          try {
            const res = await runOnce(lines, apps, replicas, inputs.get(replicas)!, sink, opts.cpuProfDir);
            runs.set(replicas, [...(runs.get(replicas) ?? []), res]);
            log(`bus relay round ${round + 1}/${rounds}, ${replicas} replica(s), ${apps} app(s): ${Math.round(res.linesPerSec)} lines/s, RSS ${res.rssMb.toFixed(0)} MiB`);
          } catch (err) {
            failed.set(replicas, (err as Error).message);
            log(`bus relay ${replicas} replica(s), ${apps} app(s) failed: ${(err as Error).message}`);
          }
        }
      }
      const one = runs.get(1);
      const base = one ? median(one.map((x) => x.linesPerSec)) : undefined;
      for (const replicas of replicaList) {
        const rs = runs.get(replicas);
        if (!rs || failed.has(replicas)) {
          rows.push(statusRow(GROUP, subject(apps, replicas), 'failed', failed.get(replicas) ?? 'no run', 'syslog generator', 'lines/s'));
          continue;
        }
        const v = spread(rs.map((x) => x.linesPerSec));
        rows.push(okRow({
          group: GROUP, subject: subject(apps, replicas), tool: 'syslog generator', unit: 'lines/s', value: v,
          ratio: ratio(v.median, base), ratioTo: `1 replica, ${apps} app${apps > 1 ? 's' : ''}`,
          rssMb: median(rs.map((x) => x.rssMb)),
          note: `${lines.toLocaleString('en-US')} lines per run over ${replicas} syslog connection(s), every line received once; standalone nats-server, stream R1, 16 partitions`,
        }));
      }
    }
  } finally {
    await sink.close();
  }
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { lines: { type: 'string' }, rounds: { type: 'string' }, apps: { type: 'string' }, replicas: { type: 'string' }, 'cpu-prof': { type: 'string' } } });
  pinSelf();
  const list = (s: string | undefined): number[] | undefined => (s ? s.split(',').map(Number) : undefined);
  const rows = await runShuttleBus({
    lines: values.lines ? Number(values.lines) : undefined,
    rounds: values.rounds ? Number(values.rounds) : undefined,
    apps: list(values.apps),
    replicas: list(values.replicas),
    cpuProfDir: values['cpu-prof'],
  });
  process.stdout.write(`${renderTable(rows)}\n`);
}
