// The abort is decided on the request that tips the evidence, not later on a timer ("decide
// on the combined evidence promptly"). One worker, requests one at a time: the router's
// lines on stdout are in the order the worker wrote them, so the abort line must come right
// after the access line of the canary request whose error made the evidence reach the bound,
// with exactly that many canary errors in it, and no canary request may follow.
import t from 'tap';
import { request } from 'undici';
import { baseConfig, startDyno, startRouter, writeConfig, type Dyno, type RunningRouter } from '../../support/router-harness.js';
import { abortThreshold, shouldAbort } from '../../../router/canary/sequential-test.js';

const WEIGHT = 50;
const CONFIDENCE = 0.99;

let router: RunningRouter;
let prod: Dyno;
let broken: Dyno;

t.before(async () => {
  prod = await startDyno((_q, s) => s.end('prod'));
  broken = await startDyno((_q, s) => { s.statusCode = 500; s.end('canary broke'); });
  router = await startRouter(writeConfig(baseConfig({
    workers: 1,
    apps: {
      // minRequests 1: the evidence alone decides when
      'api-prod': { dynos: [prod.address], canary: { app: 'api-canary', weight: WEIGHT, abort: { minRequests: 1, confidence: CONFIDENCE, statuses: '5xx' } } },
      'api-canary': { dynos: [broken.address] },
    },
  })));
});
t.teardown(async () => {
  await router?.stop();
  await Promise.all([prod?.close(), broken?.close()]);
});

t.test('the canary error that tips the evidence aborts the canary, in the same step', async (t) => {
  // with production healthy, the evidence after n canary errors; the first n that reaches the bound
  const threshold = abortThreshold(CONFIDENCE);
  let tipping = 1;
  while (!shouldAbort(tipping, tipping, 0, WEIGHT / 100, 1, threshold)) tipping++;
  t.ok(tipping > 3 && tipping < 30, `the evidence reaches ln(100) at the ${tipping}th canary error`);

  let canaryServed = 0;
  for (let i = 0; i < 300; i++) {
    const res = await request(router.url(`/r/${i}`), { headers: { host: 'api-prod.example.io' } });
    if ((await res.body.text()) === 'canary broke') canaryServed++;
  }
  t.equal(canaryServed, tipping, `the canary served exactly ${tipping} requests: none after the one that tipped it`);

  const abortLine = await router.waitForLine((l) => l.startsWith('at=error code=canary_abort '));
  t.match(abortLine, new RegExp(`canary_requests=${tipping} canary_errors=${tipping} canary_rate=1\\.0000 `
    + 'production_requests=\\d+ production_errors=0 production_rate=0\\.0000 weight=50 confidence=0\\.99$'),
  'the abort line carries the counts of the tipping moment');

  await router.waitForLine((l) => l.startsWith('at=info method=GET path=/r/299 '));
  const lines = router.lines.filter((l) => l.startsWith('at='));
  const first = lines.findIndex((l) => l.startsWith('at=error code=canary_abort '));
  const canaryLines = lines.map((l, i) => (l.includes(' canary=true') ? i : -1)).filter((i) => i >= 0);
  t.equal(canaryLines.length, tipping);
  t.equal(first, canaryLines[tipping - 1] + 1, 'the abort lines directly follow the tipping request\'s line');
  t.match(lines[first - 1], /^at=info method=GET path=\/r\/\d+ .* status=500 .*canary=true/);
  t.equal(lines[first + 1], lines[first], 'the second abort line (the other app\'s stream) is next');
  t.equal(lines.filter((l) => l.startsWith('at=error code=canary_abort ')).length, 2);
  t.ok(canaryLines.every((i) => i < first), 'no canary-served request after the abort');
});
