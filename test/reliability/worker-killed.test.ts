// Faults under load: one of the router's two worker threads crashes (uncaught exception, through
// the ROUTER_TEST_HOOKS=1 admin route POST /debug/workers/:index/crash) while clients keep
// sending on keep-alive and on new connections.
import t from 'tap';
import { request } from 'undici';
import { baseConfig, startDyno, until, writeConfig } from '../support/router-harness.js';
import { startRouterProcess } from './support/router-process.js';
import { LoadLoop, byStatus, type Outcome } from './support/load-loop.js';
import { linesById } from './support/access-lines.js';
import { report } from './support/report.js';

const HOST = 'api.example.io';
const KEEP_ALIVE = 6;
const NEW_CONNECTIONS = 4;

function threadOf(metrics: string, worker: number): string | null {
  const m = new RegExp(`^edgeplane_router_worker_thread\\{worker="${worker}",thread_id="(\\d+)"\\} 1$`, 'm').exec(metrics);
  return m ? m[1] : null;
}

function workerRequests(metrics: string, worker: number): number {
  const m = new RegExp(`^edgeplane_router_worker_requests_total\\{worker="${worker}"\\} (\\d+)$`, 'm').exec(metrics);
  return m ? Number(m[1]) : -1;
}

t.test('a worker thread killed under load: only requests in flight on it fail, it is replaced, service continues', async (t) => {
  // each answer waits 20 ms: requests are in flight on the worker when it dies
  const dyno = await startDyno((_req, res) => setTimeout(() => res.end('ok'), 20));
  t.teardown(() => dyno.close());
  const router = await startRouterProcess(t, writeConfig(baseConfig({ workers: 2, apps: { api: { dynos: [dyno.address] } } })), { ROUTER_TEST_HOOKS: '1' });
  const origin = `http://127.0.0.1:${router.ports.http}`;
  const admin = `http://127.0.0.1:${router.ports.admin}`;
  const metrics = async (): Promise<string> => (await (await request(`${admin}/metrics`)).body.text());

  const before = await metrics();
  const thread0 = threadOf(before, 0);
  if (thread0 === null) {
    t.plan(0, 'the router has no per-worker metrics (edgeplane_router_worker_thread): cannot see a replacement');
    return;
  }

  const keep = new LoadLoop({ origin, host: HOST, concurrency: KEEP_ALIVE, idPrefix: 'keep', timeoutMs: 15000 }).start();
  t.teardown(() => keep.stop());
  const fresh = new LoadLoop({ origin, host: HOST, concurrency: NEW_CONNECTIONS, idPrefix: 'new', newConnections: true, timeoutMs: 15000 }).start();
  t.teardown(() => fresh.stop());
  await until(() => keep.outcomes.length + fresh.outcomes.length >= 300, 30000, 'load before the crash');
  // both workers carry traffic before the crash
  await until(async () => { const m = await metrics(); return workerRequests(m, 0) > 0 && workerRequests(m, 1) > 0; }, 20000, 'both workers serving');

  const crashAt = Date.now();
  const hook = await request(`${admin}/debug/workers/0/crash`, { method: 'POST' });
  await hook.body.text();
  if (hook.statusCode === 404) {
    await keep.stop();
    await fresh.stop();
    t.plan(0, 'no test hook (ROUTER_TEST_HOOKS=1, POST /debug/workers/:index/crash) in this build');
    return;
  }
  t.equal(hook.statusCode, 202, 'crash requested');

  // replaced: worker slot 0 runs on a new thread, and that thread serves requests
  await until(async () => { const m = await metrics(); const th = threadOf(m, 0); return th !== null && th !== thread0 && workerRequests(m, 0) > 0; },
    30000, 'worker 0 replaced and serving');
  const replacedAt = Date.now();
  const after = (o: Outcome): boolean => o.startedAt > replacedAt;
  await until(() => keep.outcomes.filter(after).length + fresh.outcomes.filter(after).length >= 300, 30000, 'load after the replacement');
  const keepOut = await keep.stop();
  const freshOut = await fresh.stop();
  const all = [...keepOut, ...freshOut];

  const failed = all.filter((o) => o.status !== 200);
  t.ok(failed.length <= KEEP_ALIVE + NEW_CONNECTIONS, `failures bounded by the requests that can be in flight (${failed.length} <= ${KEEP_ALIVE + NEW_CONNECTIONS})`);
  const lateFailures = failed.filter((o) => o.startedAt >= replacedAt || o.endedAt < crashAt);
  t.same(lateFailures.map((o) => `${o.id} ${o.status} ${o.error ?? ''}`), [], 'no failure before the crash or once the worker is replaced');
  t.ok(router.errLines.some((l) => l.includes('router worker exited; replacing it')), 'the crash and replacement are logged');
  const m = await metrics();
  t.ok(workerRequests(m, 0) > 0 && workerRequests(m, 1) > 0, `both workers serve after the replacement (${workerRequests(m, 0)}, ${workerRequests(m, 1)})`);

  // every request answered 200 has its access line (the dead worker's lines written before it died too)
  await until(() => router.lines.length >= all.length - failed.length, 20000, 'access lines').catch(() => undefined);
  const lines = linesById(router.lines);
  const served = all.filter((o) => o.status === 200);
  const unlogged = served.filter((o) => !lines.has(o.id));
  report(t, 'worker-killed', {
    requestsSent: all.length,
    requestsFailed: failed.length,
    linesSent: served.length,
    linesDelivered: served.length - unlogged.length,
    linesDroppedReported: 0,
    failedErrors: failed.map((o) => o.error ?? String(o.status)),
    statuses: byStatus(all),
    afterReplacement: all.filter(after).length,
    replacementMs: replacedAt - crashAt,
    keepAliveLoops: KEEP_ALIVE,
    newConnectionLoops: NEW_CONNECTIONS,
  });
});
