/**
 * HTTPS termination: the router (1 worker) vs nginx (1 worker), the same certificate and key
 * (test/fixtures/tls/wildcard-example-io, RSA 2048, *.example.io), TLS 1.2+, keep-alive
 * connections (handshakes only at connection start), the same backend over plain HTTP behind
 * both. Proxy + backend on CPU 0, autocannon (TLS client, in this process) on CPU 1; rounds
 * alternate; ratio to nginx HTTPS from the same run.
 *
 *   npm run build && node dist/bench/router-https.js [--duration 10] [--rounds 3] [--connections 50]
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startBackend } from './lib/backend.js';
import { autocannon, type LoadResult } from './lib/load.js';
import { startNginx } from './lib/peers.js';
import { pinSelf, SUBJECT_CPU } from './lib/pinning.js';
import { stopChild, treeRssMb } from './lib/processes.js';
import { BENCH_HOST, benchRouterConfig, startRouter } from './lib/router-process.js';
import { median, ratio, spread } from './lib/stats.js';
import { okRow, renderTable, statusRow, type Row } from './lib/table.js';
import { hasTool, installHint } from './lib/tools.js';

export interface HttpsBenchOptions { durationS?: number; rounds?: number; connections?: number; warmupS?: number; log?: (line: string) => void }

const GROUP = 'https';
const FIXTURES = fileURLToPath(new URL('../../test/fixtures/tls/', import.meta.url));
export const BENCH_CERT = { cert: join(FIXTURES, 'wildcard-example-io.pem'), key: join(FIXTURES, 'wildcard-example-io.key') };

type Kind = 'router' | 'nginx';

export async function runHttpsBench(opts: HttpsBenchOptions = {}): Promise<Row[]> {
  const durationS = opts.durationS ?? 10;
  const rounds = opts.rounds ?? 3;
  const connections = opts.connections ?? 50;
  const warmupS = opts.warmupS ?? Math.min(3, durationS);
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const kinds: Kind[] = hasTool('nginx') ? ['router', 'nginx'] : ['router'];
  const dir = mkdtempSync(join(tmpdir(), 'edgeplane-bench-https-'));
  const backend = await startBackend();
  const results: Record<Kind, LoadResult[]> = { router: [], nginx: [] };
  const rss: Partial<Record<Kind, number>> = {};
  const failed: Partial<Record<Kind, string>> = {};
  const start = async (kind: Kind): Promise<{ child: ChildProcess; port: number }> => {
    if (kind === 'nginx') return startNginx({ dir, backendPort: backend.port, cpu: SUBJECT_CPU, tls: BENCH_CERT });
    const r = await startRouter({
      dir, name: 'router-https', cpu: SUBJECT_CPU,
      config: benchRouterConfig([`127.0.0.1:${backend.port}`], 1, {
        listen: { http: { host: '127.0.0.1', port: 0 }, https: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } },
        certificates: [{ hosts: ['*.example.io'], cert: BENCH_CERT.cert, key: BENCH_CERT.key }],
      }),
    });
    return { child: r.child, port: r.ports.https! };
  };
  try {
    for (let round = 0; round < rounds; round++) {
      for (const kind of round % 2 === 0 ? kinds : [...kinds].reverse()) {
        if (failed[kind]) continue;
        let child: ChildProcess | null = null;
        try {
          const s = await start(kind);
          child = s.child;
          const spec = { url: `https://127.0.0.1:${s.port}/bench`, host: BENCH_HOST, connections, durationS };
          await autocannon({ ...spec, durationS: warmupS });
          const r = await autocannon(spec);
          rss[kind] = treeRssMb(child.pid);
          results[kind].push(r);
          log(`https round ${round + 1}/${rounds} ${kind}: ${r.rps.toFixed(0)} req/s p99 ${r.p99Ms.toFixed(2)} ms`);
        } catch (err) {
          failed[kind] = (err as Error).message;
          log(`https ${kind} failed: ${failed[kind]}`);
        } finally {
          if (child) await stopChild(child);
        }
      }
    }
  } finally {
    await stopChild(backend.child);
    rmSync(dir, { recursive: true, force: true });
  }
  const nginxRps = results.nginx.length ? median(results.nginx.map((r) => r.rps)) : undefined;
  const nginxP99 = results.nginx.length ? median(results.nginx.map((r) => r.p99Ms)) : undefined;
  const names: Record<Kind, string> = { router: 'edgeplane router HTTPS, 1 worker', nginx: 'nginx HTTPS, 1 worker' };
  return (['router', 'nginx'] as const).map((kind): Row => {
    if (kind === 'nginx' && !hasTool('nginx')) return statusRow(GROUP, names.nginx, 'not installed', installHint(['nginx']), 'autocannon', 'req/s');
    const rs = results[kind];
    if (failed[kind] || rs.length === 0) return statusRow(GROUP, names[kind], 'failed', failed[kind] ?? 'no run', 'autocannon', 'req/s');
    const v = spread(rs.map((r) => r.rps));
    const p99 = median(rs.map((r) => r.p99Ms));
    const p99r = kind === 'router' ? ratio(p99, nginxP99) : null;
    return okRow({
      group: GROUP, subject: names[kind], tool: 'autocannon', unit: 'req/s', value: v,
      p50Ms: median(rs.map((r) => r.p50Ms)), p99Ms: p99, ratio: ratio(v.median, nginxRps), ratioTo: 'nginx HTTPS',
      rssMb: rss[kind], note: ['same certificate (RSA 2048), keep-alive', p99r !== null ? `p99 ${p99r.toFixed(2)}x nginx` : ''].filter(Boolean).join('; '),
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { duration: { type: 'string' }, rounds: { type: 'string' }, connections: { type: 'string' } } });
  pinSelf();
  const rows = await runHttpsBench({
    durationS: values.duration ? Number(values.duration) : undefined,
    rounds: values.rounds ? Number(values.rounds) : undefined,
    connections: values.connections ? Number(values.connections) : undefined,
  });
  process.stdout.write(`${renderTable(rows)}\n`);
}
