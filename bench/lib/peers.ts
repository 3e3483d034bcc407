/**
 * The peers the router is measured against, each configured as a production proxy would be:
 * one worker/thread, keep-alive to the backend, access logging on, and started pinned like the
 * router. nginx: `worker_processes 1`, upstream keepalive, `access_log … buffer=64k`; HAProxy:
 * `nbthread 1`, `option httplog` to stdout (a file), `http-reuse always`; @fastify/http-proxy:
 * fastify 5 with one pino access line per response (see fastify-proxy.ts).
 */
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnPinned } from './pinning.js';
import { freePort, onLines, waitPort } from './processes.js';

export interface PeerProcess {
  child: ChildProcess;
  port: number;
}

export interface PeerOptions {
  dir: string;
  backendPort: number;
  cpu: string;
  /** terminate TLS with this certificate (nginx, the minimal proxy) */
  tls?: { cert: string; key: string };
  /** node options before the script (Node peers only), e.g. --cpu-prof */
  nodeArgs?: string[];
}

export async function startNginx(o: PeerOptions): Promise<PeerProcess> {
  const port = await freePort();
  const name = o.tls ? 'nginx-https' : 'nginx';
  const conf = join(o.dir, `${name}.conf`);
  const listen = o.tls
    ? `listen 127.0.0.1:${port} ssl; ssl_certificate ${o.tls.cert}; ssl_certificate_key ${o.tls.key}; ssl_protocols TLSv1.2 TLSv1.3; ssl_session_cache shared:SSL:10m;`
    : `listen 127.0.0.1:${port};`;
  writeFileSync(conf, `worker_processes 1; daemon off; pid ${o.dir}/${name}.pid; error_log ${o.dir}/${name}-error.log;
events { worker_connections 16384; }
http {
  access_log ${o.dir}/${name}-access.log combined buffer=64k flush=1s;
  keepalive_requests 1000000;
  upstream backend { server 127.0.0.1:${o.backendPort}; keepalive 64; }
  server { ${listen} server_name _;
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_set_header Host $host; proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme; proxy_set_header X-Request-Id $request_id; } } }
`);
  const child = spawnPinned(o.cpu, 'nginx', ['-c', conf, '-p', o.dir, '-e', `${o.dir}/${name}-error.log`]);
  await waitPort(port, child);
  return { child, port };
}

export async function startHaproxy(o: PeerOptions): Promise<PeerProcess> {
  const port = await freePort();
  const conf = join(o.dir, 'haproxy.cfg');
  writeFileSync(conf, `global
  nbthread 1
  maxconn 4096
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
  bind 127.0.0.1:${port}
  option forwardfor
  http-request set-header X-Forwarded-Proto http
  unique-id-format %{+X}o\\ %ci:%cp_%fi:%fp_%Ts_%rt:%pid
  http-request set-header X-Request-Id %[unique-id]
  default_backend be
backend be
  server s1 127.0.0.1:${o.backendPort}
`);
  const fd = openSync(join(o.dir, 'haproxy-access.log'), 'a');
  const child = spawnPinned(o.cpu, 'haproxy', ['-f', conf], { stdio: ['ignore', fd, 'ignore'] });
  closeSync(fd);
  await waitPort(port, child);
  return { child, port };
}

export function startFastify(o: PeerOptions): Promise<PeerProcess> {
  return startNodePeer(o, 'fastify-proxy.js', ['--upstream', `http://127.0.0.1:${o.backendPort}`], 'fastify-access.log');
}

/** The minimal-proxy ceiling (minimal-proxy.ts): uWS + node:net keep-alive, access line to a file. */
export function startMinimalProxy(o: PeerOptions): Promise<PeerProcess> {
  const tls = o.tls ? ['--cert', o.tls.cert, '--key', o.tls.key] : [];
  return startNodePeer(o, 'minimal-proxy.js', ['--upstream', `127.0.0.1:${o.backendPort}`, ...tls], 'minimal-access.log');
}

/** A Node peer of bench/lib (`script` prints `port N` on stderr): pinned, its stdout (access lines) to `accessLog` in o.dir. */
async function startNodePeer(o: PeerOptions, script: string, args: string[], accessLog: string): Promise<PeerProcess> {
  const fd = openSync(join(o.dir, accessLog), 'a');
  const child = spawnPinned(o.cpu, process.execPath, [...(o.nodeArgs ?? []), fileURLToPath(new URL(`./${script}`, import.meta.url)), ...args], { stdio: ['ignore', fd, 'pipe'] });
  closeSync(fd);
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
    onLines(child.stderr, (line) => {
      const m = /^port (\d+)$/.exec(line);
      if (m) resolve(Number(m[1]));
    });
  });
  await waitPort(port, child);
  return { child, port };
}
