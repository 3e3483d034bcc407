import t from 'tap';
import { copyFileSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { baseConfig, startDyno, startRouter, writeConfig, type Dyno, type RunningRouter } from '../../support/router-harness.js';
import { putConfig } from '../support/admin-client.js';
import { getJson, openStream, pollUntil, type EventStream, type SseEvent } from './support/stats-client.js';
import { decodePng, inkOf } from './support/png-pixels.js';
import { CHROMIUM, cellsAbove0, connectionIs, launch, textMatches } from './support/browser.js';

t.setTimeout(300_000);

// The dashboard in a real browser: Debian's chromium, headless, driven by playwright-core (no
// download), against a real router. What a user sees: the page, its numbers changing under
// traffic, a canary abort, a new config revision, the token prompt; and a screenshot.

/**
 * The dashboard's promise: a change is shown by the first event that carries it. A stream of the
 * test's own finds that event (its `second`); the page must show the change once it has drawn
 * that second (`data-second` on its body), whenever the loaded machine lets it get there.
 */
async function shownBy(page: Page, stream: EventStream, carries: (e: SseEvent) => boolean, what: string): Promise<number> {
  const second = Number((await stream.next((e) => e.event === 'tick' && carries(e), 60000, what)).data.second);
  await page.waitForFunction((s: number) => Number((globalThis as any).document.body.dataset.second || 0) >= s, second, { timeout: 60000 });
  return second;
}

/** A dyno answering the status named in the path (/status/500 -> 500) after a few ms. */
function statusDyno(): Promise<Dyno> {
  return startDyno((req, res) => {
    const m = /^\/status\/(\d{3})/.exec(req.url ?? '');
    res.statusCode = m ? Number(m[1]) : 200;
    setTimeout(() => res.end('ok'), 2 + Math.floor(Math.random() * 15));
  });
}

function get(port: number, host: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Requests in a loop (two at a time) until stopped; `path(i)` picks each one's path. */
function traffic(port: number, host: string, path: (i: number) => string): { firstDone: Promise<number>; stop(): Promise<void> } {
  let running = true;
  let i = 0;
  let first: (at: number) => void = () => undefined;
  const firstDone = new Promise<number>((r) => (first = r));
  const loop = async (): Promise<void> => {
    while (running) {
      await get(port, host, path(i++)).catch(() => 0);
      first(Date.now());
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const loops = [loop(), loop()];
  return { firstDone, stop: async () => { running = false; await Promise.all(loops); } };
}

/** Numbers shown in a cell of the apps table. */
function cell(page: Page, app: string, field: string): Promise<string> {
  return page.$eval(`tr[data-app="${app}"] td[data-field="${field}"]`, (e) => e.textContent ?? '').catch(() => '');
}

t.test('the dashboard in chromium', async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.fail(`chromium is not installed at ${CHROMIUM}: apt-get install chromium (.ci/run installs it); this test does not skip`);
    return;
  }
  const prod = await statusDyno();
  const broken = await startDyno((_q, s) => { s.statusCode = 500; s.end('canary broke'); });
  t.teardown(() => Promise.all([prod.close(), broken.close()]));
  const config = (extra: Record<string, unknown> = {}) => baseConfig({
    apps: {
      web: { dynos: [prod.address] },
      shop: { dynos: [prod.address], canary: { app: 'shop-canary', weight: 50, abort: { minRequests: 10, confidence: 0.95, statuses: '5xx' } } },
      'shop-canary': { dynos: [broken.address] },
      ...extra,
    },
  });
  const router: RunningRouter = await startRouter(writeConfig(config()));
  t.teardown(() => router.stop());
  const adminOrigin = `http://127.0.0.1:${router.ports.admin}`;
  const browser = await launch();
  t.teardown(() => browser.close());
  const artifacts = mkdtempSync(join(tmpdir(), 'edgeplane-dashboard-'));

  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const requests: string[] = [];
  const errors: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(e.message));

  await t.test('loads with no console error and no request leaving the router', async (t) => {
    await page.goto(`${adminOrigin}/dashboard`);
    await page.waitForFunction(connectionIs, 'live', { timeout: 15000 });
    await page.waitForSelector('tr[data-app="web"]', { timeout: 15000 });
    t.same(errors, [], 'no console errors');
    const elsewhere = requests.filter((u) => !u.startsWith(`${adminOrigin}/`) && !u.startsWith('data:'));
    t.same(elsewhere, [], 'every request went to the router');
    t.same([...new Set(requests.map((u) => new URL(u).pathname))].sort(),
      ['/dashboard', '/dashboard/app.css', '/dashboard/app.js', '/dashboard/uplot.css', '/dashboard/uplot.js', '/stats/stream'], 'the page, its assets, its stream');
    t.equal(await page.textContent('#revision'), '1');
  });

  await t.test('under traffic the request rate and a status class change with the first event that carries them', async (t) => {
    t.equal(await cell(page, 'web', 'rps'), '0', 'no traffic yet');
    t.equal(await cell(page, 'web', '5xx'), '0');
    const stream = await openStream(router.ports.admin, '/stats/stream');
    t.teardown(() => stream.close());
    const load = traffic(router.ports.http, 'web.example.io', (i) => (i % 5 === 4 ? '/status/500' : '/'));
    t.teardown(() => load.stop());
    const web = (e: SseEvent): any => e.data.apps.find((a: { name: string }) => a.name === 'web');
    const second = await shownBy(page, stream, (e) => web(e)?.last?.requests > 0 && web(e)?.window?.classes['5xx'] > 0, 'with web traffic and a 5xx');
    // the window's counts only grow from there; the rate is the newest second's, whichever the
    // page has drawn by now: read together with that second, and compared with its event
    t.ok(await page.evaluate(cellsAbove0, [['web', 'requests'], ['web', '5xx']] as [string, string][]), `requests and 5xx above 0 once the page drew second ${second}`);
    t.ok(Number(await cell(page, 'web', '2xx')) > 0, '2xx counted too');
    const drawn = await page.evaluate(() => {
      const d = (globalThis as any).document;
      return { second: Number(d.body.dataset.second), rps: d.querySelector('tr[data-app="web"] td[data-field="rps"]')?.textContent ?? '' };
    });
    const event = await stream.next((e) => e.data?.second === drawn.second, 60000, `for second ${drawn.second}`);
    t.equal(drawn.rps, String(web(event)?.last?.requests ?? 0), `the rate shown is the one of the second drawn (${drawn.second})`);
    await load.stop();
  });

  await t.test('a canary abort shows with the first event that carries it', async (t) => {
    await page.waitForSelector('[data-canary="shop"]', { timeout: 10000 });
    t.match(await page.textContent('[data-canary="shop"] [data-field="state"]'), /active/);
    const stream = await openStream(router.ports.admin, '/stats/stream');
    t.teardown(() => stream.close());
    const load = traffic(router.ports.http, 'shop.example.io', () => '/');
    t.teardown(() => load.stop());
    await pollUntil(() => getJson(router.ports.admin, '/canaries'), (r) => r.json[0]?.state === 'aborted', 60000, 'the canary aborted');
    await load.stop();
    const second = await shownBy(page, stream, (e) => e.data.canaries.some((c: { app: string; state: string }) => c.app === 'shop' && c.state === 'aborted'), 'with the abort');
    t.ok(await page.evaluate(textMatches, ['[data-canary="shop"] [data-field="state"]', 'aborted'] as [string, string]), `shown aborted once the page drew second ${second}`);
    t.match(await page.textContent('tr[data-app="shop"] td[data-field="canary"]'), /aborted/, 'in the apps table too');
    t.match(await page.textContent('[data-canary="shop"] [data-field="evidence"]'), /of 3\.00/, 'the evidence against its threshold ln(1/0.05)');
  });

  await t.test('a reload (PUT /config) shows the new revision', async (t) => {
    const put = await putConfig(router.ports.admin, config({ api: { dynos: [prod.address] } }));
    t.equal(put.status, 200);
    await page.waitForFunction(textMatches, ['#revision', '^2$'] as [string, string], { timeout: 10000 });
    await page.waitForSelector('#reloads-body td[data-field="result"]', { timeout: 10000 });
    t.match(await page.textContent('#reloads-body tr:first-child'), /put.*applied.*2/);
    await page.waitForSelector('tr[data-app="api"]', { timeout: 10000 });
  });

  await t.test('a screenshot, saved and not blank', async (t) => {
    // a little traffic of each kind for the charts
    const load = traffic(router.ports.http, 'web.example.io', (i) => ['/', '/', '/', '/status/302', '/status/404', '/', '/status/503'][i % 7]);
    await pollUntil(() => getJson(router.ports.admin, '/stats?app=web'), (r) => r.json.apps[0].last?.requests > 0, 10000, 'traffic counted');
    // enough seconds of traffic for the charts to show a line (the screenshot is the README's)
    await pollUntil(() => getJson(router.ports.admin, '/stats?app=web'),
      (r) => (r.json.apps[0].series?.requests as number[] | undefined ?? []).filter((n) => n > 0).length >= 12, 60000, 'twelve seconds of traffic');
    await page.waitForFunction(cellsAbove0, [['web', '3xx']] as [string, string][], { timeout: 10000 });
    await load.stop();
    const file = join(artifacts, 'dashboard.png');
    const png = await page.screenshot({ path: file, fullPage: true });
    t.comment(`screenshot: ${file}`);
    const blank = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const empty = await blank.screenshot();
    await blank.close();
    const shot = inkOf(decodePng(png));
    const none = inkOf(decodePng(empty));
    t.equal(none.inked, 0, 'a blank page has no ink (the check itself works)');
    t.ok(shot.inked > 0.05, `the dashboard is drawn (${(shot.inked * 100).toFixed(1)} % of pixels off the background)`);
    t.ok(shot.colours > 50, `in many colours (${shot.colours}): text, charts`);
    // DASHBOARD_SCREENSHOT=docs/dashboard.png keeps this screenshot as the README's (docs/router/dashboard.md),
    // only when it passed the checks above
    const keep = process.env.DASHBOARD_SCREENSHOT;
    if (keep && shot.inked > 0.05 && shot.colours > 50) {
      copyFileSync(file, keep);
      t.comment(`screenshot copied to ${keep}`);
    }
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true });
    await phone.goto(`${adminOrigin}/dashboard`);
    await phone.waitForSelector('tr[data-app="web"]', { timeout: 15000 });
    const overflow = await phone.evaluate(() => { const e = (globalThis as any).document.documentElement; return e.scrollWidth - e.clientWidth as number; });
    t.equal(overflow, 0, 'on a phone the page does not scroll sideways (tables scroll in their box)');
    writeFileSync(join(artifacts, 'dashboard-phone.png'), await phone.screenshot({ fullPage: true }));
    await phone.close();
  });

  t.same(errors, [], 'no console errors all along');
});
