import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { TAIL } from './shuttle-process.js';
import { waitFor } from './wait.js';
import { assertDistFresh } from '../../support/dist-fresh.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** A running `node dist/logshuttle/tail.js`. */
export interface TailCli {
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** complete stdout lines */
  lines(): string[];
  waitForLine(pred: (line: string) => boolean, what: string): Promise<void>;
  exit: Promise<number | null>;
}

/** Spawns the tail CLI with `args` (stdout and stderr piped: not a TTY). */
export function spawnTail(t: Teardown, args: string[], env: Record<string, string | undefined> = {}): TailCli {
  assertDistFresh();
  const e: NodeJS.ProcessEnv = { ...process.env };
  delete e.NO_COLOR;
  delete e.FORCE_COLOR;
  delete e.LOGSHUTTLE_TOKEN;
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete e[k]; else e[k] = v;
  const proc = spawn(process.execPath, [TAIL, ...args], { env: e, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.setEncoding('utf8');
  proc.stderr!.setEncoding('utf8');
  proc.stdout!.on('data', (d: string) => (out += d));
  proc.stderr!.on('data', (d: string) => (err += d));
  const exit = new Promise<number | null>((resolve) => proc.on('close', (code) => resolve(code)));
  t.teardown(() => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL'); });
  const lines = (): string[] => out.split('\n').slice(0, -1);
  return {
    proc,
    stdout: () => out,
    stderr: () => err,
    lines,
    async waitForLine(pred, what) {
      await waitFor(() => lines().some(pred), `${what} (stdout: ${JSON.stringify(out.slice(-400))}, stderr: ${JSON.stringify(err.slice(-400))})`);
    },
    exit,
  };
}

/** A TCP relay to `port` that can be cut (open connections destroyed, new ones refused). */
export interface CuttableProxy {
  port: number;
  cut(): void;
  allow(): void;
  close(): Promise<void>;
}

export async function startProxy(targetPort: number): Promise<CuttableProxy> {
  const open = new Set<Socket>();
  let refusing = false;
  const server: Server = createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        open.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const cut = (): void => {
    refusing = true;
    for (const s of open) s.destroy();
  };
  return {
    port: (server.address() as { port: number }).port,
    cut,
    allow: () => { refusing = false; },
    close: () => new Promise<void>((resolve) => {
      cut();
      server.close(() => resolve());
    }),
  };
}
