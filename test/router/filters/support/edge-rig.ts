import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, request, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { startDyno, startRouter, type Dyno, type RunningRouter } from '../../../support/router-harness.js';

/**
 * The edge filters' test rig: a real router process on a config file written beside the files
 * it names (OpenAPI specs), a dyno that records what it receives, and a small HTTP client.
 */

export interface EdgeRouter extends RunningRouter {
  /** the directory of the config file (specs live here) */
  readonly dir: string;
  readonly configFile: string;
  readonly adminPort: number;
}

/** Writes `files` (relative path -> text) and the config into a fresh directory, then starts the router on it. */
export async function startEdgeRouter(config: object, files: Record<string, string> = {}, env: NodeJS.ProcessEnv = {}): Promise<EdgeRouter> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeplane-edge-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  const configFile = join(dir, 'router.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const router = await startRouter(configFile, [], env);
  return Object.assign(router, { dir, configFile, adminPort: router.ports.admin });
}

export interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface RecordingDyno extends Dyno {
  readonly seen: Seen[];
}

/** A dyno answering 200 `ok` after reading the whole body; every request it got is in `seen`. */
export async function recordingDyno(): Promise<RecordingDyno> {
  const seen: Seen[] = [];
  const dyno = await startDyno((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  return Object.assign(dyno, { seen });
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface CallOptions {
  host: string;
  path?: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** send the body chunked (no Content-Length) */
  chunked?: boolean;
  agent?: Agent | false;
  /** connect to this address (default 127.0.0.1) */
  address?: string;
}

/** One HTTP request to the router; resolves with what came back (a reset connection rejects). */
export function call(port: number, o: CallOptions): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host: o.host, ...o.headers };
    if (o.body !== undefined && !o.chunked) headers['content-length'] = String(Buffer.byteLength(o.body));
    const req = request({ host: o.address ?? '127.0.0.1', port, path: o.path ?? '/', method: o.method ?? (o.body === undefined ? 'GET' : 'POST'),
      headers, agent: o.agent ?? false }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(60_000, () => req.destroy(new Error(`no answer in 60 s: ${o.host}${o.path ?? '/'}`)));
    if (o.body !== undefined) req.end(o.body);
    else req.end();
  });
}

/** The problem+json body of a refusal. */
export function problem(r: Reply): { type: string; title: string; status: number; code: string; detail: string } {
  return JSON.parse(r.body) as { type: string; title: string; status: number; code: string; detail: string };
}

/** PUT /config on the admin listener. */
export function putConfig(adminPort: number, doc: object): Promise<Reply> {
  return call(adminPort, { host: '127.0.0.1', path: '/config', method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(doc) });
}

/** GET /metrics: the value of one sample line (undefined when absent). */
export async function metric(adminPort: number, sample: string): Promise<number | undefined> {
  const r = await call(adminPort, { host: '127.0.0.1', path: '/metrics' });
  for (const line of r.body.split('\n')) if (line.startsWith(sample + ' ')) return Number(line.slice(sample.length + 1));
  return undefined;
}

/** Resident set size of a process, in KiB (from /proc). */
export function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

/** Runs `fn` over `items` with at most `n` at a time. */
export async function inParallel<T, R>(items: readonly T[], n: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, lane));
  return out;
}
