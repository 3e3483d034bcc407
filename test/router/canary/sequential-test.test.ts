import t from 'tap';
import { abortThreshold, logEvidence, shouldAbort, RELATIVE_RISKS } from '../../../router/canary/sequential-test.js';

t.test('threshold is ln(1 / (1 - confidence))', async (t) => {
  t.ok(Math.abs(abortThreshold(0.99) - Math.log(100)) < 1e-9);
  t.ok(Math.abs(abortThreshold(0.95) - Math.log(20)) < 1e-9);
});

t.test('evidence grows with canary errors and falls with production errors', async (t) => {
  let prev = -Infinity;
  for (let x = 0; x <= 40; x += 5) {
    const v = logEvidence(x, 50, 0.1);
    t.ok(v > prev, `x=${x}: ${v.toFixed(3)} > ${prev.toFixed(3)}`);
    prev = v;
  }
  t.ok(logEvidence(10, 100, 0.1) < logEvidence(10, 50, 0.1));
  t.ok(logEvidence(0, 0, 0.1) === 0, 'no errors: no evidence (mixture of 1s)');
  t.ok(logEvidence(0, 30, 0.1) < 0, 'only production errors: evidence for the canary');
});

t.test('errors in proportion to the split are no evidence; far more on the canary is', async (t) => {
  // share 0.1: 10 canary errors among 100 is what H0 expects
  t.ok(logEvidence(10, 90, 0.1) < abortThreshold(0.99));
  // 30 of 100 (relative risk ~3.9) is overwhelming
  t.ok(logEvidence(30, 70, 0.1) > abortThreshold(0.99));
});

t.test('no comparison without both sides', async (t) => {
  t.equal(logEvidence(50, 0, 0), 0);
  t.equal(logEvidence(50, 0, 1), 0);
  t.notOk(shouldAbort(1000, 1000, 0, 1, 200, abortThreshold(0.99)), 'weight 100 never aborts');
});

t.test('minRequests gates the decision', async (t) => {
  const thr = abortThreshold(0.99);
  t.notOk(shouldAbort(199, 199, 0, 0.1, 200, thr));
  t.ok(shouldAbort(200, 199, 0, 0.1, 200, thr));
  t.notOk(shouldAbort(5000, 0, 0, 0.1, 200, thr), 'no canary error, no abort');
});

t.test('a canary that always fails while production never does is aborted within a few errors', async (t) => {
  const thr = abortThreshold(0.99);
  let x = 1;
  while (!shouldAbort(1e6, x, 0, 0.1, 1, thr)) x++;
  t.ok(x <= 4, `aborted at ${x} canary errors`);
});

// The property the method exists for: under H0 each error falls on the canary side with
// probability `share`; the chance that the evidence EVER reaches the threshold, checked after
// every single error, stays below 1 - confidence. Computed exactly by dynamic programming over
// the first N errors (no sampling), with the gate off (the gate only lowers it).
function everCrosses(share: number, confidence: number, n: number): number {
  const thr = abortThreshold(confidence);
  let cur = new Float64Array(n + 2);
  let nxt = new Float64Array(n + 2);
  cur[0] = 1;
  let crossed = 0;
  for (let e = 1; e <= n; e++) {
    nxt.fill(0);
    for (let x = 0; x < e; x++) {
      const m = cur[x];
      if (m === 0) continue;
      nxt[x] += m * (1 - share);
      nxt[x + 1] += m * share;
    }
    for (let x = 0; x <= e; x++) {
      if (nxt[x] !== 0 && logEvidence(x, e - x, share) >= thr) { crossed += nxt[x]; nxt[x] = 0; }
    }
    [cur, nxt] = [nxt, cur];
  }
  return crossed;
}

// The naive rule for contrast: a fixed-sample z-test on the same error stream, repeated after
// every error (conditional binomial test, normal approximation).
function naiveEverCrosses(share: number, n: number, z: number): number {
  let cur = new Float64Array(n + 2);
  let nxt = new Float64Array(n + 2);
  cur[0] = 1;
  let crossed = 0;
  for (let e = 1; e <= n; e++) {
    nxt.fill(0);
    for (let x = 0; x < e; x++) {
      const m = cur[x];
      if (m === 0) continue;
      nxt[x] += m * (1 - share);
      nxt[x + 1] += m * share;
    }
    for (let x = 0; x <= e; x++) {
      if (nxt[x] !== 0 && e >= 20 && (x - e * share) / Math.sqrt(e * share * (1 - share)) > z) { crossed += nxt[x]; nxt[x] = 0; }
    }
    [cur, nxt] = [nxt, cur];
  }
  return crossed;
}

t.test('false alarms stay below 1 - confidence however often the test runs (exact)', async (t) => {
  for (const [share, confidence] of [[0.1, 0.99], [0.1, 0.95], [0.3, 0.99], [0.5, 0.99]] as const) {
    const p = everCrosses(share, confidence, 1500);
    t.ok(p <= 1 - confidence, `share ${share}, confidence ${confidence}: P(ever abort in 1500 errors) = ${p.toFixed(5)}`);
  }
  const naive = naiveEverCrosses(0.1, 1500, 2.3263478740408408);
  t.ok(naive > 0.05, `the naive repeated z-test at 0.99 would alarm with probability ${naive.toFixed(3)}`);
});

t.test('the grid is of relative risks above 1 (a one-sided test)', async (t) => {
  t.ok(RELATIVE_RISKS.length > 0 && RELATIVE_RISKS.every((r) => r > 1));
});
