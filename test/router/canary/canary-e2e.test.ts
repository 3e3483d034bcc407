import t from 'tap';
import { request } from 'undici';
import { baseConfig, startDyno, startRouter, writeConfig, type Dyno, type RunningRouter } from '../../support/router-harness.js';

let prod: Dyno;
let bad: Dyno;
let router: RunningRouter;

t.before(async () => {
  prod = await startDyno((_q, s) => s.end('prod'));
  bad = await startDyno((_q, s) => { s.statusCode = 500; s.end('canary broke'); });
  router = await startRouter(writeConfig(baseConfig({
    workers: 2,
    apps: {
      'api-prod': { dynos: [prod.address], canary: { app: 'api-canary', weight: 30, abort: { minRequests: 20, confidence: 0.99, statuses: '5xx' } } },
      'api-canary': { dynos: [bad.address] },
    },
  })));
});
t.teardown(async () => {
  await router?.stop();
  await prod?.close();
  await bad?.close();
});

async function canaries(): Promise<any[]> {
  const res = await request(`http://127.0.0.1:${router.ports.admin}/canaries`);
  return (await res.body.json()) as any[];
}

t.test('a failing canary is aborted across 2 workers, logged in both streams, and gets no more traffic', async (t) => {
  const before = await canaries();
  t.equal(before.length, 1);
  t.match(before[0], { app: 'api-prod', canary: 'api-canary', state: 'active' });

  let canaryServed = 0;
  for (let i = 0; i < 400 && (await canaries())[0].state === 'active'; i++) {
    const res = await request(router.url('/x'), { headers: { host: 'api-prod.example.io' } });
    const body = await res.body.text();
    if (body === 'canary broke') canaryServed++;
  }
  const after = (await canaries())[0];
  t.equal(after.state, 'aborted');
  t.ok(after.counts.canary.requests >= 20, 'aborted only after minRequests');
  t.equal(after.counts.canary.errors, after.counts.canary.requests);
  t.equal(after.counts.production.errors, 0);
  t.ok(canaryServed < 60, `aborted well before many failures (${canaryServed})`);
  t.match(after.since, /^\d{4}-\d\d-\d\dT/);

  const line = await router.waitForLine((l) => l.includes('code=canary_abort'));
  t.match(line, /^at=error code=canary_abort .*app=api-prod canary=api-canary canary_requests=\d+ canary_errors=\d+/);
  t.equal(router.lines.filter((l) => l.includes('code=canary_abort')).length, 2, 'one line for each app stream');

  const hitsBefore = bad.hits;
  for (let i = 0; i < 50; i++) {
    const res = await request(router.url('/y'), { headers: { host: 'api-prod.example.io' } });
    t.equal(await res.body.text(), 'prod');
  }
  t.equal(bad.hits, hitsBefore, 'weight 0 in every worker');
  const canaryLines = router.lines.filter((l) => l.includes('canary=true') && l.startsWith('at=info'));
  t.ok(canaryLines.length > 0 && canaryLines.every((l) => l.includes('status=500')), 'canary-served lines carry canary=true');
});
