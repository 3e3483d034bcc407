/**
 * The log shuttle as a syslog relay against rsyslog: the same octet-counted RFC5424 input sent
 * to each relay's syslog TCP port, relayed to the same TCP sink (octet-counted output), nothing
 * lost (the sink counts every frame and checks the last one). The relay under test runs on CPU 0,
 * this process (generator + sink) on CPU 1 (taskset). Runs alternate shuttle / rsyslog; the
 * table shows medians and the spread (min-max) of lines/s and the ratio.
 *
 *   npm run build && node dist/bench/shuttle-vs-rsyslog.js [--lines 500000] [--rounds 3] [--apps 1]
 *
 * --apps N interleaves N apps in the input; the shuttle then has one drain per app (N
 * connections to the sink), rsyslog relays everything over its one forwarding connection.
 * Needs rsyslog (apt-get install rsyslog) and taskset (util-linux). Do not run beside other benches.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const SHUTTLE = fileURLToPath(new URL('../logshuttle/main.js', import.meta.url));
const RELAY_CPU = '0';
const LOAD_CPU = '1';

export interface RelayRow { relay: string; linesPerSec: number; min: number; max: number; ratio: number; runs: number[] }

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** N octet-counted frames, `apps` apps interleaved; messages end with their sequence number. */
function buildInput(lines: number, apps: number): Buffer {
  const parts: Buffer[] = [];
  const t0 = Date.UTC(2026, 10, 25, 10, 0, 0, 0);
  for (let i = 0; i < lines; i++) {
    const app = apps === 1 ? 'api-prod' : `app-${i % apps}`;
    const msg = `<14>1 ${new Date(t0 + (i >> 6)).toISOString()} ${app} app web.1 - - Entering api.getTheme for user 339910 status=200 bytes=448 seq=${i}`;
    parts.push(Buffer.from(`${Buffer.byteLength(msg)} ${msg}`));
  }
  return Buffer.concat(parts);
}

/** Counts octet-counted frames over any number of connections; resolves when `expect` arrived. */
class Sink {
  count = 0;
  lastAt = 0;
  lastSeqs = new Set<number>();
  private server: net.Server;
  private done: (() => void) | null = null;
  port = 0;
  constructor(private expect: number, private tailSeq: number[]) {
    this.server = net.createServer((s) => {
      let pending: Buffer | null = null;
      s.on('error', () => {});
      s.on('data', (chunk: Buffer) => {
        let buf = pending ? Buffer.concat([pending, chunk]) : chunk;
        let off = 0;
        for (;;) {
          let n = 0;
          let i = off;
          while (i < buf.length && buf[i] >= 0x30 && buf[i] <= 0x39) n = n * 10 + buf[i++] - 0x30;
          if (i >= buf.length) break;
          if (buf[i] !== 0x20 || i === off) throw new Error('sink: bad framing');
          if (i + 1 + n > buf.length) break;
          // check the sequence number of the newest lines (nothing lost at the end either)
          if (this.count >= this.expect - this.tailSeq.length) {
            const m = /seq=(\d+)\s*$/.exec(buf.toString('latin1', i + 1, i + 1 + n));
            if (m) this.lastSeqs.add(Number(m[1]));
          }
          this.count++;
          off = i + 1 + n;
        }
        buf = buf.subarray(off);
        pending = buf.length ? Buffer.from(buf) : null;
        this.lastAt = performance.now();
        if (this.count >= this.expect && this.done) this.done();
      });
    });
  }
  async listen(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as net.AddressInfo).port;
  }
  reset(expect: number): void {
    this.expect = expect;
    this.count = 0;
    this.lastSeqs.clear();
  }
  wait(timeoutMs: number): Promise<boolean> {
    if (this.count >= this.expect) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.done = null; resolve(false); }, timeoutMs);
      this.done = () => { clearTimeout(timer); this.done = null; resolve(true); };
    });
  }
  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

async function waitPort(port: number, child: ChildProcess): Promise<void> {
  const end = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`relay exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`relay did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function startShuttle(dir: string, port: number, sinkPort: number, apps: number, lines: number): ChildProcess {
  const drains: Record<string, string[]> = {};
  for (let a = 0; a < apps; a++) drains[apps === 1 ? 'api-prod' : `app-${a}`] = [`syslog://127.0.0.1:${sinkPort}`];
  const cfg = join(dir, 'shuttle.json');
  writeFileSync(cfg, JSON.stringify({ listen: { syslog_tcp: { host: '127.0.0.1', port } }, history: 1500, drainBuffer: lines, drains }));
  return spawn('taskset', ['-c', RELAY_CPU, process.execPath, SHUTTLE, '--config', cfg], { stdio: ['ignore', 'ignore', 'ignore'], env: { ...process.env, LOG_LEVEL: 'warn' } });
}

function startRsyslog(dir: string, port: number, sinkPort: number): ChildProcess {
  const conf = join(dir, 'rsyslog.conf');
  writeFileSync(conf, `global(workDirectory="${dir}" maxMessageSize="16k")
module(load="imtcp")
input(type="imtcp" port="${port}" address="127.0.0.1")
main_queue(queue.type="FixedArray" queue.size="200000")
template(name="fwd" type="string" string="<%PRI%>1 %TIMESTAMP:::date-rfc3339% %HOSTNAME% %APP-NAME% %PROCID% - - %msg%")
action(type="omfwd" target="127.0.0.1" port="${sinkPort}" protocol="tcp" TCP_Framing="octet-counted" template="fwd")
`);
  return spawn('taskset', ['-c', RELAY_CPU, 'rsyslogd', '-n', '-f', conf, '-i', join(dir, 'rsyslog.pid')], { stdio: ['ignore', 'ignore', 'inherit'] });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

/** One run: start the relay, send the input, wait until the sink has every line; lines/s. */
async function runOnce(kind: 'shuttle' | 'rsyslog', input: Buffer, lines: number, apps: number, sink: Sink, dir: string): Promise<number> {
  const port = await freePort();
  sink.reset(lines);
  const child = kind === 'shuttle' ? startShuttle(dir, port, sink.port, apps, lines) : startRsyslog(dir, port, sink.port);
  try {
    await waitPort(port, child);
    await new Promise((r) => setTimeout(r, 300));
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => s.end(input));
      s.on('error', reject);
      s.on('close', () => resolve());
    });
    const ok = await sink.wait(120_000);
    if (!ok || sink.count !== lines) throw new Error(`${kind}: sink got ${sink.count} of ${lines} lines`);
    for (let i = lines - 10; i < lines; i++) if (!sink.lastSeqs.has(i)) throw new Error(`${kind}: line seq=${i} missing at the sink`);
    return lines / ((sink.lastAt - t0) / 1000);
  } finally {
    await stop(child);
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export async function runShuttleVsRsyslog(opts: { lines?: number; rounds?: number; apps?: number } = {}): Promise<RelayRow[]> {
  const lines = opts.lines ?? 500_000;
  const rounds = opts.rounds ?? 3;
  const apps = opts.apps ?? 1;
  for (const cmd of ['taskset', 'rsyslogd']) {
    if (spawnSync('sh', ['-c', `command -v ${cmd}`]).status !== 0) throw new Error(`${cmd} is missing: apt-get install util-linux rsyslog (see bench/README.md)`);
  }
  spawnSync('taskset', ['-a', '-p', '-c', LOAD_CPU, String(process.pid)], { stdio: 'ignore' });
  const input = buildInput(lines, apps);
  const sink = new Sink(lines, Array.from({ length: 10 }, (_, i) => lines - 10 + i));
  await sink.listen();
  const dir = mkdtempSync(join(tmpdir(), 'edgeplane-bench-relay-'));
  const runs: Record<'shuttle' | 'rsyslog', number[]> = { shuttle: [], rsyslog: [] };
  try {
    for (let r = 0; r < rounds; r++) {
      for (const kind of r % 2 === 0 ? (['shuttle', 'rsyslog'] as const) : (['rsyslog', 'shuttle'] as const)) {
        runs[kind].push(await runOnce(kind, input, lines, apps, sink, dir));
      }
    }
  } finally {
    await sink.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const base = median(runs.rsyslog);
  return (['shuttle', 'rsyslog'] as const).map((relay) => ({
    relay: relay === 'shuttle' ? `edgeplane shuttle (${apps} app${apps > 1 ? 's' : ''}, ${apps} drain${apps > 1 ? 's' : ''})` : 'rsyslog 8 (imtcp -> omfwd)',
    linesPerSec: median(runs[relay]),
    min: Math.min(...runs[relay]),
    max: Math.max(...runs[relay]),
    ratio: median(runs[relay]) / base,
    runs: runs[relay],
  }));
}

export function formatRelayTable(rows: RelayRow[], lines: number): string {
  const k = (n: number) => `${Math.round(n / 1000)}k`;
  const out = [`syslog TCP relay, ${lines} octet-counted lines per run, relay pinned to CPU ${RELAY_CPU}, load on CPU ${LOAD_CPU}, nothing lost`,
    '| relay | lines/s (median) | spread (min-max) | ratio vs rsyslog |', '|---|---:|---:|---:|'];
  for (const r of rows) out.push(`| ${r.relay} | ${k(r.linesPerSec)} | ${k(r.min)}-${k(r.max)} | ${r.ratio.toFixed(2)}x |`);
  return out.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { lines: { type: 'string' }, rounds: { type: 'string' }, apps: { type: 'string' } } });
  const lines = Number(values.lines ?? 500_000);
  const rows = await runShuttleVsRsyslog({ lines, rounds: Number(values.rounds ?? 3), apps: Number(values.apps ?? 1) });
  console.log(formatRelayTable(rows, lines));
}
