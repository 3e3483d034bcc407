// Ring memory through the spawned shuttle: metrics, idle eviction, maxApps / maxRingBytes.
import t from 'tap';
import { startShuttle } from '../helpers/shuttle-process.js';
import { httpRequest, openTail } from '../helpers/http-client.js';
import { postNdjson } from '../helpers/send.js';
import { waitFor } from '../helpers/wait.js';

t.setTimeout(600_000);

const T0 = Date.UTC(2026, 10, 25, 10, 0, 0, 0);

async function metric(base: string, series: string): Promise<number | null> {
  const body = (await httpRequest(`${base}/metrics`)).body;
  const line = body.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? null : Number(line.slice(series.length + 1));
}

async function logs(base: string, app: string): Promise<string> {
  return (await httpRequest(`${base}/apps/${app}/logs?lines=1500`)).body;
}

t.test('ring metrics: apps, lines and bytes held', async (t) => {
  const sh = await startShuttle(t, { history: 3 });
  await postNdjson(sh.base, [
    ...Array.from({ length: 5 }, (_, i) => ({ app: 'm1', time: T0, message: `line ${i}` })),
    { app: 'm2', time: T0, message: 'ünï ☃' },
  ]);
  const held = Buffer.byteLength((await logs(sh.base, 'm1')) + (await logs(sh.base, 'm2')));
  t.equal(await metric(sh.base, 'edgeplane_shuttle_apps'), 2);
  t.equal(await metric(sh.base, 'edgeplane_shuttle_ring_lines'), 4, '3 of m1 (history 3) and 1 of m2');
  t.equal(await metric(sh.base, 'edgeplane_shuttle_ring_bytes{kind="held"}'), held, 'bytes held = bytes of the tail lines');
  const allocated = (await metric(sh.base, 'edgeplane_shuttle_ring_bytes{kind="allocated"}'))!;
  t.ok(allocated >= held && allocated < 2000, `allocated ${allocated} for ${held} held`);
  t.equal(await metric(sh.base, 'edgeplane_shuttle_lines_in_total{ingest="http",source="app"}'), 6);
});

t.test('appIdleMs: an idle app is forgotten, a tailed one kept', async (t) => {
  const sh = await startShuttle(t, { appIdleMs: 300 });
  const tail = openTail(`${sh.base}/apps/watched/logs?tail=true`);
  t.teardown(() => tail.close());
  await waitFor(async () => (await metric(sh.base, 'edgeplane_shuttle_tails_open')) === 1, 'the tail open');
  await postNdjson(sh.base, [{ app: 'quiet', time: T0, message: 'once' }, { app: 'watched', time: T0, message: 'tailed' }]);
  await tail.waitForLines(1);
  await waitFor(async () => (await metric(sh.base, 'edgeplane_shuttle_apps_evicted_total{reason="idle"}')) === 1, 'one idle eviction');
  t.equal(await logs(sh.base, 'quiet'), '', 'the idle app has no history any more');
  t.match(await logs(sh.base, 'watched'), /: tailed\n$/, 'the tailed app kept its history');
  t.equal(await metric(sh.base, 'edgeplane_shuttle_apps'), 1);
  t.equal(await metric(sh.base, 'edgeplane_shuttle_evicted_app_lines_total'), 1);
  await postNdjson(sh.base, [{ app: 'quiet', time: T0 + 1, message: 'back' }]);
  t.match(await logs(sh.base, 'quiet'), /: back\n$/, 'an evicted app comes back with its next line');
});

t.test('maxApps: the least recently written app goes, counted', async (t) => {
  const sh = await startShuttle(t, { maxApps: 3 });
  for (const app of ['a', 'b', 'c', 'a', 'd']) await postNdjson(sh.base, [{ app, time: T0, message: `to ${app}` }]);
  t.equal(await logs(sh.base, 'b'), '', 'b was written least recently: evicted');
  for (const app of ['a', 'c', 'd']) t.not(await logs(sh.base, app), '', `${app} kept`);
  await postNdjson(sh.base, [{ app: 'e', time: T0, message: 'to e' }]);
  t.equal(await logs(sh.base, 'c'), '', 'then c');
  t.equal(await metric(sh.base, 'edgeplane_shuttle_apps'), 3);
  t.equal(await metric(sh.base, 'edgeplane_shuttle_apps_evicted_total{reason="max_apps"}'), 2);
  // many apps from ingest: memory stays bounded by the count
  await postNdjson(sh.base, Array.from({ length: 500 }, (_, i) => ({ app: `many-${i}`, time: T0, message: 'x' })));
  t.equal(await metric(sh.base, 'edgeplane_shuttle_apps'), 3);
  t.equal(await metric(sh.base, 'edgeplane_shuttle_apps_evicted_total{reason="max_apps"}'), 502);
  t.not(await logs(sh.base, 'many-499'), '', 'the newest kept');
});

t.test('maxRingBytes: bytes allocated stay under the bound; the app being written is kept', async (t) => {
  const maxRingBytes = 40_000;
  const sh = await startShuttle(t, { maxRingBytes });
  const big = 'b'.repeat(900);
  for (let a = 0; a < 10; a++) {
    await postNdjson(sh.base, Array.from({ length: 10 }, (_, i) => ({ app: `heavy-${a}`, time: T0, message: `${i} ${big}` })));
    const allocated = (await metric(sh.base, 'edgeplane_shuttle_ring_bytes{kind="allocated"}'))!;
    t.ok(allocated <= maxRingBytes, `after app ${a}: ${allocated} <= ${maxRingBytes}`);
  }
  t.ok((await metric(sh.base, 'edgeplane_shuttle_apps_evicted_total{reason="max_bytes"}'))! > 0, 'evictions counted');
  t.equal((await logs(sh.base, 'heavy-9')).split('\n').length - 1, 10, 'the newest app whole');
  t.equal(await logs(sh.base, 'heavy-0'), '', 'the oldest gone');
});
