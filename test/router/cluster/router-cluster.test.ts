// Router replicas sharing canary verdicts and rate limits over the bus (docs/router/cluster.md):
// 3 router processes on one real 3-node NATS cluster, one fleet (bus stream) per subtest.
import t from 'tap';
import { request } from 'undici';
import { startNatsCluster } from '../../support/nats-cluster.js';
import { startDyno, startRouter, until, type Dyno } from '../../support/router-harness.js';
import { scrape } from '../support/prometheus.js';
import { canaries, fleetConfig, logs, spread, startFleet, untilAll } from './support/cluster-rig.js';

// a hang's bound only: the machine may be loaded
t.setTimeout(900_000);

const nats = await startNatsCluster({ nodes: 3, t });

async function dyno(t: { teardown(fn: () => unknown): void }, errorEvery: number): Promise<Dyno> {
  let n = 0;
  const d = await startDyno((_q, s) => {
    n++;
    s.statusCode = errorEvery === 1 || (errorEvery > 0 && n % errorEvery === 0) ? 500 : 200;
    s.end('x');
  });
  t.teardown(() => d.close());
  return d;
}

function canaryApps(prod: Dyno, canary: Dyno, abort: Record<string, unknown>, weight = 20): Record<string, unknown> {
  return {
    'api-prod': { dynos: [prod.address], canary: { app: 'api-canary', weight, abort: { confidence: 0.99, statuses: '5xx', ...abort } } },
    'api-canary': { dynos: [canary.address] },
  };
}

const ABORTED_MSGS = ['canary aborted (cluster decision)', 'canary aborted by another router', 'canary aborted'];

t.test('a failing canary is aborted by all three routers on the summed counts', async (t) => {
  const prod = await dyno(t, 0);
  const broken = await dyno(t, 1);
  const file = fleetConfig(nats, 'CL_FAIL', { apps: canaryApps(prod, broken, { minRequests: 30 }) });
  const routers = await startFleet(t, file, 3);
  await untilAll(routers, (c) => c.scope === 'cluster' && c.routers === 3 && c.state === 'active', 30000, 'every router hears the other two');
  // warm-up: every router has sent 2 requests to the canary, and every router has heard the
  // others' counts, before the load; so whichever router decides (on its 500 ms tick), its sum
  // holds at least 4 requests of the other two, more than the in-flight requests (3) its own
  // count can still gain after the decision
  for (const r of routers) {
    let i = 0;
    await until(async () => {
      if ((await canaries(r))[0].local.canary.requests >= 2) return true;
      const res = await request(r.url(`/warm/${i++}`), { headers: { host: 'api-prod.example.io' } });
      await res.body.dump();
      return false;
    }, 30000, 'two warm-up requests to the canary through each router');
  }
  const warmed = (await Promise.all(routers.map(canaries))).reduce((n, cs) => n + cs[0].local.canary.requests, 0);
  await untilAll(routers, (c) => c.counts.canary.requests >= warmed, 30000, 'every router has the others\' warm-up counts');

  let aborted = false;
  const load = spread(routers, 'api-prod.example.io', 3000, 3, () => aborted);
  await until(() => routers.some((r) => ABORTED_MSGS.some((m) => logs(r, m).length > 0)), 60000, 'a first abort');
  await untilAll(routers, (c) => c.state === 'aborted', 20000, 'all three aborted');
  aborted = true;
  await load;
  // the router's own log (stderr) is written asynchronously: it may come after the state
  await until(() => routers.every((r) => ABORTED_MSGS.some((m) => logs(r, m).length > 0)), 20000, 'every router logged its abort');

  const decided = routers.map((r) => logs(r, 'canary aborted (cluster decision)'));
  const deciders = routers.filter((_r, i) => decided[i].length > 0);
  t.ok(deciders.length >= 1, `decided by ${deciders.length} router(s) on the cluster's sum`);
  t.ok(routers.every((r) => logs(r, 'canary aborted').length === 0), 'no worker decided alone (the board is deferred while the bus is up)');
  const times = routers.map((r) => Math.min(...ABORTED_MSGS.flatMap((m) => logs(r, m).map((l) => l.time))));
  const spreadMs = Math.max(...times) - Math.min(...times);
  t.comment(`abort spread across the three routers: ${spreadMs} ms`);
  // how the others learned it: the decider's message, or its abort in the counts it publishes
  // each tick (both within 2 s of the decision on a machine that is not stalled; the KV lookup
  // is for routers that start or reconnect later, and is not how a running fleet hears it)
  const obeyed = routers.map((r) => logs(r, 'canary aborted by another router'));
  const vias = obeyed.flat().map((l) => l.via);
  t.ok(routers.every((_r, i) => decided[i].length > 0 || obeyed[i].length > 0) && vias.every((v) => v === 'message' || v === 'counts'),
    `every router decided, or obeyed by the decider's message or counts (${vias.join(', ') || 'all decided'})`);

  // the decider's abort line carries the cluster's sum, more than its own share of the requests
  const decider = deciders[0];
  const line = await decider.waitForLine((l) => l.startsWith('at=error code=canary_abort '), 20000);
  t.ok(line, 'the deciding router wrote the abort line');
  const atDecision = Number(/ canary_requests=(\d+) /.exec(line)![1]);
  const own = (await canaries(decider))[0].local.canary.requests;
  t.ok(atDecision >= 30, `the sum had minRequests (${atDecision})`);
  t.ok(atDecision > own, `the sum (${atDecision}) includes other routers' requests (its own: ${own})`);
  await until(() => decider.lines.filter((l) => l.startsWith('at=error code=canary_abort ')).length >= 2, 20000, 'the second abort line');
  t.equal(decider.lines.filter((l) => l.startsWith('at=error code=canary_abort ')).length, 2, 'one line to each app\'s stream');

  // GET /canaries on any router: the same cluster sums, equal to the sum of the three routers' own counts
  await until(async () => {
    const views = (await Promise.all(routers.map(canaries))).map((cs) => cs[0]);
    const total = views.reduce((n, v) => n + v.local.canary.requests + v.local.production.requests, 0);
    return views.every((v) => v.scope === 'cluster' && v.routers === 3
      && v.counts.canary.requests + v.counts.production.requests === total && v.since === views[0].since);
  }, 20000, 'every router shows the same cluster sums and the same abort time');
  const view = (await canaries(routers[1]))[0];
  t.match(view, { app: 'api-prod', canary: 'api-canary', state: 'aborted', scope: 'cluster', routers: 3 });
  t.ok(view.counts.canary.errors === view.counts.canary.requests && view.counts.canary.requests > view.local.canary.requests, 'cluster counts shown');

  // after abort no router sends anything to the canary
  const hits = broken.hits;
  const after = await spread(routers, 'api-prod.example.io', 60, 3);
  t.same(new Set(after), new Set([200]), 'every request now goes to production');
  t.equal(broken.hits, hits, 'the canary gets nothing');

  // a router that starts after all others are gone learns the abort from KV
  await Promise.all(routers.map((r) => r.stop()));
  const late = await startRouter(file, ['--log-stdout']);
  t.teardown(() => late.stop('SIGKILL'));
  await untilAll([late], (c) => c.state === 'aborted', 30000, 'the late router learns the abort');
  await until(() => logs(late, 'canary aborted by another router').length > 0, 20000, 'the late router logged it');
  t.match(logs(late, 'canary aborted by another router')[0], { via: 'kv' }, 'from KV');
  const lateSince = Date.parse((await canaries(late))[0].since);
  // KV keeps the first stored decision; two routers deciding within the same few ms are possible
  t.ok(Math.abs(lateSince - Date.parse(view.since)) <= (deciders.length === 1 ? 0 : 1000), 'with the decision\'s time');
});

t.test('a healthy canary is never aborted over 10,000 requests; a router killed mid-test drops out', async (t) => {
  // both sides fail 1 request in 20: the canary is no worse than production
  const prod = await dyno(t, 20);
  const canary = await dyno(t, 20);
  const routers = await startFleet(t, fleetConfig(nats, 'CL_HEALTHY', { apps: canaryApps(prod, canary, { minRequests: 50 }) }), 3);
  await untilAll(routers, (c) => c.scope === 'cluster' && c.routers === 3, 30000, 'every router hears the other two');

  let killedAt = 0;
  const statuses: number[] = [];
  const first = await spread(routers, 'api-prod.example.io', 5000, 6);
  statuses.push(...first);
  await routers[2].stop('SIGKILL');
  killedAt = Date.now();
  const survivors = routers.slice(0, 2);
  statuses.push(...await spread(survivors, 'api-prod.example.io', 5000, 6));
  t.equal(statuses.length, 10000);
  const failed = statuses.filter((s) => s !== 200 && s !== 500).length;
  t.equal(failed, 0, 'every request answered by a dyno');
  await untilAll(survivors, (c) => c.routers === 2, 20000, 'the killed router dropped out');
  t.comment(`the killed router dropped out after ${Date.now() - killedAt} ms`);
  const views = (await Promise.all(survivors.map(canaries))).map((cs) => cs[0]);
  for (const v of views) {
    t.equal(v.state, 'active', 'never aborted');
    t.equal(v.scope, 'cluster');
  }
  t.ok(views[0].counts.canary.requests > 1000, `the cluster counted ${views[0].counts.canary.requests} canary requests`);
  for (const r of routers) t.equal(ABORTED_MSGS.flatMap((m) => logs(r, m)).length, 0, 'no abort logged');
});

t.test('a rate limit of 300/min across 3 routers lets through at most 300 + N − 1 (+ the refill)', async (t) => {
  const d = await dyno(t, 0);
  const routers = await startFleet(t, fleetConfig(nats, 'CL_RATE', {
    apps: { api: { dynos: [d.address], filters: [{ filter: 'per-ip' }] } },
    filters: { 'per-ip': { type: 'ratelimit', limit: 300, window_ms: 60000, by: ['ip'] } },
  }), 3);
  await until(async () => (await Promise.all(routers.map((r) => scrape(r.ports.admin))))
    .every((m) => m.get('edgeplane_router_cluster_ratelimit_share') === 3), 30000, 'every router shares the limit by 3');
  const t0 = Date.now();
  const statuses = await spread(routers, 'api.example.io', 900, 6);
  const seconds = (Date.now() - t0) / 1000;
  const passed = statuses.filter((s) => s === 200).length;
  const refused = statuses.filter((s) => s === 429).length;
  t.equal(passed + refused, 900, 'every request answered 200 or 429');
  const bound = 300 + (3 - 1) + Math.ceil((300 / 60) * seconds);
  t.comment(`${passed} of 900 passed in ${seconds.toFixed(1)} s (bound ${bound})`);
  t.ok(passed <= bound, `at most 300 + 2 + the refill of ${seconds.toFixed(1)} s passed (${passed})`);
  t.ok(passed >= 300, `the whole limit is usable across the fleet (${passed})`);
  const res = await request(routers[0].url('/'), { headers: { host: 'api.example.io' } });
  await res.body.dump();
  t.equal(res.headers['ratelimit-policy'], '"per-ip";q=300;w=60', 'the policy header shows the configured limit');
});

t.test('the bus down: local decisions, said in /canaries and metrics; the abort reaches the others once it is back', async (t) => {
  const prod = await dyno(t, 0);
  const broken = await dyno(t, 1);
  const routers = await startFleet(t, fleetConfig(nats, 'CL_DOWN', { apps: canaryApps(prod, broken, { minRequests: 10 }, 50) }), 2);
  await untilAll(routers, (c) => c.scope === 'cluster' && c.routers === 2, 30000, 'both routers hear each other');
  for (const r of routers) t.equal((await scrape(r.ports.admin)).get('edgeplane_router_cluster_connected'), 1, 'connected');

  await nats.killAll();
  await untilAll(routers, (c) => c.scope === 'local' && c.routers === 1, 30000, '/canaries says local');
  for (const r of routers) t.equal((await scrape(r.ports.admin)).get('edgeplane_router_cluster_connected'), 0, 'metrics say the bus is down');

  // only router 0 gets traffic: its own worker decides on its own counts
  await spread([routers[0]], 'api-prod.example.io', 200, 2);
  await untilAll([routers[0]], (c) => c.state === 'aborted', 20000, 'router 0 aborts locally');
  await until(() => logs(routers[0], 'canary aborted').length > 0, 20000, 'router 0 logged it');
  t.equal(logs(routers[0], 'canary aborted').length, 1, 'decided by router 0\'s worker');
  t.equal((await canaries(routers[1]))[0].state, 'active', 'router 1 cannot know yet');

  await nats.restartAll();
  await untilAll(routers, (c) => c.scope === 'cluster' && c.state === 'aborted', 90000, 'once the bus is back, router 1 obeys router 0\'s abort');
  await until(() => logs(routers[1], 'canary aborted by another router').length > 0, 20000, 'router 1 logged it');
  t.equal(logs(routers[1], 'canary aborted by another router').length, 1);
});
