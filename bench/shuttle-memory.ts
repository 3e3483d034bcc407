/**
 * Memory of the log shuttle's ring buffers (not speed): the real ShuttleCore fed records in
 * process, interleaved across apps as traffic arrives, then a full GC and the process's
 * memory. Each scenario runs in its own child (`node --expose-gc`) so baselines are clean:
 *
 *   small   N apps with one line each (apps that wrote once)
 *   full    N apps with `--lines` lines each (~`--bytes` bytes per tail line held)
 *   churn   `--churn` apps with one line each, created by ingest, with the default bounds
 *           (maxApps 50,000): memory stays bounded however many apps appear
 *
 * `--via records` feeds records (ShuttleCore.accept: the ring keeps tail lines, as for HTTP and
 * msgpack ingest); `--via frames` feeds the same lines as canonical syslog frames with their
 * octet counts (ShuttleCore.acceptCanonical + flushRun, as the syslog TCP ingest: the ring keeps
 * the frames, ~10 bytes longer than their tail lines).
 *
 * Reported: RSS and heapUsed + arrayBuffers growth after a full GC over the baseline, bytes of
 * the lines held (as stored) and of their tail lines (as a reader gets them: the honest
 * denominator, the same for both feeds) and bytes the rings allocated, per app and as a ratio
 * to the tail lines' bytes; the
 * longest major GC pause seen while filling (PerformanceObserver 'gc' entries) and the time of
 * a forced full GC (the longest of three; wall time, and the CPU time the process spent in it,
 * which a loaded machine does not inflate).
 *
 *   npm run build && node dist/bench/shuttle-memory.js [--apps 10000] [--lines 1500] [--bytes 100] [--churn 100000] [--only small,full,churn] [--via records|frames]
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { constants, performance, PerformanceObserver } from 'node:perf_hooks';
import { ShuttleCore } from '../logshuttle/shuttle-core.js';
import { DEFAULT_MAX_APPS, DEFAULT_MAX_RING_BYTES } from '../logshuttle/config/schema.js';
import type { LogRecord } from '../shared/log-record.js';
import { readCanonicalFrame } from '../logshuttle/ingest/canonical-frame.js';

type Scenario = 'small' | 'full' | 'churn';

interface Result {
  scenario: Scenario;
  appsCreated: number;
  appsHeld: number;
  linesHeld: number;
  bytesHeld: number;
  /** bytes of the held lines' tail lines (what a reader gets) */
  tailBytes: number;
  via: string;
  bytesAllocated: number;
  rssGrowth: number;
  heapGrowth: number;
  heapTotalGrowth: number;
  arrayBuffersGrowth: number;
  maxMajorGcMs: number;
  forcedFullGcMs: number;
  forcedFullGcCpuMs: number;
  evicted: number;
}

const SELF = fileURLToPath(import.meta.url);
const T0 = Date.UTC(2026, 10, 25, 10, 0, 0, 0);

function args() {
  const { values } = parseArgs({
    options: {
      apps: { type: 'string', default: '10000' },
      lines: { type: 'string', default: '1500' },
      bytes: { type: 'string', default: '100' },
      churn: { type: 'string', default: '100000' },
      only: { type: 'string', default: 'small,full,churn' },
      via: { type: 'string', default: 'records' },
      child: { type: 'string' },
    },
    strict: true,
  });
  return {
    apps: Number(values.apps),
    lines: Number(values.lines),
    bytes: Number(values.bytes),
    churn: Number(values.churn),
    only: values.only!.split(',') as Scenario[],
    child: values.child as Scenario | undefined,
    via: values.via === 'frames' ? 'frames' as const : 'records' as const,
  };
}

const gcNow = (): void => (globalThis as unknown as { gc: () => void }).gc();

function settle(): void {
  for (let i = 0; i < 3; i++) gcNow();
}

/** A message that makes the tail line `<ISO> app-NNNNN app[web.1]: <message>\n` about `bytes` long. */
function messageFor(app: string, line: number, bytes: number): string {
  const fixed = 24 + 1 + app.length + 1 + 'app[web.1]: '.length + 1;
  const len = Math.max(1, bytes - fixed + ((line * 7) % 21) - 10); // ±10 bytes of variety
  const head = `req ${line} `;
  return head + 'x'.repeat(Math.max(0, len - head.length));
}

function runChild(scenario: Scenario, o: ReturnType<typeof args>): Result {
  let maxMajor = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR && e.duration > maxMajor) maxMajor = e.duration;
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  const apps = scenario === 'churn' ? o.churn : o.apps;
  const lines = scenario === 'full' ? o.lines : 1;
  const names = Array.from({ length: apps }, (_, i) => `app-${String(i).padStart(6, '0')}`);
  settle();
  const base = process.memoryUsage();
  const core = new ShuttleCore({ history: o.lines, maxApps: DEFAULT_MAX_APPS, maxRingBytes: DEFAULT_MAX_RING_BYTES });
  const frameBuf = Buffer.alloc(64 * 1024);
  for (let l = 0; l < lines; l++) {
    const ts = new Date(T0 + l).toISOString();
    for (let a = 0; a < apps; a++) {
      if (o.via === 'frames') {
        // the same line as a canonical frame with its octet count, as the syslog TCP ingest takes it
        // (written into one reused buffer: the ring copies it, and no garbage Buffers fragment
        // malloc's heap, as records make none)
        const msg = `<14>1 ${ts} ${names[a]} app web.1 - - ${messageFor(names[a], l, o.bytes)}`;
        const n = frameBuf.write(`${msg.length} ${msg}`, 0, 'latin1');
        const buf = frameBuf;
        const f = readCanonicalFrame(buf, n - msg.length, n, true);
        if (f === null) throw new Error(`not canonical: ${msg}`);
        core.acceptCanonical(f, 'syslog_tcp', buf, 0);
        core.flushRun();
      } else {
        const record: LogRecord = { app: names[a], source: 'app', process: 'web.1', stream: 'stdout', time: T0 + l, message: messageFor(names[a], l, o.bytes) };
        core.accept(record, 'msgpack');
      }
    }
  }
  const nameList = names.slice();
  names.length = 0;
  settle();
  let forced = 0;
  let forcedCpu = 0;
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    const c = process.cpuUsage();
    gcNow();
    const cpu = process.cpuUsage(c);
    forced = Math.max(forced, performance.now() - t);
    forcedCpu = Math.max(forcedCpu, (cpu.user + cpu.system) / 1000);
  }
  const mem = process.memoryUsage();
  obs.disconnect();
  const totals = core.rings.totals();
  const ev = core.rings.evictedApps;
  // (after the measurement: the tail lines a reader would get of every held line)
  let tailBytes = 0;
  for (const name of nameList) {
    const ring = core.rings.get(name);
    if (ring !== undefined) tailBytes += ring.newest(ring.length).length;
  }
  return {
    scenario,
    appsCreated: apps,
    appsHeld: core.rings.appCount,
    linesHeld: totals.lines,
    bytesHeld: totals.bytesHeld,
    tailBytes,
    via: o.via,
    bytesAllocated: totals.bytesAllocated,
    rssGrowth: mem.rss - base.rss,
    heapGrowth: mem.heapUsed - base.heapUsed,
    heapTotalGrowth: mem.heapTotal - base.heapTotal,
    arrayBuffersGrowth: mem.arrayBuffers - base.arrayBuffers,
    maxMajorGcMs: maxMajor,
    forcedFullGcMs: forced,
    forcedFullGcCpuMs: forcedCpu,
    evicted: ev.idle + ev.max_apps + ev.max_bytes,
  };
}

const mb = (n: number): string => (n / 1024 / 1024).toFixed(1);
const x = (a: number, b: number): string => (b > 0 ? (a / b).toFixed(3) + 'x' : '-');

function table(results: Result[]): string {
  const rows = [
    '| scenario (fed as) | apps held (created) | lines held | held MB (as stored) | tail lines MB | rings allocated MB | RSS growth MB | heap+arrayBuffers growth MB | RSS per app | RSS / tail lines | heap+ab / tail lines | max major GC while filling | forced full GC (wall / CPU) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    const js = r.heapGrowth + r.arrayBuffersGrowth;
    rows.push(`| ${r.scenario} (${r.via}) | ${r.appsHeld} (${r.appsCreated}) | ${r.linesHeld} | ${mb(r.bytesHeld)} | ${mb(r.tailBytes)} | ${mb(r.bytesAllocated)} | ${mb(r.rssGrowth)} | ${mb(js)} | ` +
      `${Math.round(r.rssGrowth / Math.max(1, r.appsHeld))} B | ${x(r.rssGrowth, r.tailBytes)} | ${x(js, r.tailBytes)} | ${r.maxMajorGcMs.toFixed(1)} ms | ${r.forcedFullGcMs.toFixed(1)} / ${r.forcedFullGcCpuMs.toFixed(1)} ms |`);
  }
  return rows.join('\n');
}

function main(): void {
  const o = args();
  if (o.child) {
    if (typeof (globalThis as { gc?: unknown }).gc !== 'function') throw new Error('run the child with --expose-gc');
    process.stdout.write(JSON.stringify(runChild(o.child, o)) + '\n');
    return;
  }
  const results: Result[] = [];
  for (const scenario of o.only) {
    const r = spawnSync(process.execPath, ['--expose-gc', SELF, ...process.argv.slice(2), '--child', scenario], { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (r.status !== 0) {
      process.stderr.write(`${scenario}: exit ${r.status}\n${r.stderr}\n`);
      process.exitCode = 1;
      continue;
    }
    results.push(JSON.parse(r.stdout.trim().split('\n').pop()!) as Result);
  }
  process.stdout.write(`node ${process.version}, history ${o.lines}, tail lines ~${o.bytes} bytes, fed as ${o.via}\n\n${table(results)}\n`);
  process.stdout.write(`\n${JSON.stringify(results)}\n`);
}

main();
