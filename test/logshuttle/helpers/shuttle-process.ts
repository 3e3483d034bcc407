import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { waitFor } from './wait.js';
import { assertDistFresh } from '../../support/dist-fresh.js';

export const MAIN = resolve(import.meta.dirname, '../../../dist/logshuttle/main.js');
export const TAIL = resolve(import.meta.dirname, '../../../dist/logshuttle/tail.js');

export interface Ports {
  ingest?: number;
  syslog_tcp?: number;
  syslog_udp?: number;
  http?: number;
}

export interface ShuttleProcess {
  proc: ChildProcess;
  ports: Ports;
  /** the program's own log (stderr), line by line */
  log: string[];
  base: string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

const ALL = {
  ingest: { host: '127.0.0.1', port: 0 },
  syslog_tcp: { host: '127.0.0.1', port: 0 },
  syslog_udp: { host: '127.0.0.1', port: 0 },
  http: { host: '127.0.0.1', port: 0 },
};

export function writeConfig(doc: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'shuttle-test-'));
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(doc));
  return file;
}

/** Starts `node dist/logshuttle/main.js` with every listener on an ephemeral port (unless given). */
export async function startShuttle(t: Teardown, extra: Record<string, unknown> = {}, env: Record<string, string> = {}): Promise<ShuttleProcess> {
  assertDistFresh();
  const doc = { listen: ALL, ...extra };
  const file = writeConfig(doc);
  const proc = spawn(process.execPath, [MAIN, '--config', file], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  const log: string[] = [];
  const ports: Ports = {};
  let partial = '';
  let exited = false;
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (d: string) => {
    const lines = (partial + d).split('\n');
    partial = lines.pop()!;
    for (const l of lines) {
      log.push(l);
      try {
        const j = JSON.parse(l) as { listener?: keyof Ports; port?: number };
        if (j.listener && typeof j.port === 'number') ports[j.listener] = j.port;
      } catch {
        // not JSON
      }
    }
  });
  const exit = new Promise<number | null>((res) => proc.on('exit', (code) => { exited = true; res(code); }));
  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> => {
    if (!exited) proc.kill(signal);
    const timer = setTimeout(() => { if (!exited) proc.kill('SIGKILL'); }, 70_000);
    const code = await exit;
    clearTimeout(timer);
    return code;
  };
  t.teardown(() => stop('SIGKILL'));
  const want = Object.keys((doc.listen ?? {}) as object).length;
  await waitFor(() => exited || log.some((l) => l.includes('log shuttle ready')) && Object.keys(ports).length >= want, 'shuttle ready', 90_000);
  if (exited) throw new Error(`shuttle exited: ${log.join('\n')}`);
  // the HTTP listener's own loopback address when the test gave one (a private one: privateLoopbackHost)
  const httpHost = (doc.listen as { http?: { host?: string } }).http?.host;
  const host = httpHost !== undefined && httpHost.startsWith('127.') ? httpHost : '127.0.0.1';
  return { proc, ports, log, base: `http://${host}:${ports.http}`, stop };
}
