/**
 * Partial config changes on the large document: a running router (1 worker, like
 * bench/reload-time.ts) gets the 10,000-site / 50,000-route document by `PUT /config`, then
 * `PATCH /config` merge patches that each change one app's dynos (a different app each time:
 * every one is a real change). The time from the first byte sent to the 200 (validated,
 * compiled in the worker, every worker switched), and the log's own split (`ms`, the worker's
 * compile `workers.workerMs`). Then the held revisions' memory estimate
 * (`edgeplane_router_config_revisions_bytes`) and the router's heap after the patches.
 *
 *   npm run build && node dist/bench/config-patch.js [--patches 20]
 */
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
import { median } from './lib/stats.js';

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

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { patches: { type: 'string', default: '20' } } });
  process.stdout.write(`${JSON.stringify(await measureConfigPatch(Number(values.patches)))}\n`);
}
