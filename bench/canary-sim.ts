/**
 * Canary abort simulation (fixed seed): how many canary requests the router needs to abort a
 * worse canary, and how often it aborts one that is not worse. Runs the real CanaryBoard and
 * CanaryView (single thread) with the contract's defaults (docs/router/canary.md): weight 10, minRequests 200,
 * confidence 0.99, statuses 5xx.
 *
 *   npm run build && node dist/bench/canary-sim.js [--runs N] [--seed S]
 *
 * For comparison it also runs the naive rule the sequential test replaces: a fixed-sample
 * one-sided pooled two-proportion z-test at the same confidence, re-run after every canary error.
 *
 * With `--pods` (e.g. `--pods 1,3,10 --runs 1000`) it simulates N router pods instead: each its own
 * board and split, the traffic spread over them in turn, a healthy canary (same error rate as
 * production), and compares the false-abort rate of (a) every pod deciding on its own counts
 * (no bus) with (b) the cluster (router/cluster/): every pod publishes its counts every TICK
 * requests of the fleet and decides on its fresh counts plus the others' last published ones.
 */
import { CanaryBoard } from '../router/canary/canary-board.js';
import { CanaryView } from '../router/canary/canary-view.js';
import { abortThreshold, shouldAbort } from '../router/canary/sequential-test.js';

const WEIGHT = 10;
const MIN_REQUESTS = 200;
const CONFIDENCE = 0.99;
const Z_99 = 2.3263478740408408; // one-sided normal quantile at 0.99

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** mulberry32: the simulated dynos' error draws. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface RunResult { aborted: boolean; canaryRequests: number }

/** One canary release through the router's own split and test, until abort or the horizon. */
function runRouter(seed: number, canaryRate: number, productionRate: number, horizon: number): RunResult {
  const board = new CanaryBoard({ capacity: 1 });
  const view = new CanaryView(board.apply([{
    prodApp: 'prod', canaryApp: 'canary', weight: WEIGHT,
    abort: { minRequests: MIN_REQUESTS, confidence: CONFIDENCE, statuses: '5xx' },
  }]), { seed: seed * 2654435761 + 1 });
  const rand = prng(seed);
  let canaryRequests = 0;
  while (canaryRequests < horizon) {
    if (view.pick(0)) {
      canaryRequests++;
      if (view.record(0, 'canary', rand() < canaryRate ? 500 : 200)) return { aborted: true, canaryRequests };
    } else {
      view.record(0, 'production', rand() < productionRate ? 500 : 200);
    }
  }
  return { aborted: false, canaryRequests };
}

/** The naive rule: a fixed-sample z-test repeated after every canary error. */
function runNaive(seed: number, canaryRate: number, productionRate: number, horizon: number): RunResult {
  const rand = prng(seed);
  const split = prng(seed ^ 0x5bd1e995);
  let nc = 0, xc = 0, np = 0, xp = 0;
  while (nc < horizon) {
    if (split() < WEIGHT / 100) {
      nc++;
      if (rand() < canaryRate) {
        xc++;
        if (nc >= MIN_REQUESTS && np > 0) {
          const pooled = (xc + xp) / (nc + np);
          const se = Math.sqrt(pooled * (1 - pooled) * (1 / nc + 1 / np));
          if (se > 0 && (xc / nc - xp / np) / se > Z_99) return { aborted: true, canaryRequests: nc };
        }
      }
    } else {
      np++;
      if (rand() < productionRate) xp++;
    }
  }
  return { aborted: false, canaryRequests: nc };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor((s.length - 1) / 2)];
}

function pct(k: number, n: number): string {
  return `${((100 * k) / n).toFixed(1)}%`;
}

/** One healthy canary over N pods until `horizon` requests of the fleet: did any pod abort it? */
function runPods(seed: number, pods: number, errorRate: number, horizon: number, tick: number, cluster: boolean): boolean {
  const config = [{ prodApp: 'prod', canaryApp: 'canary', weight: WEIGHT, abort: { minRequests: MIN_REQUESTS, confidence: CONFIDENCE, statuses: '5xx' as const } }];
  const boards: CanaryBoard[] = [];
  const views: CanaryView[] = [];
  for (let p = 0; p < pods; p++) {
    const board = new CanaryBoard({ capacity: 1 });
    if (cluster) board.setDeferred(true);
    boards.push(board);
    views.push(new CanaryView(board.apply(config), { seed: (seed * 2654435761 + p * 40503 + 1) >>> 0 }));
  }
  const rand = prng(seed);
  const threshold = abortThreshold(CONFIDENCE);
  const published = Array.from({ length: pods }, () => [0, 0, 0]);
  for (let i = 1; i <= horizon; i++) {
    const v = views[i % pods];
    const side = v.pick(0) ? 'canary' : 'production';
    if (v.record(0, side, rand() < errorRate ? 500 : 200)) return true;
    if (!cluster || i % tick !== 0) continue;
    const fresh = boards.map((b) => b.snapshot()[0].counts);
    fresh.forEach((c, p) => { published[p] = [c.canary.requests, c.canary.errors, c.production.errors]; });
    for (let p = 0; p < pods; p++) {
      // this pod: its own counts, fresh, plus the others' as last published (here: just now)
      let cr = 0, ce = 0, pe = 0;
      for (let q = 0; q < pods; q++) {
        cr += published[q][0];
        ce += published[q][1];
        pe += published[q][2];
      }
      if (shouldAbort(cr, ce, pe, WEIGHT / 100, MIN_REQUESTS, threshold)) return true;
    }
  }
  return false;
}

function podsMain(podCounts: number[]): void {
  const runs = arg('--runs', 1000);
  const seed0 = arg('--seed', 20261125);
  const horizon = arg('--requests', 100_000);
  const tick = arg('--tick', 500);
  const errorRate = arg('--error-rate', 0.05);
  const started = performance.now();
  console.log(`canary false aborts with N pods: healthy canary (both sides ${(100 * errorRate).toFixed(0)}% errors), weight ${WEIGHT}, minRequests ${MIN_REQUESTS}, `
    + `confidence ${CONFIDENCE} (configured false-abort rate ${(100 * (1 - CONFIDENCE)).toFixed(1)}%); ${horizon} requests of the fleet per run, `
    + `counts shared every ${tick} requests; ${runs} runs per row, seed ${seed0}`);
  console.log('');
  console.log('| pods | each pod decides alone (no bus): runs aborted | cluster (summed counts): runs aborted | configured |');
  console.log('|---:|---:|---:|---:|');
  for (const pods of podCounts) {
    let alone = 0, cluster = 0;
    for (let i = 0; i < runs; i++) {
      if (runPods(seed0 + 7919 * (i + 1), pods, errorRate, horizon, tick, false)) alone++;
      if (runPods(seed0 + 7919 * (i + 1), pods, errorRate, horizon, tick, true)) cluster++;
    }
    console.log(`| ${pods} | ${pct(alone, runs)} (${alone}) | ${pct(cluster, runs)} (${cluster}) | ≤ ${(100 * (1 - CONFIDENCE)).toFixed(1)}% |`);
  }
  console.log('');
  console.log(`(${((performance.now() - started) / 1000).toFixed(1)} s)`);
}

function main(): void {
  const podsArg = process.argv.indexOf('--pods');
  if (podsArg >= 0) {
    podsMain(process.argv[podsArg + 1].split(',').map(Number));
    return;
  }
  const runs = arg('--runs', 300);
  const seed0 = arg('--seed', 20261125);
  const started = performance.now();
  const rows: string[][] = [];

  const base = 0.01;
  const detectHorizon = 100_000;
  for (const gap of [0.005, 0.01, 0.02, 0.05]) {
    const until: number[] = [];
    let aborted = 0;
    for (let i = 0; i < runs; i++) {
      const r = runRouter(seed0 + i, base + gap, base, detectHorizon);
      if (r.aborted) { aborted++; until.push(r.canaryRequests); }
    }
    // runs that never aborted count as "more than the horizon" for the median
    const all = until.concat(new Array<number>(runs - aborted).fill(Infinity));
    const m = median(all);
    rows.push([`${(100 * base).toFixed(0)}% vs ${(100 * (base + gap)).toFixed(1)}% (+${(100 * gap).toFixed(1)} pt)`,
      Number.isFinite(m) ? String(m) : `> ${detectHorizon}`, pct(aborted, runs)]);
  }

  const alarmHorizon = 20_000;
  const alarms: string[][] = [];
  for (const rate of [0.01, 0.05]) {
    let router = 0, naive = 0;
    for (let i = 0; i < runs; i++) {
      if (runRouter(seed0 + 7919 * (i + 1), rate, rate, alarmHorizon).aborted) router++;
      if (runNaive(seed0 + 7919 * (i + 1), rate, rate, alarmHorizon).aborted) naive++;
    }
    alarms.push([`${(100 * rate).toFixed(0)}% vs ${(100 * rate).toFixed(0)}% (no gap)`, pct(router, runs), pct(naive, runs)]);
  }

  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`canary abort simulation: weight ${WEIGHT}, minRequests ${MIN_REQUESTS}, confidence ${CONFIDENCE}, statuses 5xx; ${runs} runs per row, seed ${seed0}`);
  console.log('');
  console.log(`| error rates (production vs canary) | median canary requests until abort | aborted within ${detectHorizon} canary requests |`);
  console.log('|---|---:|---:|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  console.log('');
  console.log(`| false alarms over ${alarmHorizon} canary requests (${alarmHorizon * 100 / WEIGHT} requests) | sequential test (router) | naive z-test repeated after each canary error |`);
  console.log('|---|---:|---:|');
  for (const r of alarms) console.log(`| ${r.join(' | ')} |`);
  console.log('');
  console.log(`(${seconds} s)`);
}

main();
