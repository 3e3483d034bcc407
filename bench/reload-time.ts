/**
 * Reload time of a large config: a running router (1 worker) gets the 10,000-site /
 * 50,000-route document by `PUT /config` on its admin listener; the time from the first byte
 * sent to the 200 (validated, compiled, swapped in the worker). Then a second document of the
 * same size that changes every site (large -> large), and the router's RSS after both.
 *
 *   npm run build && node dist/bench/reload-time.js
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBackend } from './lib/backend.js';
import { largeRouterConfig } from './lib/large-config.js';
import { SUBJECT_CPU } from './lib/pinning.js';
import { stopChild, treeRssMb } from './lib/processes.js';
import { benchRouterConfig, startRouter, type RouterProcess } from './lib/router-process.js';

export interface ReloadFigures { bytes: number; firstMs: number; secondMs: number; rssBeforeMb: number; rssAfterMb: number }

function putConfig(port: number, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request({ host: '127.0.0.1', port, method: 'PUT', path: '/config', headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`PUT /config answered ${res.statusCode}: ${Buffer.concat(chunks).toString().slice(0, 300)}`));
        else resolve(performance.now() - t0);
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

export async function measureReload(log: (l: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<ReloadFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeplane-bench-reload-'));
  const backend = await startBackend();
  let router: RouterProcess | null = null;
  try {
    router = await startRouter({ dir, name: 'router-reload', cpu: SUBJECT_CPU, config: benchRouterConfig([`127.0.0.1:${backend.port}`], 1) });
    const listen = { http: { host: '127.0.0.1', port: router.ports.http }, admin: { host: '127.0.0.1', port: router.ports.admin } };
    const rssBeforeMb = treeRssMb(router.child.pid);
    const first = Buffer.from(JSON.stringify(largeRouterConfig(1, listen)));
    const second = Buffer.from(JSON.stringify(largeRouterConfig(2, listen)));
    const firstMs = await putConfig(router.ports.admin!, first);
    const secondMs = await putConfig(router.ports.admin!, second);
    await new Promise((r) => setTimeout(r, 500));
    const rssAfterMb = treeRssMb(router.child.pid);
    log(`reload: ${(first.length / 1048576).toFixed(1)} MiB document, small -> large ${firstMs.toFixed(0)} ms, large -> large ${secondMs.toFixed(0)} ms`);
    return { bytes: first.length, firstMs, secondMs, rssBeforeMb, rssAfterMb };
  } finally {
    if (router) await stopChild(router.child);
    await stopChild(backend.child);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${JSON.stringify(await measureReload())}\n`);
}
