/**
 * One CPU profile of the router's request path: the backend and the router (workers: 1,
 * `node --cpu-prof`) on CPU 0, autocannon from this process on CPU 1 for `--duration` seconds,
 * then SIGTERM (profiles are written at exit, one per thread) and the top self-time functions
 * of the busiest profile (the worker thread that serves requests).
 *
 *   npm run build && node dist/bench/profile-router.js [--duration 10] [--top 15] [--dir /tmp/edgeplane-prof]
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startBackend } from './lib/backend.js';
import { autocannon } from './lib/load.js';
import { pinSelf, SUBJECT_CPU } from './lib/pinning.js';
import { stopChild } from './lib/processes.js';
import { BENCH_HOST, benchRouterConfig, startRouter } from './lib/router-process.js';
import { topSelfTime } from './profile-top.js';

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { duration: { type: 'string', default: '10' }, top: { type: 'string', default: '15' }, dir: { type: 'string' } } });
  pinSelf();
  const profDir = values.dir ?? mkdtempSync(join(tmpdir(), 'edgeplane-prof-'));
  mkdirSync(profDir, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'edgeplane-prof-run-'));
  const backend = await startBackend();
  try {
    const router = await startRouter({
      dir: work, name: 'router-prof', cpu: SUBJECT_CPU, config: benchRouterConfig([`127.0.0.1:${backend.port}`], 1),
      nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`],
    });
    const spec = { url: `http://127.0.0.1:${router.ports.http}/bench`, host: BENCH_HOST, connections: 50, durationS: 2 };
    await autocannon(spec); // warm-up (in the profile too, but short)
    const r = await autocannon({ ...spec, durationS: Number(values.duration) });
    process.stderr.write(`load: ${r.rps.toFixed(0)} req/s, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms (autocannon, 50 connections)\n`);
    await stopChild(router.child, 10_000);
  } finally {
    await stopChild(backend.child);
    rmSync(work, { recursive: true, force: true });
  }
  const files = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(profDir, f));
  if (files.length === 0) throw new Error(`no .cpuprofile in ${profDir}`);
  // the request-serving worker has the most samples of JS that is not idle
  const scored = files.map((f) => {
    const p = JSON.parse(readFileSync(f, 'utf8')) as Parameters<typeof topSelfTime>[0];
    const t = topSelfTime(p, Number(values.top));
    return { f, t, busy: t.total - t.idle };
  }).sort((a, b) => b.busy - a.busy);
  const best = scored[0];
  process.stdout.write(`profile: ${best.f} (${(best.t.total / 1000).toFixed(2)} s sampled, ${((best.t.total - best.t.idle) / 1000).toFixed(2)} s busy; ${files.length} profile(s) in ${profDir})\n\n`);
  process.stdout.write('| # | function | where | self ms | share of busy |\n|---:|---|---|---:|---:|\n');
  best.t.rows.forEach((x, i) => process.stdout.write(`| ${i + 1} | \`${x.fn}\` | ${x.where} | ${x.ms.toFixed(0)} | ${(100 * x.share).toFixed(1)}% |\n`));
}
