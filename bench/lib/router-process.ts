/**
 * The router under test as a child process: config written to a temp file, pinned, access lines
 * (stdout) appended to a file like every peer's access log, ports read from its `router ready`
 * line (every port in the config is 0).
 */
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnPinned } from './pinning.js';
import { onLines } from './processes.js';

export const ROUTER_MAIN = fileURLToPath(new URL('../../router/main.js', import.meta.url));

export interface RouterPorts { http?: number; https?: number; admin?: number }

export interface RouterProcess {
  child: ChildProcess;
  ports: RouterPorts;
  /** the file its access lines go to */
  accessLog: string;
}

export interface StartRouterOptions {
  dir: string;
  name: string;
  config: Record<string, unknown>;
  cpu: string;
  nofile?: number;
  /** extra node flags, e.g. --cpu-prof */
  nodeArgs?: string[];
  env?: NodeJS.ProcessEnv;
  /**
   * the router's upstream HTTP client (EDGEPLANE_UPSTREAM_CLIENT for the router process); unset:
   * the bench's own environment decides (e.g. `EDGEPLANE_UPSTREAM_CLIENT=lean node dist/bench/run.js`)
   */
  upstream?: 'lean' | 'undici';
}

/** Starts the router and resolves once its `router ready` line names its ports. */
export function startRouter(o: StartRouterOptions): Promise<RouterProcess> {
  const cfg = join(o.dir, `${o.name}.json`);
  writeFileSync(cfg, JSON.stringify(o.config));
  const accessLog = join(o.dir, `${o.name}-access.log`);
  const fd = openSync(accessLog, 'a');
  const child = spawnPinned(o.cpu, process.execPath, [...(o.nodeArgs ?? []), ROUTER_MAIN, '--config', cfg], {
    stdio: ['ignore', fd, 'pipe'], nofile: o.nofile,
    env: { ...process.env, LOG_LEVEL: 'info', ...(o.upstream ? { EDGEPLANE_UPSTREAM_CLIENT: o.upstream } : {}), ...o.env },
  });
  closeSync(fd);
  const errors: string[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`router ${o.name} not ready within 30 s: ${errors.join(' ').slice(0, 500)}`)), 30_000);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`router ${o.name} exited with ${code}: ${errors.join(' ').slice(0, 500)}`)); });
    onLines(child.stderr, (line) => {
      try {
        const j = JSON.parse(line) as { msg?: string; ports?: RouterPorts; level?: number };
        if (j.msg === 'router ready' && j.ports) {
          clearTimeout(timer);
          resolve({ child, ports: j.ports, accessLog });
        } else if ((j.level ?? 0) >= 50) errors.push(line);
      } catch {
        errors.push(line);
      }
    });
  });
}

/** The minimal router config: one app `bench` on `dynos`, ports 0, `workers` threads. */
export function benchRouterConfig(dynos: string[], workers: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    domain: 'example.io',
    workers,
    listen: { http: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } },
    apps: { bench: { dynos } },
    ...extra,
  };
}

export const BENCH_HOST = 'bench.example.io';
