// A router worker thread that dies loses none of the canary counts it recorded: the
// board is shared memory owned by the main thread. Through the real router (2 workers) with its
// test hook (ROUTER_TEST_HOOKS=1: POST /debug/workers/0/crash on the admin listener).
import t from 'tap';
import { baseConfig, startDyno, startRouter, until, writeConfig, type Dyno, type RunningRouter } from '../../support/router-harness.js';
import { admin } from '../support/admin-client.js';
import { get } from '../support/http-get.js';
import { scrape } from '../support/prometheus.js';
import { perWorker, threadOf } from '../support/worker-probe.js';

let router: RunningRouter;
let prod: Dyno;
let canaryDyno: Dyno;

t.before(async () => {
  prod = await startDyno((_q, s) => s.end('prod'));
  let n = 0;
  // every 4th canary answer is a 500: errors to count, far too few to matter before minRequests
  canaryDyno = await startDyno((_q, s) => {
    if (n++ % 4 === 0) s.statusCode = 500; // the first canary answer is an error, then every 4th
    s.end('canary');
  });
  router = await startRouter(writeConfig(baseConfig({
    workers: 2,
    apps: {
      'api-prod': { dynos: [prod.address], canary: { app: 'api-canary', weight: 30, abort: { minRequests: 1_000_000 } } },
      'api-canary': { dynos: [canaryDyno.address] },
    },
  })), [], { ROUTER_TEST_HOOKS: '1' });
});
t.teardown(async () => {
  await router?.stop();
  await Promise.all([prod?.close(), canaryDyno?.close()]);
});

async function counts(): Promise<{ canary: { requests: number; errors: number }; production: { requests: number; errors: number } }> {
  const a = await admin(router.ports.admin, 'GET', '/canaries');
  return JSON.parse(a.body)[0].counts;
}
const total = (c: Awaited<ReturnType<typeof counts>>): number => c.canary.requests + c.production.requests;

let sent = 0;
/** `n` requests, each on a fresh connection (the kernel spreads them over both workers). */
async function send(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    sent++;
    const r = await get(router.ports.http, 'api-prod.example.io', `/r/${i}`);
    if (r.status !== 200 && r.status !== 500) throw new Error(`unexpected ${r.status}`);
  }
}

t.test('the counts of a crashed worker stay on the board, and its replacement adds to them', async (t) => {
  await until(async () => {
    await send(40);
    const m = await scrape(router.ports.admin);
    return perWorker(m, 0) > 0 && perWorker(m, 1) > 0 && (await counts()).canary.requests > 0;
  }, 60000, 'requests through both workers, one of them to the canary');
  const before = await scrape(router.ports.admin);
  const served0 = perWorker(before, 0);
  t.ok(served0 > 0, `worker 0 served ${served0} requests before the crash`);
  const sentBefore = sent;
  await until(async () => total(await counts()) === sentBefore, 10000, 'every request counted');
  const atCrash = await counts();
  t.ok(atCrash.canary.errors > 0, 'canary errors were counted');

  const oldThread = threadOf(before, 0);
  t.equal((await admin(router.ports.admin, 'POST', '/debug/workers/0/crash')).status, 202);
  await until(async () => {
    const thread = threadOf(await scrape(router.ports.admin), 0);
    return thread !== undefined && thread !== oldThread;
  }, 30000, 'worker 0 replaced');
  t.equal(perWorker(await scrape(router.ports.admin), 0), 0, 'a new thread in slot 0 (its own request counter starts at 0)');
  t.same(await counts(), atCrash, 'after the crash the board still holds every count, worker 0\'s included');

  await until(async () => {
    await send(20);
    return perWorker(await scrape(router.ports.admin), 0) > 0;
  }, 60000, 'requests through the replacement');
  await until(async () => total(await counts()) === sent, 10000, 'the new requests counted on the same board');
  const now = await counts();
  t.ok(now.canary.requests >= atCrash.canary.requests && now.production.requests >= atCrash.production.requests, 'counts only grew');
});
