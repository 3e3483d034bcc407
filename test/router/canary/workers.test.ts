// The canary board shared by REAL worker threads: counts summed across workers, abort decided
// once on the combined evidence, weight 0 everywhere at once, reloads.
import t, { type Test } from 'tap';
import { Worker } from 'node:worker_threads';
import { CanaryBoard } from '../../../router/canary/canary-board.js';
import type { BoardDescription } from '../../../router/canary/board-layout.js';
import type { CanaryConfig } from '../../../router/canary/canary-config.js';
import type { CanaryAbortEvent } from '../../../router/canary/canary-view.js';
import { assertDistFresh } from '../../support/dist-fresh.js';

const WORKER = new URL('./fixtures/board-worker.mjs', import.meta.url); // imports dist/
assertDistFresh();

interface Tally {
  picked: number;
  canary: { requests: number; errors: number };
  production: { requests: number; errors: number };
  abortsWon: number;
}
interface AbortMessage { type: 'abort'; event: CanaryAbortEvent; line: string }

class TestWorker {
  // without tap's loaders (the worker is plain JS on dist/): starts in ms, not seconds
  readonly worker = new Worker(WORKER, { execArgv: [], env: { ...process.env, NODE_OPTIONS: '' } });
  readonly aborts: AbortMessage[] = [];
  private waiting: ((msg: any) => void) | undefined;
  constructor() {
    this.worker.on('message', (msg) => {
      if (msg.type === 'abort') this.aborts.push(msg);
      else this.waiting?.(msg);
    });
  }
  private ask(msg: object): Promise<any> {
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.worker.once('error', reject);
      this.worker.postMessage(msg);
    });
  }
  configure(description: BoardDescription, seed: number): Promise<{ generation: number }> {
    return this.ask({ type: 'config', description, seed });
  }
  async run(app: string, requests: number, canaryRate: number, productionRate: number, seed: number): Promise<Tally> {
    return (await this.ask({ type: 'run', app, requests, canaryRate, productionRate, seed })).tally;
  }
}

function canary(weight: number, minRequests: number, prodApp = 'api-prod', canaryApp = 'api-canary'): CanaryConfig {
  return { prodApp, canaryApp, weight, abort: { minRequests, confidence: 0.99, statuses: '5xx' } };
}

async function pool(t: Test, n: number): Promise<TestWorker[]> {
  const workers = Array.from({ length: n }, () => new TestWorker());
  t.teardown(() => Promise.all(workers.map((w) => w.worker.terminate())).then(() => undefined));
  return workers;
}

async function configureAll(workers: TestWorker[], d: BoardDescription, seed: number): Promise<void> {
  await Promise.all(workers.map((w, i) => w.configure(d, seed + i)));
}

t.test('counts from 2 workers are summed on the board', async (t) => {
  const board = new CanaryBoard();
  const workers = await pool(t, 2);
  await configureAll(workers, board.apply([canary(30, 1e9)]), 11);
  const tallies = await Promise.all(workers.map((w, i) => w.run('api-prod', 20_000, 0.03, 0.01, 100 + i)));
  const [snap] = board.snapshot();
  const sum = (f: (x: Tally) => number) => f(tallies[0]) + f(tallies[1]);
  t.equal(snap.counts.canary.requests, sum((x) => x.canary.requests));
  t.equal(snap.counts.canary.errors, sum((x) => x.canary.errors));
  t.equal(snap.counts.production.requests, sum((x) => x.production.requests));
  t.equal(snap.counts.production.errors, sum((x) => x.production.errors));
  t.equal(snap.counts.canary.requests + snap.counts.production.requests, 40_000);
  t.ok(snap.counts.canary.errors > 0 && snap.counts.production.errors > 0, 'both sides saw errors');
  t.equal(snap.state, 'active');
});

t.test('a canary that always fails is aborted once, early, and gets no more traffic', async (t) => {
  const board = new CanaryBoard();
  const workers = await pool(t, 2);
  await configureAll(workers, board.apply([canary(10, 200)]), 21);
  // 2 × 10,000 requests at weight 10: about 2,000 would go to the canary without an abort
  const tallies = await Promise.all(workers.map((w, i) => w.run('api-prod', 10_000, 1, 0.01, 200 + i)));
  const aborts = workers.flatMap((w) => w.aborts);
  t.equal(aborts.length, 1, 'exactly one thread aborted it');
  t.equal(tallies[0].abortsWon + tallies[1].abortsWon, 1);
  const [snap] = board.snapshot();
  t.equal(snap.state, 'aborted');
  t.ok(snap.counts.canary.errors >= 200, 'not before minRequests');
  t.ok(snap.counts.canary.errors < 300, `aborted after ${snap.counts.canary.errors} canary failures, well before half of ~2000`);
  const picked = tallies[0].picked + tallies[1].picked;
  t.ok(picked - snap.counts.canary.requests <= 2, `no canary picks after the abort (picked ${picked})`);
  const { event, line } = aborts[0];
  t.equal(snap.since, new Date(event.time).toISOString(), 'since is the abort time');
  const { requests, errors } = event.counts.canary;
  // the other worker may be between counting a request and counting its error
  t.ok(errors <= requests && requests - errors <= 1, `every counted canary request failed (${errors}/${requests})`);
  t.match(line, new RegExp('^at=error code=canary_abort desc="Canary aborted" app=api-prod canary=api-canary '
    + `canary_requests=${event.counts.canary.requests} canary_errors=${event.counts.canary.errors} canary_rate=(1\\.0000|0\\.99\\d\\d) `
    + `production_requests=\\d+ production_errors=\\d+ production_rate=0\\.0\\d{3} weight=10 confidence=0\\.99$`));
});

t.test('a healthy canary stays active and keeps its share', async (t) => {
  const board = new CanaryBoard();
  const workers = await pool(t, 2);
  await configureAll(workers, board.apply([canary(10, 200)]), 31);
  await Promise.all(workers.map((w, i) => w.run('api-prod', 30_000, 0.01, 0.01, 300 + i)));
  const [snap] = board.snapshot();
  t.equal(snap.state, 'active');
  const n = snap.counts.canary.requests + snap.counts.production.requests;
  const share = snap.counts.canary.requests / n;
  const sd = Math.sqrt(0.1 * 0.9 / n);
  t.ok(Math.abs(share - 0.1) < 4 * sd, `canary share ${share.toFixed(4)} within 4 sd (${sd.toFixed(4)}) of 0.10`);
  t.equal(workers[0].aborts.length + workers[1].aborts.length, 0);
});

t.test('a canary failing as often as production (5%) is not aborted over thousands of requests', async (t) => {
  const board = new CanaryBoard();
  const workers = await pool(t, 2);
  await configureAll(workers, board.apply([canary(10, 200)]), 41);
  await Promise.all(workers.map((w, i) => w.run('api-prod', 40_000, 0.05, 0.05, 400 + i)));
  const [snap] = board.snapshot();
  t.ok(snap.counts.canary.requests > 7_000, `${snap.counts.canary.requests} canary requests`);
  t.ok(snap.counts.canary.errors > 300, `${snap.counts.canary.errors} canary errors`);
  t.equal(snap.state, 'active');
  t.equal(workers[0].aborts.length + workers[1].aborts.length, 0);
});

t.test('reload: unchanged canary keeps its count, changed one starts fresh', async (t) => {
  const board = new CanaryBoard();
  const workers = await pool(t, 2);
  const other = canary(20, 1e9, 'ui-prod', 'ui-canary');
  await configureAll(workers, board.apply([canary(10, 1e9), other]), 51);
  await Promise.all(workers.map((w, i) => w.run('api-prod', 5_000, 0.02, 0.01, 500 + i)));
  await Promise.all(workers.map((w, i) => w.run('ui-prod', 5_000, 0.02, 0.01, 510 + i)));
  const [api1, ui1] = board.snapshot();
  t.equal(api1.counts.canary.requests + api1.counts.production.requests, 10_000);

  // same config again: both keep their counts, and the workers add to them
  const d2 = board.apply([canary(10, 1e9), other]);
  t.equal(d2.generation, 2);
  await configureAll(workers, d2, 52);
  await Promise.all(workers.map((w, i) => w.run('api-prod', 1_000, 0.02, 0.01, 520 + i)));
  const [api2, ui2] = board.snapshot();
  t.equal(api2.counts.canary.requests + api2.counts.production.requests, 12_000);
  t.same(ui2.counts, ui1.counts);
  t.equal(api2.since, api1.since);

  // api-prod's weight changes: a fresh count; ui-prod's canary is untouched
  const d3 = board.apply([canary(15, 1e9), other]);
  const [api3, ui3] = board.snapshot();
  t.same(api3.counts, { canary: { requests: 0, errors: 0 }, production: { requests: 0, errors: 0 } });
  t.same(ui3.counts, ui1.counts);
  // a worker still on the old description writes nowhere the new count can see
  await Promise.all(workers.map((w, i) => w.run('api-prod', 1_000, 0.02, 0.01, 530 + i)));
  t.equal(board.snapshot()[0].counts.production.requests, 0, 'stale workers do not touch the new count');
  await configureAll(workers, d3, 53);
  await Promise.all(workers.map((w, i) => w.run('api-prod', 1_000, 0.02, 0.01, 540 + i)));
  const [api4] = board.snapshot();
  t.equal(api4.counts.canary.requests + api4.counts.production.requests, 2_000);
});

t.test('an aborted canary stays aborted across reloads until its config changes', async (t) => {
  const board = new CanaryBoard();
  const workers = await pool(t, 2);
  await configureAll(workers, board.apply([canary(10, 50)]), 61);
  await Promise.all(workers.map((w, i) => w.run('api-prod', 5_000, 1, 0, 600 + i)));
  const aborted = board.snapshot()[0];
  t.equal(aborted.state, 'aborted');

  await configureAll(workers, board.apply([canary(10, 50)]), 62);
  const tallies = await Promise.all(workers.map((w, i) => w.run('api-prod', 2_000, 0, 0, 610 + i)));
  t.equal(tallies[0].picked + tallies[1].picked, 0, 'weight 0 after a reload that leaves it alone');
  t.same(board.snapshot()[0], aborted, 'same state, counts and since');

  await configureAll(workers, board.apply([canary(10, 60)]), 63);
  const after = await Promise.all(workers.map((w, i) => w.run('api-prod', 2_000, 0, 0, 620 + i)));
  t.ok(after[0].picked + after[1].picked > 250, 'traffic again once the config changed it');
  const fresh = board.snapshot()[0];
  t.equal(fresh.state, 'active');
  t.equal(fresh.counts.canary.requests + fresh.counts.production.requests, 4_000);
});

/** Makes `w`'s thread die of an uncaught exception; resolves with its exit code. */
async function crash(w: TestWorker): Promise<number> {
  const errored = new Promise<Error>((resolve) => w.worker.once('error', resolve));
  const exited = new Promise<number>((resolve) => w.worker.once('exit', resolve));
  w.worker.postMessage({ type: 'crash' });
  await errored;
  return exited;
}

t.test('a worker that dies loses none of the counts it recorded', async (t) => {
  const board = new CanaryBoard();
  const workers = await pool(t, 2);
  const d = board.apply([canary(30, 1e9)]);
  await configureAll(workers, d, 71);
  const tallies = await Promise.all(workers.map((w, i) => w.run('api-prod', 10_000, 0.05, 0.01, 700 + i)));
  t.not(await crash(workers[0]), 0, 'worker 0 died');
  const sum = (f: (x: Tally) => number): number => f(tallies[0]) + f(tallies[1]);
  const [snap] = board.snapshot();
  t.same(snap.counts, {
    canary: { requests: sum((x) => x.canary.requests), errors: sum((x) => x.canary.errors) },
    production: { requests: sum((x) => x.production.requests), errors: sum((x) => x.production.errors) },
  }, 'the dead worker\'s counts are still on the board');
  t.ok(tallies[0].canary.requests > 0 && tallies[0].canary.errors > 0, 'the dead worker had counted canary requests and errors');

  // its replacement, given the same description (as the router does), adds to the same count
  const replacement = new TestWorker();
  t.teardown(() => replacement.worker.terminate().then(() => undefined));
  await replacement.configure(d, 72);
  const more = await replacement.run('api-prod', 5_000, 0.05, 0.01, 720);
  const [after] = board.snapshot();
  t.equal(after.counts.canary.requests + after.counts.production.requests, 25_000);
  t.equal(after.counts.canary.errors, snap.counts.canary.errors + more.canary.errors);
  t.equal(after.since, snap.since, 'same count, not a fresh one');
});

t.test('the evidence a dead worker recorded counts toward the abort', async (t) => {
  const board = new CanaryBoard();
  const workers = await pool(t, 2);
  // a canary that always fails; minRequests 400 (the test would abort it far earlier otherwise)
  await configureAll(workers, board.apply([canary(10, 400)]), 81);
  const first = await workers[0].run('api-prod', 2_000, 1, 0, 800);
  t.ok(first.canary.requests > 100 && first.canary.requests < 400, `worker 0 counted ${first.canary.requests} failing canary requests`);
  t.equal(board.snapshot()[0].state, 'active', 'not yet: below minRequests');
  t.not(await crash(workers[0]), 0, 'worker 0 died');

  const second = await workers[1].run('api-prod', 10_000, 1, 0, 801);
  const [snap] = board.snapshot();
  t.equal(snap.state, 'aborted');
  t.equal(workers[1].aborts.length, 1);
  const { event } = workers[1].aborts[0];
  t.equal(event.counts.canary.requests, 400, 'aborted when the COMBINED count reached minRequests');
  t.equal(second.canary.requests, 400 - first.canary.requests, 'the live worker alone saw only the rest');
  t.equal(event.counts.canary.errors, 400);
});
