/**
 * Router throughput with and without the JWT filter: the same backend, the same request, the same
 * bearer token (RS256, verified once then served from the filter's cache); one router process
 * (workers: 1) serving two apps that differ only by the filter. Router + backend on CPU 0, load
 * (autocannon, in this process, with the JWKS server) on CPU 1. Rounds alternate the order; the
 * ratio is the median of the per-round ratios (each round runs both sides back to back).
 * Target: >= 0.95 (issue 14).
 *
 *   npm run build && node dist/bench/router-jwt.js [--duration 10] [--rounds 3] [--connections 50]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { startBackend } from './lib/backend.js';
import { autocannon, type LoadResult } from './lib/load.js';
import { pinSelf, SUBJECT_CPU } from './lib/pinning.js';
import { stopChild, treeRssMb } from './lib/processes.js';
import { startRouter, type RouterProcess } from './lib/router-process.js';
import { median, spread } from './lib/stats.js';
import { okRow, renderTable, type Row } from './lib/table.js';

export interface JwtBenchOptions { durationS?: number; rounds?: number; connections?: number; warmupS?: number; log?: (line: string) => void }

const GROUP = 'jwt';

function status(port: number, host: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/items', headers: { host, ...headers }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + 20_000;
  for (;;) {
    try { if (await check()) return; } catch { /* not yet */ }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function runRouterJwtBench(opts: JwtBenchOptions = {}): Promise<Row[]> {
  const durationS = opts.durationS ?? 10;
  const rounds = opts.rounds ?? 3;
  const connections = opts.connections ?? 50;
  const warmupS = opts.warmupS ?? Math.min(3, durationS);
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const dir = mkdtempSync(join(tmpdir(), 'edgeplane-bench-jwt-'));
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench', alg: 'RS256', use: 'sig' };
  const jwks = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })));
  await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', () => r()));
  const backend = await startBackend();
  let router: RouterProcess | null = null;
  try {
    const issuer = 'https://idp.bench/';
    const dyno = `127.0.0.1:${backend.port}`;
    router = await startRouter({
      dir, name: 'router-jwt', cpu: SUBJECT_CPU,
      config: {
        domain: 'bench.test', workers: 1,
        listen: { http: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } },
        apps: { plain: { dynos: [dyno] }, secured: { dynos: [dyno], filters: [{ filter: 'auth' }] } },
        filters: { auth: { type: 'jwt', jwks_uri: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`, issuer, audiences: ['api'] } },
      },
    });
    const port = router.ports.http!;
    const token = await new SignJWT({ sub: 'bench-user', aud: 'api', iss: issuer }).setProtectedHeader({ alg: 'RS256', kid: 'bench' })
      .setIssuedAt().setExpirationTime('2h').sign(privateKey);
    const headers = { authorization: `Bearer ${token}` };
    await until('the router', async () => (await status(port, 'plain.bench.test', headers)) === 200);
    if ((await status(port, 'secured.bench.test', headers)) !== 200) throw new Error('the token is refused by the JWT filter');
    if ((await status(port, 'secured.bench.test', {})) !== 401) throw new Error('the JWT filter is not on');

    const run = (name: 'plain' | 'secured', seconds: number): Promise<LoadResult> =>
      autocannon({ url: `http://127.0.0.1:${port}/items`, host: `${name}.bench.test`, connections, durationS: seconds, headers });
    await run('plain', warmupS);
    await run('secured', warmupS);
    const results: Record<'plain' | 'secured', LoadResult[]> = { plain: [], secured: [] };
    for (let i = 0; i < rounds; i++) {
      const order = i % 2 === 0 ? (['plain', 'secured'] as const) : (['secured', 'plain'] as const);
      for (const name of order) {
        const r = await run(name, durationS);
        results[name].push(r);
        log(`jwt round ${i + 1}/${rounds} ${name}: ${r.rps.toFixed(0)} req/s p99 ${r.p99Ms.toFixed(2)} ms`);
      }
    }
    const rssMb = treeRssMb(router.child.pid);
    const paired = results.secured.map((r, i) => r.rps / results.plain[i].rps);
    const row = (subject: string, rs: LoadResult[], ratio: number, note?: string): Row => okRow({
      group: GROUP, subject, tool: 'autocannon', unit: 'req/s', value: spread(rs.map((r) => r.rps)),
      p50Ms: median(rs.map((r) => r.p50Ms)), p99Ms: median(rs.map((r) => r.p99Ms)),
      ratio, ratioTo: 'no filter (paired per round)', rssMb, note,
    });
    const ratio = median(paired);
    return [
      row('edgeplane router, 1 worker, no filter', results.plain, 1),
      row('edgeplane router, 1 worker, JWT filter (same token, cached)', results.secured, ratio,
        `target >= 0.95: ${ratio >= 0.95 ? 'met' : 'NOT met'}`),
    ];
  } finally {
    if (router) await stopChild(router.child);
    await stopChild(backend.child);
    jwks.closeAllConnections();
    jwks.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { duration: { type: 'string' }, rounds: { type: 'string' }, connections: { type: 'string' } } });
  pinSelf();
  const rows = await runRouterJwtBench({
    durationS: values.duration ? Number(values.duration) : undefined,
    rounds: values.rounds ? Number(values.rounds) : undefined,
    connections: values.connections ? Number(values.connections) : undefined,
  });
  process.stdout.write(`${renderTable(rows)}\n`);
}
