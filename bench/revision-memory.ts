/**
 * Memory of 20 held config revisions of the 10,000-site document, measured on the router's own
 * code from dist (the path a change takes in the ReloadOwner: merge patch or parsed PUT,
 * diffDocuments sharing unchanged parts, scoped validation, RevisionHistory), heap after a
 * forced GC:
 * - 20 revisions made by one-app patches (the usual control-plane change);
 * - 20 revisions made by PUTs of whole documents that each change every site (the worst case:
 *   nothing to share but the apps);
 * with the history's own estimate (`edgeplane_router_config_revisions_bytes`) beside each.
 *
 *   npm run build && node --expose-gc dist/bench/revision-memory.js [--json]
 */
import { fileURLToPath } from 'node:url';
import { validateRouterConfig, type LoadedConfig } from '../router/config/load.js';
import { applyMergePatch } from '../router/config/merge-patch.js';
import { diffDocuments } from '../router/config/document-diff.js';
import { scopeOf } from '../router/config/scoped-validation.js';
import { RevisionHistory } from '../router/config/revision-history.js';
import { APPS, largeRouterConfig } from './lib/large-config.js';

export interface RevisionMemoryFigures {
  documentMb: number;
  patches: { heapMb: number; estimateMb: number; msEach: number };
  puts: { heapMb: number; estimateMb: number; msEach: number };
}

function heapUsed(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

function change(history: RevisionHistory, next: Record<string, unknown>, source: 'patch' | 'put'): void {
  const running = history.current.loaded;
  const diff = diffDocuments(running.config as unknown as Record<string, unknown>, next);
  const loaded: LoadedConfig = validateRouterConfig(next, 'bench', running.baseDir, scopeOf(diff, false));
  history.add(source, loaded);
}

/** Heap held by 19 more revisions on top of the first one (20 held), and the history's estimate. */
function measure(make: (i: number, history: RevisionHistory) => Record<string, unknown>, source: 'patch' | 'put'): { heapMb: number; estimateMb: number; msEach: number } {
  const history = new RevisionHistory();
  history.add('file', validateRouterConfig(JSON.parse(JSON.stringify(largeRouterConfig(0))), 'bench', process.cwd()));
  const before = heapUsed();
  const t0 = performance.now();
  for (let i = 1; i < 20; i++) change(history, make(i, history), source);
  const msEach = (performance.now() - t0) / 19;
  const heapMb = (heapUsed() - before) / 1048576;
  const estimateMb = history.bytes() / 1048576;
  if (history.size !== 20) throw new Error(`history holds ${history.size}`);
  return { heapMb, estimateMb, msEach };
}

export function measureRevisionMemory(): RevisionMemoryFigures {
  const documentMb = JSON.stringify(largeRouterConfig(0)).length / 1048576;
  const patches = measure((i, h) => applyMergePatch(h.current.loaded.config, {
    apps: { [`app-${(i * 37) % APPS}`]: { dynos: [`127.0.0.1:${30000 + i}`] } },
  }) as Record<string, unknown>, 'patch');
  const puts = measure((i) => JSON.parse(JSON.stringify(largeRouterConfig(i))) as Record<string, unknown>, 'put');
  return { documentMb, patches, puts };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const f = measureRevisionMemory();
  if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify(f)}\n`);
  else {
    process.stdout.write(`document ${f.documentMb.toFixed(1)} MiB of JSON\n`);
    for (const [what, x] of [['19 one-app patches', f.patches], ['19 PUTs changing every site', f.puts]] as const) {
      process.stdout.write(`${what}: heap +${x.heapMb.toFixed(1)} MiB (estimate ${x.estimateMb.toFixed(1)} MiB for all 20), ${x.msEach.toFixed(1)} ms each (diff + validation)\n`);
    }
  }
}
