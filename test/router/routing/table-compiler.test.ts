import t from 'tap';
import fc from 'fast-check';
import { pino } from 'pino';
import { documentProblems } from '../../../router/config/load.js';
import { applyMergePatch } from '../../../router/config/merge-patch.js';
import { diffDocuments, isEntryWise } from '../../../router/config/document-diff.js';
import type { RouterConfig } from '../../../router/config/schema.js';
import { TableCompiler, deltaOf } from '../../../router/routing/table-compiler.js';
import { compileRouteTable } from '../../../router/routing/compile.js';
import type { RouteTable } from '../../../router/routing/route-table.js';
import { DynoRegistry } from '../../../router/upstream/dyno-registry.js';
import { FilterFactory } from '../../../router/filters/filter-factory.js';
import { CanaryBoard } from '../../../router/canary/canary-board.js';
import { canariesFromApps } from '../../../router/canary/canary-schema.js';
import { deepFreeze } from '../../../shared/config-file.js';
import { fuzz } from '../../fuzz/fuzz-params.js';
import { baseDoc, copy, patch } from '../config/support/doc-generator.js';

// A worker compiling only what a change touched (TableCompiler.delta) ends with the table a
// full compile of the new document gives, over a sequence of changes (its host index kept up
// to date), and keeps the app routes it did not have to rebuild: same objects, so the same
// balancer position, filter chain and canary slot.

/** Everything the request path reads from a table, as plain data. */
function describe(table: RouteTable): unknown {
  const app = (name: string): unknown => {
    const a = table.apps.get(name)!;
    return {
      name: a.name, dynos: a.balancer.dynos.map((d) => d.address), filters: a.filters.length, maintenance: a.maintenance, internal: a.internal,
      canary: a.canary && { app: a.canary.app.name, weight: a.canary.weight, slot: a.canary.slot, same: a.canary.app === table.apps.get(a.canary.app.name) },
    };
  };
  return {
    apps: [...table.apps.keys()].sort().map(app),
    hosts: [...table.hosts.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([h, e]) => [h, e.internal, e.app
      ? { app: e.app.name, same: e.app === table.apps.get(e.app.name) }
      : e.routes!.map((r) => [r.prefix, r.target, r.app.name, r.app === table.apps.get(r.app.name)])]),
    dynos: [...table.dynos].map((d) => d.address).sort(),
    timeouts: table.timeouts,
    maxBodyBytes: table.maxBodyBytes,
  };
}

const logger = pino({ level: 'silent' });

t.test('delta compile = full compile, over sequences of changes; untouched app routes are kept', async (t) => {
  let deltas = 0;
  let kept = 0;
  await fuzz(t, 'delta = full', fc.property(baseDoc, fc.array(patch, { minLength: 1, maxLength: 4 }), (base, patches) => {
    if (documentProblems(base, '/tmp').length > 0) return;
    const dynos = new DynoRegistry();
    const factory = new FilterFactory({ logger });
    const board = new CanaryBoard();
    const opts = { dynos, buildFilters: factory.chain.bind(factory) };
    const slotsOf = (config: RouterConfig): Record<string, number> => {
      const slots: Record<string, number> = {};
      for (const e of board.apply(canariesFromApps(config.apps).canaries).canaries) slots[e.prodApp] = e.slot;
      return slots;
    };
    let running = deepFreeze(copy(base)) as unknown as RouterConfig;
    const compiler = new TableCompiler(opts);
    // the worker owns its copy (a structured clone in the router)
    compiler.full(structuredClone(running), 'v0', slotsOf(running)).commit();
    patches.forEach((p, i) => {
      const next = applyMergePatch(running, copy(p)) as Record<string, unknown>;
      const diff = diffDocuments(running as unknown as Record<string, unknown>, next);
      if (documentProblems(next, '/tmp').length > 0 || !isEntryWise(diff)) return;
      const frozen = deepFreeze(next) as unknown as RouterConfig;
      const slots = slotsOf(frozen);
      const before = compiler.current;
      const prepared = compiler.delta(structuredClone(deltaOf(diff, frozen)), `v${i + 1}`, slots);
      prepared.commit();
      deltas++;
      const full = compileRouteTable(frozen, { ...opts, version: `v${i + 1}`, canarySlots: slots });
      const got = JSON.stringify(describe(prepared.table));
      const want = JSON.stringify(describe(full));
      if (got !== want) throw new Error(`delta ${got}\n!= full ${want}\nrunning ${JSON.stringify(running)}\npatch ${JSON.stringify(p)}`);
      // an app whose entry, filters and canary are untouched keeps its route object
      const touched = new Set([...diff.records.apps!.changed, ...diff.records.apps!.removed]);
      for (const [name, route] of before.apps) {
        const cfg = frozen.apps[name];
        if (touched.has(name) || !cfg || cfg.canary || (cfg.filters?.length ?? 0) > 0) continue;
        if (prepared.table.apps.get(name) !== route) throw new Error(`untouched app ${name} was rebuilt`);
        kept++;
      }
      if (prepared.table.apps.size > 0 && prepared.created.length > prepared.table.apps.size) throw new Error('created more routes than apps');
      running = frozen;
    });
    factory.close();
  }), 600);
  t.ok(deltas > 100, `${deltas} deltas compared`);
  t.ok(kept > 100, `${kept} untouched app routes kept`);
});
