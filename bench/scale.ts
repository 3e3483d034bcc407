/**
 * Scale figures (measured here, never timed in tests): the route table of 10,000 sites / 50,000
 * routes (validate, compile, heap, lookup cost; in a child process with --expose-gc, pinned to
 * CPU 0), 10,000 idle keep-alive connections (router RSS), the reload time of the large config
 * by PUT /config, and the shuttle's memory at 10,000 apps (bench/shuttle-memory.ts, when it is
 * there; its own output goes below the table). One-app PATCHes of the large document and the
 * memory of 20 held revisions are the `config` group (bench/config-patch.ts runConfigBench).
 *
 *   npm run build && node dist/bench/scale.js [--rounds 3]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { measureIdleConnections } from './idle-connections.js';
import { measureReload, type ReloadFigures } from './reload-time.js';
import type { RouteTableFigures } from './route-table-scale.js';
import { SUBJECT_CPU } from './lib/pinning.js';
import { median, spread } from './lib/stats.js';
import { okRow, renderTable, statusRow, type Row } from './lib/table.js';

const GROUP = 'scale';
const ROUTE_TABLE = fileURLToPath(new URL('./route-table-scale.js', import.meta.url));
const SHUTTLE_MEMORY = fileURLToPath(new URL('./shuttle-memory.js', import.meta.url));

export interface ScaleBenchOptions { rounds?: number; log?: (line: string) => void }

export interface ScaleResult { rows: Row[]; sections: string[] }

function routeTableRows(rounds: number, log: (l: string) => void): Row[] {
  const runs: RouteTableFigures[] = [];
  for (let i = 0; i < rounds; i++) {
    const out = execFileSync('taskset', ['-c', SUBJECT_CPU, process.execPath, '--expose-gc', ROUTE_TABLE, '--json'], { encoding: 'utf8', maxBuffer: 1 << 20 });
    runs.push(JSON.parse(out.trim().split('\n').pop()!) as RouteTableFigures);
    const f = runs[runs.length - 1];
    log(`scale route table ${i + 1}/${rounds}: validate ${f.validateMs.toFixed(0)} ms, compile ${f.compileMs.toFixed(0)} ms, heap ${f.heapMb.toFixed(1)} MiB, ${f.nsPerLookup.toFixed(0)} ns/lookup`);
  }
  const f = runs[0];
  const what = `${f.sites.toLocaleString('en-US')} sites / ${f.routes.toLocaleString('en-US')} routes / ${f.apps.toLocaleString('en-US')} apps`;
  const row = (subject: string, unit: string, pick: (x: RouteTableFigures) => number, note: string): Row =>
    okRow({ group: GROUP, subject: `route table ${what}: ${subject}`, tool: 'timer (router code from dist)', unit, value: spread(runs.map(pick)), note });
  return [
    row('validate', 'ms', (x) => x.validateMs, 'config/load.ts validateRouterConfig (schema + cross references), CPU 0'),
    row('compile', 'ms', (x) => x.compileMs, 'routing/compile.ts compileRouteTable, CPU 0'),
    row('heap held', 'MiB', (x) => x.heapMb, 'route table + 2,000 dynos (upstream pools, no connections), after GC; the document itself not counted'),
    row('lookup', 'ns/lookup', (x) => x.nsPerLookup, 'host map + normalisePath + matchRoute, 200,000 mixed (host, path) pairs, after warm-up'),
  ];
}

function shuttleMemory(log: (l: string) => void): { row: Row; section: string | null } {
  const subject = 'shuttle memory at 10,000 apps x 1,500 lines';
  if (!existsSync(SHUTTLE_MEMORY)) {
    return { row: statusRow(GROUP, subject, 'missing', 'see D: bench/shuttle-memory.ts is not there yet', 'bench/shuttle-memory.ts'), section: null };
  }
  log('scale: running bench/shuttle-memory.ts');
  const r = spawnSync(process.execPath, [SHUTTLE_MEMORY], { encoding: 'utf8', timeout: 20 * 60_000, maxBuffer: 16 << 20 });
  if (r.status !== 0) {
    return { row: statusRow(GROUP, subject, 'failed', `bench/shuttle-memory.ts exited ${r.status ?? r.signal}: ${(r.stderr ?? '').trim().split('\n').pop() ?? ''}`, 'bench/shuttle-memory.ts'), section: null };
  }
  return {
    row: okRow({ group: GROUP, subject, tool: 'bench/shuttle-memory.ts', unit: '', value: null, text: 'see its output below the table' }),
    section: `### Shuttle memory (node dist/bench/shuttle-memory.js)\n\n${r.stdout.trim().split('\n').filter((l) => !/^\s*[[{]/.test(l)).join('\n')}\n`,
  };
}

export async function runScaleBench(opts: ScaleBenchOptions = {}): Promise<ScaleResult> {
  const rounds = opts.rounds ?? 3;
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const rows: Row[] = [];
  const sections: string[] = [];
  try {
    rows.push(...routeTableRows(rounds, log));
  } catch (err) {
    rows.push(statusRow(GROUP, 'route table 10,000 sites / 50,000 routes', 'failed', (err as Error).message));
  }
  try {
    const f = await measureIdleConnections(10_000, log);
    rows.push(okRow({
      group: GROUP, subject: `router RSS with ${f.wanted.toLocaleString('en-US')} idle keep-alive connections`, tool: 'net clients (one GET each)', unit: 'MiB',
      value: spread([f.rssAfterMb]), rssMb: f.rssAfterMb,
      note: `before ${f.rssBeforeMb.toFixed(0)} MiB; ${f.kbPerConnection.toFixed(1)} KiB per connection; ${f.open} open when measured (opened in ${f.openSeconds.toFixed(1)} s; each sends a request every ~6 s: uWS cuts HTTP connections idle for 10 s); open-files limit ${f.nofile}`,
    }));
  } catch (err) {
    rows.push(statusRow(GROUP, 'router RSS with 10,000 idle keep-alive connections', 'failed', (err as Error).message));
  }
  try {
    const runs: ReloadFigures[] = [];
    for (let i = 0; i < rounds; i++) runs.push(await measureReload(log));
    const mb = (runs[0].bytes / 1048576).toFixed(1);
    rows.push(okRow({ group: GROUP, subject: `reload: PUT /config small -> 10,000-site document (${mb} MiB)`, tool: 'timer (to the 200)', unit: 'ms',
      value: spread(runs.map((r) => r.firstMs)), note: 'validate + compile + swap in the worker; 1 worker' }));
    rows.push(okRow({ group: GROUP, subject: 'reload: PUT /config 10,000 sites -> 10,000 sites (every site changed)', tool: 'timer (to the 200)', unit: 'ms',
      value: spread(runs.map((r) => r.secondMs)), rssMb: median(runs.map((r) => r.rssAfterMb)),
      note: `router RSS ${median(runs.map((r) => r.rssBeforeMb)).toFixed(0)} MiB before the first reload, RSS column after both` }));
  } catch (err) {
    rows.push(statusRow(GROUP, 'reload of the 10,000-site config', 'failed', (err as Error).message));
  }
  const sm = shuttleMemory(log);
  rows.push(sm.row);
  if (sm.section) sections.push(sm.section);
  return { rows, sections };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { rounds: { type: 'string' } } });
  const r = await runScaleBench({ rounds: values.rounds ? Number(values.rounds) : undefined });
  process.stdout.write(`${renderTable(r.rows)}\n\n${r.sections.join('\n')}`);
}
