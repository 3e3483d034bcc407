/**
 * Route table at scale: the 10,000-site / 50,000-route config (bench/lib/large-config.ts)
 * validated and compiled with the router's own code from dist (config/load.ts, compile.ts),
 * the heap it holds (after a forced GC, before and after), and the lookup cost per request as
 * the request path does it: host map lookup, path normalisation, longest-prefix match and
 * rewrite (route-table.ts matchRoute), over 200,000 pre-made (host, path) pairs.
 *
 *   npm run build && node --expose-gc dist/bench/route-table-scale.js [--json]
 */
import { fileURLToPath } from 'node:url';
import { compileRouteTable } from '../router/routing/compile.js';
import { validateRouterConfig } from '../router/config/load.js';
import { matchRoute, normaliseHost } from '../router/routing/route-table.js';
import { DynoRegistry } from '../router/upstream/dyno-registry.js';
import { normalisePath } from '../router/routing/normalise-path.js';
import { APPS, largeRouterConfig, ROUTES_PER_SITE, samplePaths, SITES, siteHost } from './lib/large-config.js';

export interface RouteTableFigures {
  sites: number;
  routes: number;
  apps: number;
  validateMs: number;
  compileMs: number;
  heapMb: number;
  nsPerLookup: number;
  matched: number;
}

/** holds the validated document across the heap readings */
const keep: unknown[] = [];

function heapUsed(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) { gc(); gc(); }
  return process.memoryUsage().heapUsed;
}

export async function measureRouteTable(): Promise<RouteTableFigures> {
  const doc = JSON.parse(JSON.stringify(largeRouterConfig(0))) as unknown;
  let t = performance.now();
  const loaded = validateRouterConfig(doc, 'bench', process.cwd());
  const validateMs = performance.now() - t;
  // the heap with the validated (frozen) document held, before the table exists: the table's
  // own cost is the difference (freezing changes the document's size, so the raw parse is no baseline)
  const before = heapUsed();
  const dynos = new DynoRegistry();
  t = performance.now();
  const table = compileRouteTable(loaded.config, { version: loaded.version, dynos });
  const compileMs = performance.now() - t;
  const heapMb = (heapUsed() - before) / 1048576;
  keep.push(loaded); // held across both readings
  keep.length = 0;

  const paths = samplePaths();
  const N = 200_000;
  const hosts: string[] = new Array<string>(N);
  const targets: string[] = new Array<string>(N);
  let seed = 12345;
  for (let i = 0; i < N; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    hosts[i] = i % 10 === 0 ? `app-${seed % APPS}.example.io` : siteHost(seed % SITES);
    targets[i] = paths[seed % paths.length];
  }
  let matched = 0;
  const pass = (): void => {
    for (let i = 0; i < N; i++) {
      const entry = table.hosts.get(hosts[i]) ?? table.hosts.get(normaliseHost(hosts[i]));
      if (entry === undefined) continue;
      if (matchRoute(entry, normalisePath(targets[i])) !== null) matched++;
    }
  };
  pass(); pass(); // warm-up (JIT)
  matched = 0;
  const passes = 10;
  t = performance.now();
  for (let p = 0; p < passes; p++) pass();
  const nsPerLookup = ((performance.now() - t) * 1e6) / (N * passes);
  await dynos.closeAll();
  return { sites: SITES, routes: SITES * ROUTES_PER_SITE, apps: APPS, validateMs, compileMs, heapMb, nsPerLookup, matched: matched / passes };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const f = await measureRouteTable();
  if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify(f)}\n`);
  else process.stdout.write(`${f.sites} sites / ${f.routes} routes / ${f.apps} apps: validate ${f.validateMs.toFixed(0)} ms, compile ${f.compileMs.toFixed(0)} ms, heap ${f.heapMb.toFixed(1)} MiB, lookup ${f.nsPerLookup.toFixed(0)} ns\n`);
}
