import t from 'tap';
import { existsSync } from 'node:fs';
import { baseConfig, startDyno, startRouter, writeConfig } from '../../support/router-harness.js';
import { CHROMIUM, connectionIs, launch, textMatches } from './support/browser.js';

t.setTimeout(300_000);

// The dashboard behind ROUTER_ADMIN_TOKEN in a real browser (chromium, playwright-core): the
// token prompt, a wrong token, the right one, and a stream that drops and comes back.

t.test('with ROUTER_ADMIN_TOKEN: the page asks for the token; a wrong one is refused, the right one shows the data; a dropped stream shows "disconnected" and comes back', async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.fail(`chromium is not installed at ${CHROMIUM}`);
    return;
  }
  const dyno = await startDyno((_q, s) => s.end('ok'));
  t.teardown(() => dyno.close());
  const config = (adminPort: number) => writeConfig(baseConfig({
    listen: { http: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: adminPort } },
    apps: { secret: { dynos: [dyno.address] } },
  }));
  const env = { ROUTER_ADMIN_TOKEN: 'open-sesame' };
  const router = await startRouter(config(0), [], env);
  t.teardown(() => router.stop());
  const browser = await launch();
  t.teardown(() => browser.close());
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${router.ports.admin}/dashboard`);
  await page.waitForSelector('#auth:not([hidden])', { timeout: 15000 });
  t.match(await page.textContent('#auth-message'), /requires an admin token/);
  t.equal(await page.$('tr[data-app="secret"]'), null, 'no data without the token');
  t.equal(await page.getAttribute('#connection', 'data-state'), 'locked');

  await page.fill('#token', 'wrong');
  await page.click('#auth-form button[type="submit"]');
  await page.waitForFunction(textMatches, ['#auth-message', 'not accepted'] as [string, string], { timeout: 15000 });
  t.pass('a wrong token: "not accepted"');
  t.equal(await page.$('tr[data-app="secret"]'), null);

  await page.fill('#token', 'open-sesame');
  await page.click('#auth-form button[type="submit"]');
  await page.waitForSelector('tr[data-app="secret"]', { timeout: 15000 });
  t.equal(await page.isHidden('#auth'), true, 'the prompt is gone');
  t.equal(await page.evaluate(() => (globalThis as any).sessionStorage.getItem('edgeplane.dashboard.token') as string | null), 'open-sesame', 'kept in sessionStorage');
  // a reload of the page keeps the token for this tab
  await page.reload();
  await page.waitForSelector('tr[data-app="secret"]', { timeout: 15000 });
  t.pass('still in after a reload');

  // the router goes away: the stream drops, the page says so and keeps retrying
  const adminPort = router.ports.admin;
  await router.stop('SIGKILL');
  await page.waitForFunction(connectionIs, 'disconnected', { timeout: 15000 });
  t.match(await page.textContent('#connection'), /Disconnected.*retrying in \d+ s/);
  // back on the same admin port (the point here): the page reconnects by itself, token and all
  const again = await startRouter(config(adminPort), [], env);
  t.teardown(() => again.stop());
  await page.waitForFunction(connectionIs, 'live', { timeout: 30000 });
  await page.waitForSelector('tr[data-app="secret"]', { timeout: 15000 });
  t.pass('live again');
});
