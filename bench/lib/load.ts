/**
 * Load generators: autocannon (the project's own load tool, driven in this process, which is
 * pinned to the load CPU) and wrk (a C load generator started on the load CPU) as a second
 * opinion where autocannon itself is the bottleneck (about 70k req/s on this machine).
 * Every run is HTTP/1.1 keep-alive, `connections` connections, no pipelining, fixed duration.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { LOAD_CPU } from './pinning.js';

export type LoadTool = 'autocannon' | 'wrk';

export interface LoadSpec {
  url: string;
  /** Host header (and TLS servername for https) */
  host: string;
  connections: number;
  durationS: number;
  headers?: Record<string, string>;
  /** autocannon only: request method and body (default GET, none) */
  method?: string;
  body?: string;
}

export interface LoadResult {
  tool: LoadTool;
  rps: number;
  p50Ms: number;
  p99Ms: number;
}

export class LoadError extends Error {
  readonly code = 'E_BENCH_LOAD';
}

/**
 * Latencies in 10 µs buckets up to 100 ms, then 1 ms buckets up to 60 s (autocannon's own
 * histogram keeps whole milliseconds).
 */
class LatencyRecorder {
  private static readonly FINE = 10_000; // 10 µs buckets: 0-100 ms
  private readonly buckets = new Uint32Array(LatencyRecorder.FINE + 60_000);
  private count = 0;
  record(ms: number): void {
    const i = ms < 100 ? Math.floor(ms * 100) : Math.min(this.buckets.length - 1, LatencyRecorder.FINE + Math.floor(ms - 100));
    this.buckets[i]++;
    this.count++;
  }
  percentile(p: number): number {
    const want = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i];
      if (seen >= want && seen > 0) return i < LatencyRecorder.FINE ? (i + 0.5) / 100 : 100 + (i - LatencyRecorder.FINE) + 0.5;
    }
    return NaN;
  }
}

interface AutocannonResult { '2xx': number; duration: number; non2xx: number; errors: number; timeouts: number }
interface AutocannonInstance { on(ev: 'response', fn: (client: unknown, status: number, bytes: number, ms: number) => void): void }
type Autocannon = (opts: Record<string, unknown>, cb: (err: Error | null, r: AutocannonResult) => void) => AutocannonInstance;

const require = createRequire(import.meta.url);
let autocannonFn: Autocannon | null = null;

/** One autocannon run in this process; throws LoadError on any non-2xx answer or socket error, or no answer at all. */
export function autocannon(spec: LoadSpec): Promise<LoadResult> {
  autocannonFn ??= require('autocannon') as Autocannon;
  const rec = new LatencyRecorder();
  const https = spec.url.startsWith('https:');
  return new Promise((resolve, reject) => {
    const inst = autocannonFn!({
      url: spec.url,
      connections: spec.connections,
      duration: spec.durationS,
      headers: { host: spec.host, ...spec.headers },
      ...(spec.method ? { method: spec.method } : {}),
      ...(spec.body !== undefined ? { body: spec.body } : {}),
      ...(https ? { servername: spec.host } : {}),
    }, (err, r) => {
      if (err) return reject(err);
      if (r.non2xx > 0 || r.errors > 0) {
        return reject(new LoadError(`${spec.url} (${spec.host}): ${r.non2xx} non-2xx answers, ${r.errors} errors (${r.timeouts} timeouts)`));
      }
      if (r['2xx'] === 0) return reject(new LoadError(`${spec.url} (${spec.host}): no answer within ${spec.durationS} s`));
      // 2xx answers over the run's actual duration (autocannon's per-second average is coarse for short runs)
      resolve({ tool: 'autocannon', rps: r['2xx'] / r.duration, p50Ms: rec.percentile(50), p99Ms: rec.percentile(99) });
    });
    inst.on('response', (_c, status, _b, ms) => { if (status < 300) rec.record(ms); });
  });
}

function wrkMs(v: string, unit: string): number {
  const n = Number(v);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : n;
}

/** One wrk run (-t1) on the load CPU; throws LoadError on non-2xx answers or socket errors. */
export function wrk(spec: LoadSpec): LoadResult {
  const args = ['-c', LOAD_CPU, 'wrk', '-t1', `-c${spec.connections}`, `-d${spec.durationS}s`, '--latency', '-H', `Host: ${spec.host}`];
  for (const [k, v] of Object.entries(spec.headers ?? {})) args.push('-H', `${k}: ${v}`);
  args.push(spec.url);
  const r = spawnSync('taskset', args, { encoding: 'utf8' });
  const out = r.stdout ?? '';
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const p50 = /50%\s+([\d.]+)(us|ms|s)/.exec(out);
  const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(out);
  if (!rps || !p50 || !p99) throw new LoadError(`wrk gave no result for ${spec.url}: ${(r.stderr || out).trim().slice(0, 300)}`);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const sockErr = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  if (non2xx) throw new LoadError(`${spec.url} (${spec.host}): ${non2xx[1]} non-2xx answers (wrk)`);
  if (sockErr && sockErr.slice(1).some((n) => Number(n) > 0)) throw new LoadError(`${spec.url}: wrk socket errors: ${sockErr[0]}`);
  return { tool: 'wrk', rps: Number(rps[1]), p50Ms: wrkMs(p50[1], p50[2]), p99Ms: wrkMs(p99[1], p99[2]) };
}

export function runLoad(tool: LoadTool, spec: LoadSpec): Promise<LoadResult> {
  return tool === 'wrk' ? Promise.resolve(wrk(spec)) : autocannon(spec);
}
