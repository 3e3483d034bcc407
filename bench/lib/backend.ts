/**
 * The fast backend every proxy row forwards to: uWS answering 200 `Hello, world!` (13 bytes,
 * text/plain) to any method and path, keep-alive. Runs as its own process, pinned with the
 * proxy under test; the same program is the "backend direct" row (the ceiling of a uWS front).
 *
 *   node dist/bench/lib/backend.js        prints its port on stdout
 */
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import type { us_socket } from 'uWebSockets.js';
import { spawnPinned, SUBJECT_CPU } from './pinning.js';

export interface Backend {
  port: number;
  child: ChildProcess;
}

/** Starts the backend on `cpu` and resolves with its port. */
export function startBackend(cpu = SUBJECT_CPU, nofile?: number): Promise<Backend> {
  const child = spawnPinned(cpu, process.execPath, [fileURLToPath(import.meta.url)], { stdio: ['ignore', 'pipe', 'inherit'], nofile });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`backend exited with ${code}`)));
    child.stdout!.once('data', (c: Buffer) => resolve({ port: Number(c.toString().trim()), child }));
  });
}

async function serve(): Promise<void> {
  const { default: uWS } = await import('uWebSockets.js');
  uWS.App().any('/*', (res) => {
    res.cork(() => res.writeHeader('content-type', 'text/plain').end('Hello, world!'));
  }).listen('127.0.0.1', 0, (socket) => {
    if (!socket) process.exit(1);
    process.stdout.write(`${uWS.us_socket_local_port(socket as unknown as us_socket)}\n`);
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) void serve();
