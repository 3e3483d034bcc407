/**
 * Router vs nginx vs HAProxy in front of the same fast backend, on this machine.
 *
 *   npm run build && node dist/bench/router.js [--duration 10] [--connections 50] [--rounds 3]
 *
 * Pinning: the proxy under test and the backend share CPU 0; the load generator (wrk) runs on
 * CPU 1. Runs alternate between peers (round 1: router, nginx, haproxy; round 2: …) and the
 * table shows medians with min–max. Access logging is on for every peer (nginx: buffered
 * access_log to a file; HAProxy: httplog to stdout; the router: its access line on stdout),
 * each written to /dev/null or a temp file. Needs: apt-get install nginx haproxy wrk.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    rounds: { type: 'string', default: '3' },
    only: { type: 'string' },
    workers: { type: 'string', default: '1' },
  },
});
const DURATION = Number(values.duration);
const CONNS = Number(values.connections);
const ROUNDS = Number(values.rounds);
const BACKEND_PORT = 19100;
const PORTS = { router: 19101, nginx: 19102, haproxy: 19103, backend: BACKEND_PORT, router2: 19104 };
const HOST = 'bench.example.io';

function need(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

function waitPort(port: number, timeoutMs = 15000): Promise<void> {
  const end = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      const s = createConnection(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(); });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > end) reject(new Error(`port ${port} not listening`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

function pinned(cpu: string, cmd: string, args: string[], opts: { stdout?: 'ignore' | 'inherit' } = {}): ChildProcess {
  return spawn('taskset', ['-c', cpu, cmd, ...args], { stdio: ['ignore', opts.stdout ?? 'ignore', 'ignore'] });
}

const dir = mkdtempSync(join(tmpdir(), 'edgeplane-bench-'));

/** The backend: a small uWS server answering 200 with a 13-byte body, keep-alive. */
function startBackend(): ChildProcess {
  const file = join(dir, 'backend.mjs');
  writeFileSync(file, `import uWS from ${JSON.stringify(join(ROOT, 'node_modules/uWebSockets.js/src/uws.js'))};
uWS.App().any('/*', (res) => { res.writeHeader('content-type', 'text/plain').end('Hello, world!'); }).listen('127.0.0.1', ${BACKEND_PORT}, () => {});\n`);
  return pinned('0', process.execPath, [file]);
}

function startRouter(port: number, workers: number): ChildProcess {
  const cfg = join(dir, `router-${port}.json`);
  writeFileSync(cfg, JSON.stringify({
    domain: 'example.io', workers,
    listen: { http: { host: '127.0.0.1', port }, admin: { host: '127.0.0.1', port: port + 1000 } },
    apps: { bench: { dynos: [`127.0.0.1:${BACKEND_PORT}`] } },
  }));
  return pinned(workers > 1 ? '0,1' : '0', process.execPath, [join(ROOT, 'dist/router/main.js'), '--config', cfg]);
}

function startNginx(): ChildProcess {
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, `worker_processes 1; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log ${dir}/nginx-access.log combined buffer=64k flush=1s;
  upstream backend { server 127.0.0.1:${BACKEND_PORT}; keepalive 64; }
  server { listen 127.0.0.1:${PORTS.nginx}; server_name ${HOST};
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_set_header Host $host; proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; proxy_set_header X-Request-Id $request_id; } } }\n`);
  return pinned('0', 'nginx', ['-c', conf, '-p', dir]);
}

function startHaproxy(): ChildProcess {
  const conf = join(dir, 'haproxy.cfg');
  writeFileSync(conf, `global
  nbthread 1
  log stdout format raw local0
defaults
  mode http
  log global
  option httplog
  timeout connect 5s
  timeout client 55s
  timeout server 30s
  http-reuse always
frontend fe
  bind 127.0.0.1:${PORTS.haproxy}
  option forwardfor
  default_backend be
backend be
  server s1 127.0.0.1:${BACKEND_PORT}\n`);
  return pinned('0', 'haproxy', ['-f', conf]);
}

interface Run { rps: number; p99ms: number }

function parseLatency(v: string, unit: string): number {
  const n = Number(v);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : n;
}

function wrk(port: number, host: string): Run {
  const r = spawnSync('taskset', ['-c', '1', 'wrk', '-t1', `-c${CONNS}`, `-d${DURATION}s`, '--latency', '-H', `Host: ${host}`, `http://127.0.0.1:${port}/bench`], { encoding: 'utf8' });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1] ?? NaN);
  const m = /99%\s+([\d.]+)(us|ms|s)/.exec(r.stdout);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(r.stdout);
  if (non2xx) process.stderr.write(`warning: ${non2xx[1]} non-2xx responses on port ${port}\n`);
  return { rps, p99ms: m ? parseLatency(m[1], m[2]) : NaN };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function main(): Promise<void> {
  for (const cmd of ['wrk', 'taskset']) if (!need(cmd)) throw new Error(`${cmd} is missing: apt-get install wrk util-linux (see bench/README.md)`);
  const peers: { name: string; port: number; host: string; start: () => ChildProcess }[] = [
    { name: 'edgeplane router (1 worker)', port: PORTS.router, host: HOST, start: () => startRouter(PORTS.router, 1) },
  ];
  if (need('nginx')) peers.push({ name: 'nginx 1 worker', port: PORTS.nginx, host: HOST, start: startNginx });
  if (need('haproxy')) peers.push({ name: 'HAProxy 1 thread', port: PORTS.haproxy, host: HOST, start: startHaproxy });
  peers.push({ name: 'backend direct', port: BACKEND_PORT, host: HOST, start: () => spawn('true') });
  if (Number(values.workers) > 1) peers.push({ name: `edgeplane router (${values.workers} workers, CPUs 0-1)`, port: PORTS.router2, host: HOST, start: () => startRouter(PORTS.router2, Number(values.workers)) });
  const selected = values.only ? peers.filter((p) => p.name.startsWith(values.only!)) : peers;
  if (!existsSync(join(ROOT, 'dist/router/main.js'))) throw new Error('run npm run build first');

  const backend = startBackend();
  await waitPort(BACKEND_PORT);
  const results = new Map<string, Run[]>();
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const p of selected) {
        const proc = p.start();
        try {
          await waitPort(p.port);
          wrk(p.port, p.host); // warm-up, discarded (JIT, pools)
          const r = wrk(p.port, p.host);
          process.stderr.write(`round ${round + 1} ${p.name}: ${r.rps.toFixed(0)} req/s p99 ${r.p99ms.toFixed(2)} ms\n`);
          results.set(p.name, [...(results.get(p.name) ?? []), r]);
        } finally {
          proc.kill('SIGTERM');
          await new Promise((r) => setTimeout(r, 500));
          proc.kill('SIGKILL');
        }
      }
    }
  } finally {
    backend.kill('SIGKILL');
  }
  const nginx = results.get('nginx 1 worker');
  const nginxRps = nginx ? median(nginx.map((r) => r.rps)) : NaN;
  const nginxP99 = nginx ? median(nginx.map((r) => r.p99ms)) : NaN;
  const rows = [`| peer | req/s median (min–max) | p99 ms median | req/s vs nginx | p99 vs nginx |`, `|---|---|---|---|---|`];
  for (const [name, runs] of results) {
    const rps = runs.map((r) => r.rps);
    const p99 = runs.map((r) => r.p99ms);
    rows.push(`| ${name} | ${median(rps).toFixed(0)} (${Math.min(...rps).toFixed(0)}–${Math.max(...rps).toFixed(0)}) | ${median(p99).toFixed(2)} | ${(median(rps) / nginxRps).toFixed(2)}x | ${(median(p99) / nginxP99).toFixed(2)}x |`);
  }
  const header = `wrk -t1 -c${CONNS} -d${DURATION}s on CPU 1; proxy + backend on CPU 0; ${ROUNDS} alternating rounds; ${new Date().toISOString()}`;
  process.stdout.write(`${header}\n\n${rows.join('\n')}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`bench failed: ${err.message}\n`);
  process.exit(1);
});
