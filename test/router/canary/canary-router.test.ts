// The canary through the router process (2 worker threads, real dynos): the abort line and
// /canaries in detail, a healthy canary's share, and a PUT /config that changes one canary and
// leaves the other (test/router/canary/canary-e2e.test.ts covers the abort across workers).
import t from 'tap';
import { request } from 'undici';
import { baseConfig, echoDyno, startDyno, startRouter, until, writeConfig, type Dyno, type RunningRouter } from '../../support/router-harness.js';

let router: RunningRouter;
let prod: Dyno, broken: Dyno, ui: Dyno, uiCanary: Dyno;
let config: Record<string, unknown>;

t.before(async () => {
  prod = await echoDyno('prod');
  ui = await echoDyno('ui');
  uiCanary = await echoDyno('ui-canary');
  broken = await startDyno((_req, res) => {
    res.statusCode = 500;
    res.end('broken\n');
  });
  config = baseConfig({
    workers: 2,
    apps: {
      'api-prod': { dynos: [prod.address], canary: { app: 'api-canary', weight: 20, abort: { minRequests: 30, confidence: 0.99, statuses: '5xx' } } },
      'api-canary': { dynos: [broken.address] },
      'ui-prod': { dynos: [ui.address], canary: { app: 'ui-canary', weight: 30 } },
      'ui-canary': { dynos: [uiCanary.address] },
    },
  });
  router = await startRouter(writeConfig(config));
});
t.teardown(async () => {
  await router?.stop();
  await Promise.all([prod, broken, ui, uiCanary].map((d) => d?.close()));
});

async function send(app: string, n: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < n; i += 8) {
    const batch = await Promise.all(Array.from({ length: Math.min(8, n - i) }, async () => {
      const res = await request(router.url('/'), { headers: { host: `${app}.example.io` } });
      await res.body.dump();
      return res.statusCode;
    }));
    statuses.push(...batch);
  }
  return statuses;
}

async function canaries(): Promise<any[]> {
  const res = await request(`http://127.0.0.1:${router.ports.admin}/canaries`);
  if (res.statusCode !== 200) throw new Error(`GET /canaries answered ${res.statusCode}`);
  return (await res.body.json()) as any[];
}

t.test('a failing canary is aborted once, logged in both streams, and gets no more traffic', async (t) => {
  const first = await send('api-prod', 600);
  const failures = first.filter((s) => s === 500).length;
  t.ok(failures >= 30, `the canary got traffic (${failures} failures)`);
  t.ok(failures < 60, `aborted well before half its traffic failed (${failures} of ~120)`);
  const line = await router.waitForLine((l) => l.startsWith('at=error code=canary_abort '));
  t.match(line, /^at=error code=canary_abort desc="Canary aborted" app=api-prod canary=api-canary canary_requests=\d+ canary_errors=\d+ canary_rate=1\.0000 production_requests=\d+ production_errors=0 production_rate=0\.0000 weight=20 confidence=0\.99$/);
  t.equal(router.lines.filter((l) => l.startsWith('at=error code=canary_abort ')).length, 2, 'one line for each app, from one thread');
  const after = await send('api-prod', 100);
  t.same([...new Set(after)], [200], 'weight 0 after the abort');
  const [api] = await canaries();
  t.equal(api.app, 'api-prod');
  t.equal(api.canary, 'api-canary');
  t.equal(api.state, 'aborted');
  // up to a batch (8) of canary requests were in flight when it aborted: answered, not counted
  t.ok(api.counts.canary.errors <= failures && failures - api.counts.canary.errors < 8, `${api.counts.canary.errors} counted of ${failures}`);
  t.equal(api.rates.canary, 1);
  t.ok(Date.parse(api.since) > 0);
});

t.test('a healthy canary stays active with its share', async (t) => {
  await send('ui-prod', 400);
  // a worker counts a request right after writing its response: the last count may come a moment
  // after the client has read the answer (another thread serves /canaries)
  const total = (e: any): number => e.counts.canary.requests + e.counts.production.requests;
  let uiEntry: any;
  await until(async () => {
    uiEntry = (await canaries()).find((c) => c.app === 'ui-prod');
    return total(uiEntry) >= 400;
  }, 10000, 'the 400 requests counted').catch(() => undefined);
  t.equal(uiEntry.state, 'active');
  const n = total(uiEntry);
  t.equal(n, 400);
  const share = uiEntry.counts.canary.requests / n;
  t.ok(Math.abs(share - 0.3) < 4 * Math.sqrt(0.3 * 0.7 / n), `share ${share}`);
  t.equal(uiCanary.hits, uiEntry.counts.canary.requests, 'the canary dyno got exactly the canary side');
});

t.test('PUT /config: a changed canary starts fresh, an unchanged one keeps its count', async (t) => {
  const before = await canaries();
  const apps = config.apps as Record<string, any>;
  apps['api-prod'].canary.weight = 5;
  const res = await request(`http://127.0.0.1:${router.ports.admin}/config`, { method: 'PUT', body: JSON.stringify(config), headers: { 'content-type': 'application/json' } });
  t.equal(res.statusCode, 200);
  await res.body.dump();
  const [api, uiEntry] = await canaries();
  t.equal(api.state, 'active');
  t.same(api.counts, { canary: { requests: 0, errors: 0 }, production: { requests: 0, errors: 0 } });
  t.same(uiEntry, before[1], 'ui-prod unchanged');
});
