/**
 * Does encoding drain frames off the main thread pay? (the `workers` config key; DESIGN.md:
 * "a worker pool only for work that a measurement shows it speeds up"). Compares, per batch of
 * `--batch` records (router-like lines of ~100 bytes):
 *   inline   encodeFrame for each record on the main thread (what the drains do)
 *   piscina  one piscina task per batch: records cloned to the worker, the frames transferred
 *            back in one buffer and cut into one Buffer per line again (the drain queues hold
 *            lines: L10 counts and bounds are per line)
 * For each: the main thread's busy time per batch (event-loop utilisation), the CPU time of the
 * whole process (all threads) per batch, and for piscina the round trip. Medians over
 * `--rounds` batches. A speed probe: run it on a quiet machine.
 *
 *   npm run build && node dist/bench/encode-offload-probe.js [--batch 1000] [--rounds 300]
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { LogRecord } from '../shared/log-record.js';
import { encodeFrame } from '../logshuttle/drains/rfc5424.js';

const { values } = parseArgs({ options: { batch: { type: 'string', default: '1000' }, rounds: { type: 'string', default: '300' } } });
const BATCH = Number(values.batch);
const ROUNDS = Number(values.rounds);
const T0 = Date.UTC(2026, 10, 25, 10, 0, 0, 0);

const records: LogRecord[] = Array.from({ length: BATCH }, (_, i) => ({
  app: `app-${i % 100}`, source: i % 3 === 0 ? 'router' : 'app', process: i % 3 === 0 ? 'router' : 'web.1', stream: 'stdout', time: T0 + i,
  message: `at=info method=GET path=/v3/api/users/${i} host=www.example.com status=200 bytes=${448 + (i % 97)} service=12ms`,
}));

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

interface Samples {
  busy: number[];
  cpu: number[];
  roundTrip: number[];
}

const cpuUs = (c: NodeJS.CpuUsage): number => c.user + c.system;

/** Runs `batch` ROUNDS times after 50 warm-up rounds; main-thread busy, process CPU, wall (µs). */
async function measure(batch: () => unknown): Promise<Samples> {
  const s: Samples = { busy: [], cpu: [], roundTrip: [] };
  for (let r = 0; r < ROUNDS + 50; r++) {
    const elu = performance.eventLoopUtilization();
    const cpu = process.cpuUsage();
    const t = performance.now();
    await batch();
    const wall = (performance.now() - t) * 1000;
    const used = performance.eventLoopUtilization(elu);
    const c = cpuUs(process.cpuUsage(cpu));
    if (r >= 50) {
      s.roundTrip.push(wall);
      s.busy.push(used.active * 1000 || wall);
      s.cpu.push(c);
    }
  }
  return s;
}

let sink = 0;
const inline = await measure(() => {
  for (let i = 0; i < records.length; i++) sink += encodeFrame(records[i]).length;
});
const pool = new Piscina({ filename: fileURLToPath(new URL('./lib/encode-batch-worker.js', import.meta.url)), minThreads: 1, maxThreads: 1 });
const offloaded = await measure(async () => {
  const out = (await pool.run(records)) as Uint8Array;
  const buf = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  const n = buf.readUInt32LE(0);
  const head = 4 * (n + 1);
  let from = head;
  for (let i = 0; i < n; i++) {
    const to = head + buf.readUInt32LE(4 * (i + 1));
    sink += buf.subarray(from, to).length;
    from = to;
  }
});
await pool.destroy();
if (sink < 0) console.log(sink);
const fmt = (us: number): string => `${us.toFixed(0)} µs per batch (${((us * 1000) / BATCH).toFixed(0)} ns per line)`;
console.log(`batch of ${BATCH} records, ${ROUNDS} rounds, medians (node ${process.version})`);
console.log(`inline:  main thread busy ${fmt(median(inline.busy))}; process CPU ${fmt(median(inline.cpu))}`);
console.log(`piscina: main thread busy ${fmt(median(offloaded.busy))}; process CPU ${fmt(median(offloaded.cpu))}; round trip ${fmt(median(offloaded.roundTrip))}`);
