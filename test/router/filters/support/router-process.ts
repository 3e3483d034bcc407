import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertDistFresh } from '../../../support/dist-fresh.js';

const MAIN = fileURLToPath(new URL('../../../../dist/router/main.js', import.meta.url));

/** A free loopback port (the port may be taken again before use; good enough for tests). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A raw HTTP/1.1 request with an explicit Host and path (sent as written, no normalisation). */
export function send(port: number, host: string, path: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: { host, ...opts.headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(15_000, () => req.destroy(new Error(`timeout ${host}${path}`)));
    req.end();
  });
}

/**
 * The router program (`node dist/router/main.js --config FILE`) on ephemeral ports (config ports
 * 0), ready once it logs `router ready` with its ports; its output is kept for failures.
 */
export class RouterProcess {
  output = '';
  exitCode: number | null = null;
  /** the http listener's port */
  port = 0;
  /** the admin listener's port */
  adminPort = 0;
  private child: ChildProcess | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), 'edgeplane-filters-'));

  async start(config: object): Promise<void> {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first`);
    assertDistFresh();
    const file = join(this.dir, 'router.json');
    writeFileSync(file, JSON.stringify(config, null, 2));
    const child = spawn(process.execPath, [MAIN, '--config', file], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'info' } });
    this.child = child;
    const ports = await new Promise<Record<string, number>>((resolve, reject) => {
      let pending = '';
      child.stdout?.on('data', (c: Buffer) => { this.output += c.toString(); });
      child.stderr?.on('data', (c: Buffer) => {
        this.output += c.toString();
        pending += c.toString();
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) {
          try {
            const j = JSON.parse(line) as { msg?: string; ports?: Record<string, number> };
            if (j.msg === 'router ready') resolve(j.ports ?? {});
          } catch { /* not a JSON log line */ }
        }
      });
      child.on('exit', (code) => {
        this.exitCode = code ?? -1;
        reject(new Error(`router exited with ${this.exitCode} before ready:\n${this.output}`));
      });
      setTimeout(() => reject(new Error(`router not ready within 20 s:\n${this.output}`)), 20_000).unref();
    });
    if (!ports.http) throw new Error(`router ready without an http port: ${JSON.stringify(ports)}`);
    this.port = ports.http;
    this.adminPort = ports.admin ?? 0;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child !== undefined && this.exitCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

/** A dyno: answers 200 with what it received as JSON, remembers every request. */
export class EchoDyno {
  readonly seen: SeenRequest[] = [];
  private server: Server | undefined;
  port = 0;

  async start(): Promise<this> {
    const server = createServer((req, res) => {
      const r = { method: req.method ?? '', url: req.url ?? '', headers: req.headers };
      this.seen.push(r);
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json', 'x-total-count': '3' }).end(JSON.stringify(r));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
}
