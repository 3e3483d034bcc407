/**
 * Partial config changes on the large document: a running router (1 worker, like
 * bench/reload-time.ts) gets the 10,000-site / 50,000-route document by `PUT /config`, then
 * `PATCH /config` merge patches that each change one app's dynos (a different app each time:
 * every one is a real change). The time from the first byte sent to the 200 (validated,
 * compiled in the worker, every worker switched), and the log's own split (`ms`, the worker's
 * compile `workers.workerMs`). Then the held revisions' memory estimate
 * (`edgeplane_router_config_revisions_bytes`) and the router's heap after the patches.
 *
 * runConfigBench (the `config` group of `npm run bench`) gives the table rows: the one-app PATCH
 * to its 200, over rounds, and the heap of 20 held revisions (bench/revision-memory.ts, in a
 * child process with --expose-gc, pinned to CPU 0).
 *
 *   npm run build && node dist/bench/config-patch.js [--patches 20] [--rows] [--rounds 3]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startBackend } from './lib/backend.js';
import { APPS, largeRouterConfig } from './lib/large-config.js';
import { SUBJECT_CPU } from './lib/pinning.js';
import { onLines, stopChild, treeRssMb } from './lib/processes.js';
import { benchRouterConfig, startRouter, type RouterProcess } from './lib/router-process.js';
import { median, spread } from './lib/stats.js';
import { okRow, renderTable, statusRow, type Row } from './lib/table.js';
import type { RevisionMemoryFigures } from './revision-memory.js';

const GROUP = 'config';
const REVISION_MEMORY = fileURLToPath(new URL('./revision-memory.js', import.meta.url));

export interface PatchFigures {
  bytes: number;
  putMs: number;
  /** time to the 200 of each patch */
  patchMs: number[];
  /** the router's own figure for each: from its turn in the queue to every worker switched */
  appliedMs: number[];
  /** the worker's compile of each (delta) */
  workerMs: number[];
  revisionsHeld: number;
  revisionsBytes: number;
  heapUsedMb: number;
  rssMb: number;
}

function send(port: number, method: string, path: string, body: Buffer, type: string): Promise<{ ms: number; status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request({ host: '127.0.0.1', port, method, path, headers: { 'content-type': type, 'content-length': body.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ ms: performance.now() - t0, status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function metric(port: number, name: string): Promise<number> {
  const { text } = await send(port, 'GET', '/metrics', Buffer.alloc(0), 'text/plain');
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? NaN : Number(line.split(' ')[1]);
}

export async function measureConfigPatch(patches = 20, log: (l: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<PatchFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeplane-bench-patch-'));
  const backend = await startBackend();
  let router: RouterProcess | null = null;
  try {
    router = await startRouter({ dir, name: 'router-patch', cpu: SUBJECT_CPU, config: benchRouterConfig([`127.0.0.1:${backend.port}`], 1) });
    const applied: { ms: number; workerMs: number }[] = [];
    onLines(router.child.stderr, (line) => {
      try {
        const j = JSON.parse(line) as { msg?: string; source?: string; ms?: number; workers?: { workerMs: number } };
        if (j.msg === 'config applied' && j.source === 'patch') applied.push({ ms: j.ms ?? NaN, workerMs: j.workers?.workerMs ?? NaN });
      } catch { /* not JSON */ }
    });
    const admin = router.ports.admin!;
    const listen = { http: { host: '127.0.0.1', port: router.ports.http }, admin: { host: '127.0.0.1', port: admin } };
    const doc = Buffer.from(JSON.stringify(largeRouterConfig(1, listen)));
    const put = await send(admin, 'PUT', '/config', doc, 'application/json');
    if (put.status !== 200) throw new Error(`PUT /config answered ${put.status}: ${put.text.slice(0, 300)}`);
    const patchMs: number[] = [];
    for (let i = 0; i < patches; i++) {
      const app = `app-${(i * 37) % APPS}`;
      const body = Buffer.from(JSON.stringify({ apps: { [app]: { dynos: [`127.0.0.1:${30000 + i}`, `127.0.0.1:${31000 + i}`] } } }));
      const r = await send(admin, 'PATCH', '/config', body, 'application/merge-patch+json');
      if (r.status !== 200) throw new Error(`PATCH /config answered ${r.status}: ${r.text.slice(0, 300)}`);
      patchMs.push(r.ms);
    }
    const end = Date.now() + 5000;
    while (applied.length < patches && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    const figures: PatchFigures = {
      bytes: doc.length, putMs: put.ms, patchMs,
      appliedMs: applied.map((a) => a.ms), workerMs: applied.map((a) => a.workerMs),
      revisionsHeld: await metric(admin, 'edgeplane_router_config_revisions_held'),
      revisionsBytes: await metric(admin, 'edgeplane_router_config_revisions_bytes'),
      heapUsedMb: (await metric(admin, 'edgeplane_router_process_nodejs_heap_size_used_bytes')) / 1048576,
      rssMb: treeRssMb(router.child.pid),
    };
    log(`config patch: ${(doc.length / 1048576).toFixed(1)} MiB document PUT in ${put.ms.toFixed(0)} ms; ${patches} one-app patches: median ${median(patchMs).toFixed(1)} ms, max ${Math.max(...patchMs).toFixed(1)} ms to the 200 (router: median ${median(figures.appliedMs).toFixed(1)} ms, worker compile median ${median(figures.workerMs).toFixed(1)} ms); ${figures.revisionsHeld} revisions held, ~${(figures.revisionsBytes / 1048576).toFixed(1)} MiB (estimate), heap used ${figures.heapUsedMb.toFixed(0)} MiB, RSS ${figures.rssMb.toFixed(0)} MiB`);
    return figures;
  } finally {
    if (router) await stopChild(router.child);
    await stopChild(backend.child);
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface ConfigBenchOptions { rounds?: number; patches?: number; log?: (line: string) => void }

/**
 * The `config` group: a one-app PATCH of the 10,000-site document to its 200 (target <= 50 ms,
 * against the full PUT of the `scale` group), and the heap of 20 held revisions of it.
 */
export async function runConfigBench(opts: ConfigBenchOptions = {}): Promise<Row[]> {
  const rounds = opts.rounds ?? 3;
  const patches = opts.patches ?? 20;
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const rows: Row[] = [];
  const patchSubject = 'PATCH one app of the 10,000-site document, to the 200';
  try {
    const runs: PatchFigures[] = [];
    for (let i = 0; i < rounds; i++) runs.push(await measureConfigPatch(patches, log));
    rows.push(okRow({ group: GROUP, subject: patchSubject, tool: 'timer (first byte sent to the 200)', unit: 'ms',
      value: spread(runs.map((r) => median(r.patchMs))), rssMb: median(runs.map((r) => r.rssMb)),
      note: `per round the median of ${patches} one-app merge patches (each changes another app's dynos; max ${Math.max(...runs.flatMap((r) => r.patchMs)).toFixed(1)} ms); the router's own part median ${median(runs.map((r) => median(r.appliedMs))).toFixed(1)} ms, worker compile ${median(runs.map((r) => median(r.workerMs))).toFixed(1)} ms; the full PUT of the same ${(runs[0].bytes / 1048576).toFixed(1)} MiB document took ${median(runs.map((r) => r.putMs)).toFixed(0)} ms; target <= 50 ms; 1 worker` }));
  } catch (err) {
    log(`config patch failed: ${(err as Error).stack ?? String(err)}`);
    rows.push(statusRow(GROUP, patchSubject, 'failed', (err as Error).message, 'timer (first byte sent to the 200)', 'ms'));
  }
  const memSubject = (how: string): string => `heap of 20 held revisions of the 10,000-site document, made by ${how}`;
  try {
    const out = execFileSync('taskset', ['-c', SUBJECT_CPU, process.execPath, '--expose-gc', REVISION_MEMORY, '--json'], { encoding: 'utf8', maxBuffer: 1 << 20 });
    const f = JSON.parse(out.trim().split('\n').pop()!) as RevisionMemoryFigures;
    log(`config revision memory: patches +${f.patches.heapMb.toFixed(1)} MiB, PUTs +${f.puts.heapMb.toFixed(1)} MiB`);
    rows.push(okRow({ group: GROUP, subject: memSubject('one-app patches'), tool: 'heap after GC (router code from dist)', unit: 'MiB',
      value: spread([f.patches.heapMb]), note: `19 revisions over the first (${f.documentMb.toFixed(1)} MiB of JSON); the history's own estimate (edgeplane_router_config_revisions_bytes) ${f.patches.estimateMb.toFixed(1)} MiB for all 20; ${f.patches.msEach.toFixed(0)} ms each (diff + validation); bench/revision-memory.ts` }));
    rows.push(okRow({ group: GROUP, subject: memSubject('PUTs changing every site'), tool: 'heap after GC (router code from dist)', unit: 'MiB',
      value: spread([f.puts.heapMb]), note: `worst case: only the apps shared; the history's estimate ${f.puts.estimateMb.toFixed(1)} MiB for all 20` }));
  } catch (err) {
    log(`revision memory failed: ${(err as Error).message}`);
    rows.push(statusRow(GROUP, memSubject('one-app patches'), 'failed', (err as Error).message.split('\n')[0], 'heap after GC (router code from dist)', 'MiB'));
  }
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { patches: { type: 'string', default: '20' }, rows: { type: 'boolean', default: false }, rounds: { type: 'string' } } });
  if (values.rows) process.stdout.write(`${renderTable(await runConfigBench({ patches: Number(values.patches), rounds: values.rounds ? Number(values.rounds) : undefined }))}\n`);
  else process.stdout.write(`${JSON.stringify(await measureConfigPatch(Number(values.patches)))}\n`);
}
