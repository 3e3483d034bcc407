import t from 'tap';
import { LATENCY_BUCKET_COUNT, bucketUpperMs, latencyBucket, quantileMs } from '../../../router/metrics/latency-histogram.js';
import { StatsHistory, WINDOW_SECONDS } from '../../../router/metrics/stats-history.js';
import { WorkerStats } from '../../../router/metrics/worker-stats.js';
import { CLASS_COUNT, SECOND_STRIDE, type WorkerSecond } from '../../../router/metrics/worker-second.js';

const NO_GAUGES = { ejected: [], inFlight: 0, websockets: 0 };

/** One worker's second: `requests` as [app, status, ms] through the real WorkerStats. */
function second(requests: [string, number, number][], stats = new WorkerStats()): WorkerSecond {
  for (const [app, status, ms] of requests) stats.record(app, status, null, ms);
  return stats.takeSecond(NO_GAUGES);
}

t.test('latency buckets are log-spaced, inclusive of their upper bound, and cover 0 to beyond 40 s', async (t) => {
  t.equal(latencyBucket(0), 0);
  t.equal(latencyBucket(0.05), 0, 'a duration on a bound is in that bucket');
  t.equal(latencyBucket(0.0501), 1);
  for (let i = 1; i < LATENCY_BUCKET_COUNT - 1; i++) {
    t.equal(latencyBucket(bucketUpperMs(i)), i, `bound ${i}`);
    t.equal(latencyBucket(bucketUpperMs(i) * 1.001), i + 1, `just above bound ${i}`);
    t.ok(Math.abs(bucketUpperMs(i) / bucketUpperMs(i - 1) - 2 ** (1 / 3)) < 1e-9, 'three buckets per doubling');
  }
  t.ok(bucketUpperMs(LATENCY_BUCKET_COUNT - 2) > 40_000);
  t.equal(latencyBucket(3_600_000), LATENCY_BUCKET_COUNT - 1, 'an hour is in the open last bucket');
});

t.test('quantiles by nearest rank, within 13 % of the true value', async (t) => {
  const counts = new Uint32Array(LATENCY_BUCKET_COUNT);
  t.equal(quantileMs(counts, 0, 0.5), null, 'nothing counted');
  // 100 durations 1..100 ms
  for (let ms = 1; ms <= 100; ms++) counts[latencyBucket(ms)]++;
  const p50 = quantileMs(counts, 0, 0.5)!;
  const p99 = quantileMs(counts, 0, 0.99)!;
  t.ok(Math.abs(p50 - 50) / 50 < 0.13, `p50 ${p50}`);
  t.ok(Math.abs(p99 - 99) / 99 < 0.13, `p99 ${p99}`);
});

t.test("a worker's second: per app, status classes and histogram; taken once, then zero", async (t) => {
  const stats = new WorkerStats();
  const s = second([['a', 200, 3], ['a', 404, 3], ['b', 503, 100], ['a', 101, 1]], stats);
  t.same(s.apps, ['a', 'b']);
  t.same(Array.from(s.counts.subarray(0, CLASS_COUNT)), [1, 1, 0, 1, 0]);
  t.same(Array.from(s.counts.subarray(SECOND_STRIDE, SECOND_STRIDE + CLASS_COUNT)), [0, 0, 0, 0, 1]);
  t.equal(s.counts[SECOND_STRIDE + CLASS_COUNT + latencyBucket(100)], 1);
  const next = stats.takeSecond(NO_GAUGES);
  t.same(next.apps, [], 'nothing since');
  t.equal(next.counts.length, 0);
  // the cumulative /metrics snapshot is not affected by taking seconds
  t.same(stats.snapshot({ inFlight: 0, websockets: 0, ejectedDynos: 0, dynos: 0, connections: null }).apps.a.classes, [1, 1, 0, 1, 0]);
});

t.test('seconds of several workers add up; the window slides over 60 seconds', async (t) => {
  const h = new StatsHistory({ now: () => 0 });
  h.add(second([['a', 200, 2], ['a', 200, 2]]));
  h.add(second([['a', 500, 2]]));
  h.seal(1000);
  t.same(h.last('a'), { requests: 3, classes: [0, 2, 0, 0, 1], p50Ms: quantileMs(hist(2, 3), 0, 0.5), p99Ms: quantileMs(hist(2, 3), 0, 0.99) });
  for (let s = 2; s <= WINDOW_SECONDS; s++) {
    h.add(second([['a', 404, 2]]));
    h.seal(s * 1000);
  }
  t.equal(h.window('a')!.requests, 3 + 59);
  t.same(h.window('a')!.classes, [0, 2, 0, 59, 1]);
  h.add(second([['a', 404, 2]]));
  h.seal(61_000);
  t.same(h.window('a')!.classes, [0, 0, 0, 60, 0], 'the first second left the window');
  const series = h.series('a')!;
  t.equal(series.requests.length, WINDOW_SECONDS);
  t.same(series.requests, new Array(WINDOW_SECONDS).fill(1));
  t.same(h.timeline()[WINDOW_SECONDS - 1], 61_000);
  t.same(h.timeline()[0], 2_000);
});

t.test('memory is bounded: the busiest apps are held, a quiet one makes room, pinned ones stay', async (t) => {
  let now = 0;
  const h = new StatsHistory({ capacity: 3, maxPins: 1, pinMs: 10_000, now: () => now });
  const traffic = (apps: [string, number][]): void => {
    const reqs: [string, number, number][] = [];
    for (const [app, n] of apps) for (let i = 0; i < n; i++) reqs.push([app, 200, 1]);
    h.add(second(reqs));
    h.seal(now += 1000);
  };
  traffic([['a', 5], ['b', 4], ['c', 3]]);
  t.same(h.busiest(10), ['a', 'b', 'c']);
  traffic([['d', 2]]);
  t.notOk(h.has('d'), 'fewer requests than the quietest held app over its window: not held');
  traffic([['e', 10]]);
  t.ok(h.has('e'), 'more: held');
  t.notOk(h.has('c'), 'the quietest was forgotten');
  t.equal(h.size, 3);
  t.same(h.busiest(2), ['e', 'a']);
  t.ok(h.pin('z'), 'an app asked for by name is held at once');
  t.ok(h.has('z'));
  t.notOk(h.pin('y'), 'one pin at most here');
  traffic([['f', 100]]);
  t.ok(h.has('z'), 'a pinned app is not forgotten for a busier one');
  t.ok(h.has('f'));
  t.equal(h.size, 3);
  now += 20_000;
  traffic([['g', 100]]);
  t.notOk(h.has('z'), 'once its pin ran out it can be forgotten');
});

function hist(ms: number, n: number): Uint32Array {
  const c = new Uint32Array(LATENCY_BUCKET_COUNT);
  c[latencyBucket(ms)] = n;
  return c;
}
