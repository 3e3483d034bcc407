/**
 * `npm run bench`: every bench group in one go, one table with ratios, written to
 * bench/RESULTS.md. See bench/README.md.
 *
 *   node dist/bench/run.js [--quick] [--only GROUP[,GROUP]] [--rounds N] [--duration S]
 *                          [--connections N] [--lines N] [--out FILE]
 *
 * Groups: proxy (router vs nginx vs HAProxy vs @fastify/http-proxy vs the backend direct, and the
 * router with 2 workers), jwt, https, relay (shuttle vs rsyslog: 1 app, 100 apps, HTTPS drain),
 * scale (route table, idle connections, reload, shuttle memory), filters (each edge filter on vs
 * none; OpenAPI validations/s), dashboard (req/s with a dashboard stream open vs none), config
 * (one-app PATCH of the 10,000-site document; memory of 20 revisions), bus (router access lines
 * to NATS JetStream vs stdout), relay-bus (the shuttle relaying through the bus, 1 and 2
 * replicas). --quick: 2 s runs, 1 round, 100,000 relay lines, 20,000 validations (validation
 * only). RESULTS.md is written when every group ran, or to --out; a run of some groups only
 * prints its table.
 */
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runProxyBench } from './router.js';
import { runRouterJwtBench } from './router-jwt.js';
import { runHttpsBench } from './router-https.js';
import { runShuttleVsRsyslog } from './shuttle-vs-rsyslog.js';
import { runScaleBench } from './scale.js';
import { runRouterFiltersBench } from './router-filters.js';
import { runDashboardBench } from './router-dashboard.js';
import { runConfigBench } from './config-patch.js';
import { runRouterBusBench } from './router-bus.js';
import { runShuttleBus } from './shuttle-bus.js';
import { LOAD_CPU, pinSelf } from './lib/pinning.js';
import { isBusy, renderResults, writeResults } from './lib/results-file.js';
import { renderTable, statusRow, type Row } from './lib/table.js';
import { hasTool, installHint, type Tool } from './lib/tools.js';

const GROUPS = ['proxy', 'jwt', 'https', 'relay', 'scale', 'filters', 'dashboard', 'config', 'bus', 'relay-bus'] as const;
type Group = (typeof GROUPS)[number];

const PEERS: { tool: Tool; rows: string }[] = [
  { tool: 'nginx', rows: 'proxy and https nginx rows (and the ratios to nginx)' },
  { tool: 'haproxy', rows: 'the proxy HAProxy row' },
  { tool: 'wrk', rows: 'the proxy wrk rows (second opinion)' },
  { tool: 'rsyslogd', rows: 'the relay rsyslog rows (and the ratios to rsyslog)' },
  { tool: 'openssl', rows: 'the shuttle HTTPS drain row' },
  { tool: 'prlimit', rows: 'the idle-connections row' },
  { tool: 'nats-server', rows: 'the bus and relay-bus rows' },
];

const log = (line: string): void => { process.stderr.write(`${line}\n`); };

function parse() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      rounds: { type: 'string' },
      duration: { type: 'string' },
      connections: { type: 'string' },
      lines: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const num = (v: string | undefined, name: string, fallback: number): number => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name}: a positive number, got "${v}"`);
    return n;
  };
  const only = values.only ? values.only.split(',').map((g) => g.trim()) : [...GROUPS];
  for (const g of only) if (!GROUPS.includes(g as Group)) throw new Error(`--only: unknown group "${g}" (groups: ${GROUPS.join(', ')})`);
  const quick = values.quick === true;
  const durationS = num(values.duration, 'duration', quick ? 2 : 10);
  return {
    help: values.help === true,
    quick,
    groups: only as Group[],
    rounds: num(values.rounds, 'rounds', quick ? 1 : 3),
    durationS,
    warmupS: quick ? 1 : Math.min(3, durationS),
    connections: num(values.connections, 'connections', 50),
    lines: num(values.lines, 'lines', quick ? 100_000 : 500_000),
    out: values.out,
  };
}

async function main(): Promise<void> {
  const o = parse();
  if (o.help) {
    process.stdout.write(`usage: npm run bench -- [--quick] [--only ${GROUPS.join('|')}[,…]] [--rounds N] [--duration S] [--connections N] [--lines N] [--out FILE]\n`);
    return;
  }
  if (!hasTool('taskset')) throw new Error(`taskset is missing: ${installHint(['taskset'])}`);
  if (!pinSelf()) throw new Error(`could not pin the bench process to CPU ${LOAD_CPU} (taskset); the bench needs 2 CPUs`);
  for (const p of PEERS) {
    if (!hasTool(p.tool)) log(`NOT INSTALLED: ${p.tool} — ${installHint([p.tool])} (marks ${p.rows} "not installed")`);
  }
  // the 1-minute load average decays slowly after a build or a test run: wait (up to 2 min) for
  // it to fall below half the cores before measuring anything
  for (let waited = 0; !o.quick && isBusy(loadavg()[0]) && waited < 120; waited += 5) {
    if (waited === 0) log(`waiting for the load average (${loadavg()[0].toFixed(2)}) to fall below ${cpus().length / 2}…`);
    await new Promise((r) => setTimeout(r, 5000));
  }
  const startedAt = new Date();
  const loadBefore = loadavg()[0];
  const common = { durationS: o.durationS, rounds: o.rounds, connections: o.connections, warmupS: o.warmupS, log };
  const rows: Row[] = [];
  const sections: string[] = [];
  const guard = async (group: Group, fn: () => Promise<Row[]>): Promise<void> => {
    if (!o.groups.includes(group)) return;
    log(`== ${group}`);
    try {
      rows.push(...(await fn()));
    } catch (err) {
      log(`${group} failed: ${(err as Error).stack ?? err}`);
      rows.push(statusRow(group, `(the whole group)`, 'failed', (err as Error).message));
    }
  };
  await guard('proxy', () => runProxyBench(common));
  await guard('jwt', () => runRouterJwtBench(common));
  await guard('https', () => runHttpsBench(common));
  await guard('relay', async () => [
    ...(await runShuttleVsRsyslog({ lines: o.lines, rounds: o.rounds, apps: 1, kinds: ['shuttle', 'rsyslog', 'shuttle-https'], log })),
    ...(await runShuttleVsRsyslog({ lines: o.lines, rounds: o.rounds, apps: 100, kinds: ['shuttle', 'rsyslog'], log })),
  ]);
  await guard('scale', async () => {
    const r = await runScaleBench({ rounds: o.rounds, log });
    sections.push(...r.sections);
    return r.rows;
  });
  await guard('filters', () => runRouterFiltersBench({ ...common, validations: o.quick ? 20_000 : 200_000 }));
  await guard('dashboard', () => runDashboardBench(common));
  await guard('config', () => runConfigBench({ rounds: o.rounds, log }));
  // both bus groups answer "not installed" rows themselves when nats-server is missing
  await guard('bus', () => runRouterBusBench(common));
  await guard('relay-bus', () => runShuttleBus({ lines: o.lines, rounds: o.rounds, log }));

  const table = renderTable(rows);
  process.stdout.write(`\n${table}\n${sections.length ? `\n${sections.join('\n')}` : ''}`);
  const args = process.argv.slice(2);
  const command = process.env.npm_lifecycle_event === 'bench' ? `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}` : `node dist/bench/run.js ${args.join(' ')}`.trim();
  const settings = `autocannon/wrk: ${o.connections} keep-alive connections, ${o.durationS} s measured after a ${o.warmupS} s warm-up, fresh process per run; ${o.rounds} alternating round(s); relay and relay-bus: ${o.lines.toLocaleString('en-US')} lines per run; filters: ${(o.quick ? 20_000 : 200_000).toLocaleString('en-US')} validations per validator row`;
  const file = o.out ?? (o.groups.length === GROUPS.length ? fileURLToPath(new URL('../../bench/RESULTS.md', import.meta.url)) : null);
  if (file) {
    writeResults(file, renderResults({ command, quick: o.quick, groups: o.groups, settings, startedAt, loadBefore }, table, sections));
    log(`written: ${file}`);
  } else {
    log('not written to bench/RESULTS.md (some groups only; --out FILE to write)');
  }
}

main().catch((err: Error) => {
  process.stderr.write(`bench: ${err.message}\n`);
  process.exit(1);
});
