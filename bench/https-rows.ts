/**
 * HTTPS rows measured with wrk (bench/PROFILE.md "HTTPS"): the router (1 worker), nginx (1
 * worker) and the minimal proxy with TLS (bench/lib/minimal-proxy.ts `--cert --key`: uWS.SSLApp,
 * the router's own TLS front), the same certificate and key (test/fixtures/tls, RSA 2048),
 * each pinned to CPU 0 with the backend, wrk on CPU 1, 50 connections, in two modes:
 *
 * - keep-alive: handshakes only when wrk opens its connections;
 * - handshake: `Connection: close` on every request, so every request is a new TCP connection and
 *   a full TLS handshake (wrk does not resume sessions): what a client without keep-alive costs.
 *
 * Rounds alternate the order; ratios to nginx and to the minimal proxy are per mode, from the
 * same run.
 *
 *   npm run build && flock /tmp/bench.lock node dist/bench/https-rows.js [--duration 8] [--rounds 3]
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startBackend } from './lib/backend.js';
import { spawnSync } from 'node:child_process';
import { LoadError, wrk, type LoadResult, type LoadSpec } from './lib/load.js';
import { startMinimalProxy, startNginx } from './lib/peers.js';
import { LOAD_CPU, pinSelf, SUBJECT_CPU } from './lib/pinning.js';
import { stopChild, treeRssMb } from './lib/processes.js';
import { BENCH_HOST, benchRouterConfig, startRouter } from './lib/router-process.js';
import { median } from './lib/stats.js';
import { hasTool } from './lib/tools.js';
import { BENCH_CERT } from './router-https.js';

type Subject = 'router' | 'nginx' | 'minimal proxy';
type Mode = 'keep-alive' | 'handshake';

/**
 * wrk for the handshake mode: a server that closes a TLS connection after its response is seen by
 * wrk as a read error on that connection (one per request), so socket errors are counted, not
 * fatal; a non-2xx answer still fails the run.
 */
function wrkClosing(spec: LoadSpec): LoadResult & { readErrors: number } {
  const args = ['-c', LOAD_CPU, 'wrk', '-t1', `-c${spec.connections}`, `-d${spec.durationS}s`, '--latency', '-H', `Host: ${spec.host}`, '-H', 'Connection: close', spec.url];
  const out = spawnSync('taskset', args, { encoding: 'utf8' }).stdout ?? '';
  const ms = (v: string, unit: string): number => (unit === 'us' ? Number(v) / 1000 : unit === 's' ? Number(v) * 1000 : Number(v));
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const p50 = /50%\s+([\d.]+)(us|ms|s)/.exec(out);
  const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(out);
  if (!rps || !p50 || !p99) throw new LoadError(`wrk gave no result for ${spec.url}: ${out.trim().slice(0, 300)}`);
  if (/Non-2xx or 3xx responses: (\d+)/.test(out)) throw new LoadError(`${spec.url}: non-2xx answers (wrk)`);
  const read = /Socket errors: connect \d+, read (\d+)/.exec(out);
  return { tool: 'wrk', rps: Number(rps[1]), p50Ms: ms(p50[1], p50[2]), p99Ms: ms(p99[1], p99[2]), readErrors: read ? Number(read[1]) : 0 };
}

async function start(subject: Subject, dir: string, backendPort: number): Promise<{ child: ChildProcess; port: number }> {
  if (subject === 'nginx') return startNginx({ dir, backendPort, cpu: SUBJECT_CPU, tls: BENCH_CERT });
  if (subject === 'minimal proxy') return startMinimalProxy({ dir, backendPort, cpu: SUBJECT_CPU, tls: BENCH_CERT });
  const r = await startRouter({
    dir, name: 'router-https-rows', cpu: SUBJECT_CPU,
    config: benchRouterConfig([`127.0.0.1:${backendPort}`], 1, {
      listen: { http: { host: '127.0.0.1', port: 0 }, https: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } },
      certificates: [{ hosts: ['*.example.io'], cert: BENCH_CERT.cert, key: BENCH_CERT.key }],
    }),
  });
  return { child: r.child, port: r.ports.https! };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { duration: { type: 'string', default: '8' }, rounds: { type: 'string', default: '3' } } });
  const durationS = Number(values.duration);
  const rounds = Number(values.rounds);
  pinSelf();
  const subjects: Subject[] = hasTool('nginx') ? ['router', 'nginx', 'minimal proxy'] : ['router', 'minimal proxy'];
  const modes: Mode[] = ['keep-alive', 'handshake'];
  const results = new Map<string, LoadResult[]>();
  const rss = new Map<string, number>();
  const dir = mkdtempSync(join(tmpdir(), 'edgeplane-https-rows-'));
  const backend = await startBackend();
  try {
    for (let i = 0; i < rounds; i++) {
      for (const subject of i % 2 === 0 ? subjects : [...subjects].reverse()) {
        const s = await start(subject, dir, backend.port);
        try {
          for (const mode of modes) {
            const spec = { url: `https://127.0.0.1:${s.port}/bench`, host: BENCH_HOST, connections: 50, durationS: 3 };
            const load = mode === 'handshake' ? wrkClosing : wrk;
            load(spec);
            const r = load({ ...spec, durationS });
            const k = `${subject}|${mode}`;
            results.set(k, [...(results.get(k) ?? []), r]);
            if (mode === 'keep-alive') rss.set(subject, treeRssMb(s.child.pid) ?? NaN);
            process.stderr.write(`round ${i + 1} ${subject} ${mode}: ${r.rps.toFixed(0)} req/s p50 ${r.p50Ms.toFixed(2)} ms p99 ${r.p99Ms.toFixed(2)} ms\n`);
          }
        } finally {
          await stopChild(s.child);
        }
      }
    }
  } finally {
    await stopChild(backend.child);
    rmSync(dir, { recursive: true, force: true });
  }
  const out: string[] = [`wrk -t1 -c50, ${durationS} s per run after a 3 s warm-up, ${rounds} alternating rounds (medians); subject + backend on CPU ${SUBJECT_CPU}, wrk on CPU 1; RSA 2048, TLS 1.2+`, ''];
  out.push('| mode | subject | req/s | p50 ms | p99 ms | x nginx | x minimal proxy | RSS MiB |', '|---|---|---:|---:|---:|---:|---:|---:|');
  for (const mode of modes) {
    const med = (s: Subject, f: (r: LoadResult) => number): number => median((results.get(`${s}|${mode}`) ?? []).map(f));
    for (const s of subjects) {
      const rps = med(s, (r) => r.rps);
      const x = (ref: Subject): string => (subjects.includes(ref) ? `${(rps / med(ref, (r) => r.rps)).toFixed(2)}x` : 'n/a');
      out.push(`| ${mode} | ${s} | ${rps.toFixed(0)} | ${med(s, (r) => r.p50Ms).toFixed(2)} | ${med(s, (r) => r.p99Ms).toFixed(2)} | ${x('nginx')} | ${x('minimal proxy')} | ${mode === 'keep-alive' ? (rss.get(s) ?? NaN).toFixed(0) : ''} |`);
    }
  }
  process.stdout.write(`${out.join('\n')}\n`);
}
