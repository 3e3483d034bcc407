/**
 * Router throughput with and without the JWT filter: the same dyno, the same request, the same
 * bearer token; one router process (workers: 1) serving two apps that differ only by the filter.
 * Rounds alternate so drift hits both sides. Prints a table with the ratio (target >= 0.9).
 *
 *   npm run build && node dist/bench/router-jwt.js [--duration 5] [--rounds 3] [--connections 32]
 *
 * Needs nothing beyond npm ci (autocannon is a dev dependency). Do not run beside other benches.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';

interface AutocannonResult { requests: { average: number }; latency: { p50: number; p99: number }; non2xx: number; errors: number }
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;

export interface JwtBenchRow { case: string; reqPerSec: number; p50Ms: number; p99Ms: number; ratio: number; rounds: number[] }

const MAIN = fileURLToPath(new URL('../router/main.js', import.meta.url));
const DYNO = `import { createServer } from 'node:http';
const body = JSON.stringify({ ok: true, items: [1, 2, 3] });
const s = createServer((req, res) => { req.resume(); res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }); res.end(body); });
s.keepAliveTimeout = 60000;
s.listen(0, '127.0.0.1', () => console.log(s.address().port));`;

/** The router's http port from its `router ready` log line (config ports are 0). */
function readyPort(router: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let pending = '';
    router.stderr?.on('data', (c: Buffer) => {
      pending += c.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        try {
          const j = JSON.parse(line) as { msg?: string; ports?: { http?: number } };
          if (j.msg === 'router ready' && j.ports?.http) resolve(j.ports.http);
        } catch { /* not a JSON log line */ }
      }
    });
    router.once('exit', (code) => reject(new Error(`router exited with ${code}`)));
    setTimeout(() => reject(new Error('router not ready within 20 s')), 20_000).unref();
  });
}

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

export async function runRouterJwtBench(opts: { durationS?: number; rounds?: number; connections?: number } = {}): Promise<JwtBenchRow[]> {
  const durationS = opts.durationS ?? 5;
  const rounds = opts.rounds ?? 3;
  const connections = opts.connections ?? 32;
  const autocannon = ((await import('autocannon' as string)) as { default: Autocannon }).default;
  const children: ChildProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'edgeplane-bench-jwt-'));
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench', alg: 'RS256', use: 'sig' };
  const jwks = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })));
  await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', () => r()));
  try {
    const dyno = spawn(process.execPath, ['--input-type=module', '-e', DYNO], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(dyno);
    const dynoPort = await new Promise<number>((resolve) => dyno.stdout?.once('data', (c: Buffer) => resolve(Number(c.toString().trim()))));
    const issuer = 'https://idp.bench/';
    const config = {
      domain: 'bench.test', workers: 1,
      listen: { http: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } },
      apps: {
        plain: { dynos: [`127.0.0.1:${dynoPort}`] },
        secured: { dynos: [`127.0.0.1:${dynoPort}`], filters: [{ filter: 'auth' }] },
      },
      filters: { auth: { type: 'jwt', jwks_uri: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`, issuer, audiences: ['api'] } },
    };
    writeFileSync(join(dir, 'router.json'), JSON.stringify(config));
    const router = spawn(process.execPath, [MAIN, '--config', join(dir, 'router.json')], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LOG_LEVEL: 'info' } });
    children.push(router);
    const port = await readyPort(router);
    const token = await new SignJWT({ sub: 'bench-user', aud: 'api', iss: issuer }).setProtectedHeader({ alg: 'RS256', kid: 'bench' })
      .setIssuedAt().setExpirationTime('2h').sign(privateKey);
    const headers = { authorization: `Bearer ${token}` };
    await until('the router', async () => (await status(port, 'plain.bench.test', headers)) === 200);
    if ((await status(port, 'secured.bench.test', headers)) !== 200) throw new Error('the token is refused by the JWT filter');
    if ((await status(port, 'secured.bench.test', {})) !== 401) throw new Error('the JWT filter is not on');

    const run = async (host: string, seconds: number): Promise<AutocannonResult> => {
      const r = await autocannon({ url: `http://127.0.0.1:${port}/items`, connections, duration: seconds, headers: { host, ...headers } });
      if (r.non2xx > 0 || r.errors > 0) throw new Error(`${host}: ${r.non2xx} non-2xx, ${r.errors} errors`);
      return r;
    };
    await run('plain.bench.test', 2);
    await run('secured.bench.test', 2);
    const results: Record<'plain' | 'secured', AutocannonResult[]> = { plain: [], secured: [] };
    for (let i = 0; i < rounds; i++) {
      const order = i % 2 === 0 ? (['plain', 'secured'] as const) : (['secured', 'plain'] as const);
      for (const name of order) results[name].push(await run(`${name}.bench.test`, durationS));
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    // ratio: the median of the per-round ratios (each round runs both sides back to back)
    const paired = results.secured.map((r, i) => r.requests.average / results.plain[i].requests.average);
    const row = (name: string, rs: AutocannonResult[], ratio: number): JwtBenchRow => ({
      case: name,
      reqPerSec: median(rs.map((r) => r.requests.average)),
      p50Ms: median(rs.map((r) => r.latency.p50)),
      p99Ms: median(rs.map((r) => r.latency.p99)),
      ratio,
      rounds: rs.map((r) => Math.round(r.requests.average)),
    });
    return [row('router, no filter', results.plain, 1), row('router, JWT filter (cached token)', results.secured, median(paired))];
  } finally {
    for (const c of children) c.kill('SIGTERM');
    jwks.closeAllConnections();
    jwks.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatJwtBench(rows: readonly JwtBenchRow[]): string {
  const lines = ['| case | req/s (median) | p50 ms | p99 ms | ratio | req/s per round |', '|---|---:|---:|---:|---:|---|'];
  for (const r of rows) {
    lines.push(`| ${r.case} | ${Math.round(r.reqPerSec)} | ${r.p50Ms} | ${r.p99Ms} | ${r.ratio.toFixed(3)} | ${r.rounds.join(' ')} |`);
  }
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { duration: { type: 'string' }, rounds: { type: 'string' }, connections: { type: 'string' } } });
  const rows = await runRouterJwtBench({
    durationS: values.duration ? Number(values.duration) : undefined,
    rounds: values.rounds ? Number(values.rounds) : undefined,
    connections: values.connections ? Number(values.connections) : undefined,
  });
  process.stdout.write(`${formatJwtBench(rows)}\n`);
  const ratio = rows[1].ratio;
  process.stdout.write(`JWT on / off throughput ratio ${ratio.toFixed(3)} (target >= 0.9): ${ratio >= 0.9 ? 'ok' : 'BELOW TARGET'}\n`);
}
