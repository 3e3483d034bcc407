import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertDistFresh } from './dist-fresh.js';
import { privateLoopbackHost } from './loopback-host.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const ROUTER_MAIN = join(ROOT, 'dist/router/main.js');

/** Writes a config object (or raw text) to a fresh temp file and returns its path. */
export function writeConfig(config: unknown, name = 'router.json'): string {
  const dir = mkdtempSync(join(tmpdir(), 'edgeplane-test-'));
  const file = join(dir, name);
  writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config, null, 2));
  return file;
}

export interface RunningRouter {
  proc: ChildProcess;
  ports: Record<string, number>;
  /** every stdout line so far (access lines when no logshuttle is configured) */
  lines: string[];
  /** every stderr line so far (the router's own JSON logs) */
  errLines: string[];
  url(path?: string): string;
  /** resolves with the first access line matching, polling until the deadline */
  waitForLine(match: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Spawns the built router on a config file and waits for its ready line. */
export async function startRouter(configFile: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<RunningRouter> {
  assertDistFresh();
  const proc = spawn(process.execPath, [ROUTER_MAIN, '--config', configFile, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const errLines: string[] = [];
  let outBuf = '';
  let errBuf = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
    outBuf += d;
    const parts = outBuf.split('\n');
    outBuf = parts.pop()!;
    lines.push(...parts);
  });
  const ready = new Promise<Record<string, number>>((resolve, reject) => {
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
      errBuf += d;
      const parts = errBuf.split('\n');
      errBuf = parts.pop()!;
      for (const p of parts) {
        errLines.push(p);
        try {
          const j = JSON.parse(p) as { msg?: string; ports?: Record<string, number> };
          if (j.msg === 'router ready') resolve(j.ports ?? {});
        } catch { /* not JSON */ }
      }
    });
    proc.once('exit', (code) => reject(new Error(`router exited with ${code} before ready:\n${errLines.join('\n')}${errBuf}`)));
    setTimeout(() => reject(new Error(`router not ready in 60 s:\n${errLines.join('\n')}`)), 60000).unref();
  });
  let ports: Record<string, number>;
  try {
    ports = await ready;
  } catch (err) {
    // never leave a router behind: the test file would hang on it until tap's timeout
    if (proc.exitCode === null) proc.kill('SIGKILL');
    throw err;
  }
  const exited = new Promise<number | null>((resolve) => {
    if (proc.exitCode !== null) resolve(proc.exitCode);
    else proc.once('exit', (code) => resolve(code));
  });
  return {
    proc,
    ports,
    lines,
    errLines,
    url: (path = '/') => `http://127.0.0.1:${ports.http}${path}`,
    async waitForLine(match, timeoutMs = 10000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const found = lines.find(match);
        if (found !== undefined) return found;
        if (Date.now() > end) throw new Error(`no matching line in ${timeoutMs} ms; lines:\n${lines.join('\n')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const t = setTimeout(() => proc.kill('SIGKILL'), 15000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

/** Runs the router to completion (for bad configs / bad args): exit code and output. */
export function runRouterOnce(args: string[], timeoutMs = 20000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [ROUTER_MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const t = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface Dyno {
  server: Server;
  port: number;
  address: string;
  hits: number;
  close(): Promise<void>;
}

/** A real node:http dyno on an ephemeral port (or on `port`, e.g. to revive a dead address). */
export async function startDyno(handler: (req: IncomingMessage, res: ServerResponse) => void, port = 0, host = '127.0.0.1'): Promise<Dyno> {
  const server = createServer();
  const dyno: Dyno = {
    server,
    port: 0,
    address: '',
    hits: 0,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  server.on('request', (req, res) => {
    dyno.hits++;
    handler(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  dyno.port = (server.address() as AddressInfo).port;
  dyno.address = `${host}:${dyno.port}`;
  return dyno;
}

/** A dyno answering JSON `{ dyno, method, url, headers, bodyBytes }` for every request. */
export function echoDyno(name: string, port = 0, host = '127.0.0.1'): Promise<Dyno> {
  return startDyno((req, res) => {
    let bytes = 0;
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ dyno: name, method: req.method, url: req.url, headers: req.headers, rawHeaders: req.rawHeaders, bodyBytes: bytes }));
    });
  }, port, host);
}

/** A raw TCP "dyno" (node:net): `onSocket` gets every accepted connection; counts connections. */
export interface RawDyno {
  server: NetServer;
  port: number;
  address: string;
  connections: number;
  close(): Promise<void>;
}

export async function startRawDyno(onSocket: (sock: Socket) => void): Promise<RawDyno> {
  const server = createNetServer();
  const sockets = new Set<Socket>();
  const dyno: RawDyno = {
    server,
    port: 0,
    address: '',
    connections: 0,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
  server.on('connection', (sock) => {
    dyno.connections++;
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    onSocket(sock);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  dyno.port = (server.address() as AddressInfo).port;
  dyno.address = `127.0.0.1:${dyno.port}`;
  return dyno;
}

/**
 * An address on loopback where a connect never completes (SYNs dropped): a python3 process holds
 * a socket listening with backlog 0 that never accepts, its accept queue filled by its own
 * connections. Connect attempts to it time out (H19). The process exits when `close` is called
 * or when this process dies (its stdin closes).
 */
export async function blackholeAddress(): Promise<{ address: string; close(): Promise<void> }> {
  const script = [
    'import socket, sys',
    's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)',
    'port = s.getsockname()[1]',
    'fill = []',
    'for i in range(3):',
    '    c = socket.socket(); c.setblocking(False)',
    '    try: c.connect(("127.0.0.1", port))',
    '    except BlockingIOError: pass',
    '    fill.append(c)',
    'print(port, flush=True)',
    'sys.stdin.read()',
  ].join('\n');
  const proc = spawn('python3', ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    proc.once('error', reject);
    proc.once('exit', (code) => reject(new Error(`blackhole helper exited with ${code}`)));
    proc.stdout!.setEncoding('utf8').once('data', (d: string) => resolve(Number(d.trim())));
  });
  const exited = new Promise<void>((resolve) => {
    if (proc.exitCode !== null) resolve();
    else proc.once('exit', () => resolve());
  });
  return {
    address: `127.0.0.1:${port}`,
    async close() {
      proc.stdin!.end();
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** A dyno answering JSON `{ dyno, method, url, bytes, sha256 }`: the body it received, hashed. */
export function hashDyno(name: string): Promise<Dyno> {
  return startDyno((req, res) => {
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      bytes += c.length;
      hash.update(c);
    });
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ dyno: name, method: req.method, url: req.url, bytes, sha256: hash.digest('hex') }));
    });
  });
}

export { privateLoopbackHost };

/**
 * An address on loopback where nothing listens (connection refused), on a private loopback
 * address (privateLoopbackHost): its port was free when picked, and no other process binds that
 * address, so it cannot be taken over before the test uses it, as a port released on 127.0.0.1
 * could be. A test may start a listener there later on purpose (a dyno that comes back:
 * `startDyno(handler, port, host)`).
 */
export async function deadAddress(): Promise<string> {
  const host = privateLoopbackHost();
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, host, r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return `${host}:${port}`;
}

/**
 * A port that was free a moment ago, for a listener a test starts LATER on purpose (a shuttle
 * that comes up after the router): another process may take it meanwhile, so use it only where
 * the delay is the point.
 */
export async function releasedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Sends raw bytes on a fresh TCP connection and collects what comes back until close or timeout. */
export function rawRequest(port: number, bytes: string | Buffer, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let out = '';
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => (out += d));
    const done = (): void => {
      sock.destroy();
      resolve(out);
    };
    sock.on('close', done);
    sock.on('error', done);
    sock.on('connect', () => sock.write(bytes));
    setTimeout(done, timeoutMs).unref();
  });
}

/**
 * Sends raw bytes on a fresh TCP connection; collects what comes back until the peer closes
 * (closed: true, `reset` when it was a reset) or the timeout passes (closed: false).
 */
export function rawExchange(port: number, bytes: string | Buffer, timeoutMs = 3000): Promise<{ text: string; closed: boolean; reset: boolean }> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let text = '';
    let reset = false;
    let settled = false;
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => (text += d));
    const done = (closed: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ text, closed, reset });
    };
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET') reset = true;
    });
    sock.on('close', () => done(true));
    sock.on('connect', () => sock.write(bytes));
    const timer = setTimeout(() => done(false), timeoutMs);
  });
}

/** A raw HTTP/1.1 response, parsed: status, lower-cased header names (every value), body bytes as latin1. */
export interface RawResponse {
  status: number;
  headers: [string, string][];
  body: string;
  /** the raw text, unparsed */
  raw: string;
}

/** Parses the first response in raw text (latin1); status 0 when there is none. */
export function parseRawResponse(raw: string): RawResponse {
  const end = raw.indexOf('\r\n\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(raw);
  if (end < 0 || m === null) return { status: 0, headers: [], body: '', raw };
  const headers: [string, string][] = [];
  for (const line of raw.slice(0, end).split('\r\n').slice(1)) {
    const i = line.indexOf(':');
    headers.push([line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim()]);
  }
  return { status: Number(m[1]), headers, body: raw.slice(end + 4), raw };
}

/** A minimal base config around the given apps/sites. */
export function baseConfig(extra: Record<string, unknown>): Record<string, unknown> {
  return {
    domain: 'example.io',
    workers: 1,
    listen: { http: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } },
    ...extra,
  };
}

/** Polls until `check` returns true or the deadline passes. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
