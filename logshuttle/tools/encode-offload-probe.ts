/**
 * Does encoding drain frames off the main thread pay? (the `workers` config key; DESIGN.md:
 * "a worker pool only for work that a measurement shows it speeds up"). Compares, per batch of
 * `--batch` records (router-like lines of ~100 bytes):
 *   inline   encodeFrame for each record on the main thread (what the drains do)
 *   piscina  one piscina task per batch (records cloned to the worker, one Buffer of frames
 *            transferred back): the main thread's busy time per batch (event-loop utilisation)
 *            and the round trip
 * Prints medians over `--rounds` batches. A speed probe: run it on a quiet machine.
 *
 *   npm run build && node dist/logshuttle/tools/encode-offload-probe.js [--batch 1000] [--rounds 300]
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { LogRecord } from '../../shared/log-record.js';
import { encodeFrame } from '../drains/rfc5424.js';

const { values } = parseArgs({ options: { batch: { type: 'string', default: '1000' }, rounds: { type: 'string', default: '300' } } });
const BATCH = Number(values.batch);
const ROUNDS = Number(values.rounds);
const T0 = Date.UTC(2026, 10, 25, 10, 0, 0, 0);

const records: LogRecord[] = Array.from({ length: BATCH }, (_, i) => ({
  app: `app-${i % 100}`, source: i % 3 === 0 ? 'router' : 'app', process: i % 3 === 0 ? 'router' : 'web.1', stream: 'stdout', time: T0 + i,
  message: `at=info method=GET path=/v3/api/users/${i} host=www.example.com status=200 bytes=${448 + (i % 97)} service=12ms`,
}));

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function inline(): number[] {
  const out: number[] = [];
  let sink = 0;
  for (let r = 0; r < ROUNDS + 50; r++) {
    const t = performance.now();
    for (let i = 0; i < records.length; i++) sink += encodeFrame(records[i]).length;
    if (r >= 50) out.push((performance.now() - t) * 1000);
  }
  if (sink < 0) console.log(sink);
  return out;
}

async function offloaded(): Promise<{ busy: number[]; roundTrip: number[] }> {
  const pool = new Piscina({ filename: fileURLToPath(new URL('./encode-batch-worker.js', import.meta.url)), minThreads: 1, maxThreads: 1 });
  const busy: number[] = [];
  const roundTrip: number[] = [];
  for (let r = 0; r < ROUNDS + 50; r++) {
    const elu = performance.eventLoopUtilization();
    const t = performance.now();
    await pool.run(records);
    const wall = (performance.now() - t) * 1000;
    const used = performance.eventLoopUtilization(elu);
    if (r >= 50) {
      roundTrip.push(wall);
      busy.push(used.active * 1000);
    }
  }
  await pool.destroy();
  return { busy, roundTrip };
}

const a = inline();
const b = await offloaded();
const fmt = (us: number): string => `${us.toFixed(0)} µs per batch (${((us * 1000) / BATCH).toFixed(0)} ns per line)`;
console.log(`batch of ${BATCH} records, ${ROUNDS} rounds, medians (node ${process.version})`);
console.log(`inline encode, main thread busy:  ${fmt(median(a))}`);
console.log(`piscina task, main thread busy:   ${fmt(median(b.busy))}`);
console.log(`piscina task, round trip:         ${fmt(median(b.roundTrip))}`);
