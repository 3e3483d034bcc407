/**
 * The edge filters' cost: router throughput with each filter (keyauth, ratelimit, firewall,
 * openapi on parameters, openapi on a JSON body, all four chained) against the same app with
 * none, on one router process (workers: 1, the same backend, the same request); and the OpenAPI
 * validator's validations per second in this process, the one the router uses (Ajv 8 compiled
 * per operation, the spec bundled by @apidevtools/json-schema-ref-parser, our own path-template
 * trie) beside openapi-backend 5 on the same spec and requests. Router + backend on CPU 0, load
 * (autocannon, in this process) on CPU 1. Rounds alternate the order; each ratio is the median
 * of per-round ratios to the "no filter" run of the same round.
 *
 *   npm run build && node dist/bench/router-filters.js [--duration 10] [--rounds 3] [--connections 50] [--validations 200000]
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import OpenAPIBackend from 'openapi-backend';
import { startBackend } from './lib/backend.js';
import { autocannon, type LoadResult } from './lib/load.js';
import { pinSelf, SUBJECT_CPU } from './lib/pinning.js';
import { stopChild, treeRssMb } from './lib/processes.js';
import { startRouter, type RouterProcess } from './lib/router-process.js';
import { median, spread } from './lib/stats.js';
import { okRow, renderTable, type Row } from './lib/table.js';
import { loadSpecSync } from '../router/filters/openapi/spec-loader.js';
import { CompiledSpec, checkJsonBody, checkParameters, bodyMedia } from '../router/filters/openapi/compiled-spec.js';

export interface FiltersBenchOptions { durationS?: number; rounds?: number; connections?: number; warmupS?: number; validations?: number; log?: (line: string) => void }

const GROUP = 'filters';
const KEY = 'sk_bench_0123456789';
const BODY = JSON.stringify({ name: 'Ada Lovelace', email: 'ada@example.com', age: 36, tags: ['math', 'engines'], address: { city: 'London', zip: 'W1' } });

const SPEC = `
openapi: 3.0.3
info: { title: bench, version: '1' }
paths:
  /users/{id}:
    get:
      operationId: getUser
      parameters:
        - { name: id, in: path, required: true, schema: { type: integer, minimum: 1 } }
        - { name: fields, in: query, required: true, schema: { type: string, maxLength: 64 } }
        - { name: x-trace, in: header, schema: { type: string, pattern: '^[a-f0-9]{8}$' } }
      responses: { '200': { description: ok } }
  /users:
    post:
      operationId: createUser
      requestBody:
        required: true
        content:
          application/json:
            schema: { $ref: '#/components/schemas/User' }
      responses: { '200': { description: ok } }
components:
  schemas:
    User:
      type: object
      required: [name, email]
      additionalProperties: false
      properties:
        name: { type: string, maxLength: 100 }
        email: { type: string, format: email }
        age: { type: integer, minimum: 0, nullable: true }
        tags: { type: array, maxItems: 10, items: { type: string } }
        address:
          type: object
          properties: { city: { type: string }, zip: { type: string } }
`;

type Subject = 'none' | 'keyauth' | 'ratelimit' | 'firewall' | 'openapi' | 'all' | 'none-post' | 'openapi-body';
const GET_PATH = '/users/42?fields=name,email';

const SUBJECTS: readonly { name: Subject; label: string; post: boolean }[] = [
  { name: 'none', label: 'no filter (GET)', post: false },
  { name: 'keyauth', label: 'keyauth (x-api-key)', post: false },
  { name: 'ratelimit', label: 'ratelimit (by ip, never empty)', post: false },
  { name: 'firewall', label: 'firewall (1,001 CIDRs)', post: false },
  { name: 'openapi', label: 'openapi (path, query, header)', post: false },
  { name: 'all', label: 'firewall + keyauth + ratelimit + openapi', post: false },
  { name: 'none-post', label: 'no filter (POST, 120 B JSON)', post: true },
  { name: 'openapi-body', label: 'openapi validate_body (POST, 120 B JSON)', post: true },
];

function status(port: number, host: string, path: string, headers: Record<string, string>, body?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: body === undefined ? 'GET' : 'POST', headers: { host, ...headers }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + 30_000;
  for (;;) {
    try { if (await check()) return; } catch { /* not yet */ }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** 1,000 CIDRs that do not match, plus loopback: the firewall's lookup is a binary search over them. */
function manyCidrs(): string[] {
  const out = ['127.0.0.0/8'];
  for (let i = 0; i < 1000; i++) out.push(`10.${(i >> 8) & 255}.${i & 255}.0/24`);
  return out;
}

/** Validations per second of one function over `n` calls (after a warm-up of n / 10). */
function perSecond(n: number, fn: () => boolean): number {
  for (let i = 0; i < n / 10; i++) if (!fn()) throw new Error('a valid request was refused');
  const t0 = performance.now();
  for (let i = 0; i < n; i++) fn();
  return n / ((performance.now() - t0) / 1000);
}

async function validatorRows(dir: string, n: number, log: (l: string) => void): Promise<Row[]> {
  const specPath = join(dir, 'api.yaml');
  const t0 = performance.now();
  const loaded = loadSpecSync(specPath);
  const ours = new CompiledSpec(structuredClone(loaded.doc));
  const oursMs = performance.now() - t0;
  const t1 = performance.now();
  const backend = new OpenAPIBackend({ definition: structuredClone(loaded.doc) as never, quick: false, validate: true, strict: false });
  await backend.init();
  const backendMs = performance.now() - t1;
  const headers: Record<string, string> = { 'x-trace': 'deadbeef', 'content-type': 'application/json' };
  const bodyBytes = Buffer.from(BODY);
  const req = { query: 'fields=name,email', header: (h: string): string => headers[h] ?? '' };

  const oursGet = (): boolean => {
    const m = ours.match('GET', '/users/42');
    return typeof m !== 'string' && checkParameters(m.op, m.pathParams, req) === null;
  };
  const oursPost = (): boolean => {
    const m = ours.match('POST', '/users');
    if (typeof m === 'string' || checkParameters(m.op, m.pathParams, req) !== null) return false;
    const media = bodyMedia(m.op, headers['content-type']);
    return media !== null && media !== 'unsupported' && checkJsonBody(media, bodyBytes) === null;
  };
  const backendGet = (): boolean => backend.validateRequest({ method: 'get', path: '/users/42', query: { fields: 'name,email' }, headers }).valid;
  const backendPost = (): boolean => backend.validateRequest({ method: 'post', path: '/users', query: {}, headers, body: JSON.parse(bodyBytes.toString('utf8')) as unknown }).valid;

  const rows: Row[] = [];
  const runs: [string, () => boolean, number][] = [];
  const r = (label: string, fn: () => boolean): number => {
    const v = perSecond(n, fn);
    log(`validator ${label}: ${v.toFixed(0)}/s`);
    runs.push([label, fn, v]);
    return v;
  };
  const og = r('ours GET', oursGet);
  const bg = r('openapi-backend GET', backendGet);
  const op = r('ours POST', oursPost);
  const bp = r('openapi-backend POST', backendPost);
  const row = (subject: string, v: number, ref: number, note: string): Row => okRow({
    group: GROUP, subject, tool: 'loop', unit: 'validations/s', value: spread([v]), ratio: v / ref, ratioTo: 'openapi-backend, same request', note,
  });
  rows.push(
    row('validator: Ajv + ref-parser + own trie (the router\'s), GET path/query/header', og, bg, `compile ${oursMs.toFixed(0)} ms`),
    row('validator: openapi-backend 5.23, GET path/query/header', bg, bg, `init ${backendMs.toFixed(0)} ms`),
    row('validator: Ajv + ref-parser + own trie (the router\'s), POST JSON body (parse included)', op, bp, ''),
    row('validator: openapi-backend 5.23, POST JSON body (parse included)', bp, bp, ''),
  );
  return rows;
}

export async function runRouterFiltersBench(opts: FiltersBenchOptions = {}): Promise<Row[]> {
  const durationS = opts.durationS ?? 10;
  const rounds = opts.rounds ?? 3;
  const connections = opts.connections ?? 50;
  const warmupS = opts.warmupS ?? Math.min(3, durationS);
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const dir = mkdtempSync(join(tmpdir(), 'edgeplane-bench-filters-'));
  writeFileSync(join(dir, 'api.yaml'), SPEC);
  const rows = await validatorRows(dir, opts.validations ?? 200_000, log);
  const backend = await startBackend();
  let router: RouterProcess | null = null;
  try {
    const dyno = `127.0.0.1:${backend.port}`;
    const app = (filters: string[]) => ({ dynos: [dyno], filters: filters.map((filter) => ({ filter })) });
    router = await startRouter({
      dir, name: 'router-filters', cpu: SUBJECT_CPU,
      config: {
        domain: 'bench.test', workers: 1,
        listen: { http: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } },
        apps: {
          none: app([]), 'none-post': app([]), keyauth: app(['keys']), ratelimit: app(['limit']), firewall: app(['fw']),
          openapi: app(['schema']), 'openapi-body': app(['schema-body']), all: app(['fw', 'keys', 'limit', 'schema']),
        },
        filters: {
          keys: { type: 'keyauth', locations: [{ header: 'x-api-key' }], keys: [{ id: 'bench', sha256: createHash('sha256').update(KEY).digest('hex') }] },
          limit: { type: 'ratelimit', limit: 1_000_000, window_ms: 1000, by: ['ip'] },
          fw: { type: 'firewall', allow: manyCidrs() },
          schema: { type: 'openapi', spec: join(dir, 'api.yaml') },
          'schema-body': { type: 'openapi', spec: join(dir, 'api.yaml'), validate_body: true },
        },
      },
    });
    const port = router.ports.http!;
    const headers = { 'x-api-key': KEY, 'x-trace': 'deadbeef', 'content-type': 'application/json' };
    await until('the router', async () => (await status(port, 'none.bench.test', GET_PATH, headers)) === 200);
    for (const s of SUBJECTS) {
      const got = await status(port, `${s.name}.bench.test`, s.post ? '/users' : GET_PATH, headers, s.post ? BODY : undefined);
      if (got !== 200) throw new Error(`${s.name}: the bench request is refused (${got})`);
    }
    if ((await status(port, 'keyauth.bench.test', GET_PATH, {})) !== 401) throw new Error('the keyauth filter is not on');

    const run = (s: (typeof SUBJECTS)[number], seconds: number): Promise<LoadResult> => autocannon({
      url: `http://127.0.0.1:${port}${s.post ? '/users' : GET_PATH}`, host: `${s.name}.bench.test`, connections, durationS: seconds, headers,
      ...(s.post ? { method: 'POST', body: BODY } : {}),
    });
    for (const s of SUBJECTS) await run(s, warmupS);
    const results = new Map<Subject, LoadResult[]>(SUBJECTS.map((s) => [s.name, []]));
    for (let i = 0; i < rounds; i++) {
      const order = i % 2 === 0 ? SUBJECTS : [...SUBJECTS].reverse();
      for (const s of order) {
        const r = await run(s, durationS);
        results.get(s.name)!.push(r);
        log(`filters round ${i + 1}/${rounds} ${s.name}: ${r.rps.toFixed(0)} req/s p99 ${r.p99Ms.toFixed(2)} ms`);
      }
    }
    const rssMb = treeRssMb(router.child.pid);
    for (const s of SUBJECTS) {
      const rs = results.get(s.name)!;
      const ref = results.get(s.post ? 'none-post' : 'none')!;
      rows.push(okRow({
        group: GROUP, subject: `edgeplane router, 1 worker, ${s.label}`, tool: 'autocannon', unit: 'req/s', value: spread(rs.map((r) => r.rps)),
        p50Ms: median(rs.map((r) => r.p50Ms)), p99Ms: median(rs.map((r) => r.p99Ms)),
        ratio: median(rs.map((r, i) => r.rps / ref[i].rps)), ratioTo: `${s.post ? 'no filter, POST' : 'no filter'} (paired per round)`, rssMb,
      }));
    }
    return rows;
  } finally {
    if (router) await stopChild(router.child);
    await stopChild(backend.child);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { duration: { type: 'string' }, rounds: { type: 'string' }, connections: { type: 'string' }, validations: { type: 'string' } } });
  pinSelf();
  const rows = await runRouterFiltersBench({
    durationS: values.duration ? Number(values.duration) : undefined,
    rounds: values.rounds ? Number(values.rounds) : undefined,
    connections: values.connections ? Number(values.connections) : undefined,
    validations: values.validations ? Number(values.validations) : undefined,
  });
  process.stdout.write(`${renderTable(rows)}\n`);
}
