import t from 'tap';
import { request } from 'node:http';
import { baseConfig, echoDyno, startRouter, writeConfig, until } from '../../support/router-harness.js';
import { startShuttle } from '../../logshuttle/helpers/shuttle-process.js';
import { admin } from '../support/admin-client.js';

t.setTimeout(300_000);

// ROUTER_ADMIN_TOKEN: the page and its assets are public, the data routes need the token. The
// live tail relay against a real log shuttle that has its own token (LOGSHUTTLE_TOKEN).

const TOKEN = 'dashboard-admin-token';
const SHUTTLE_TOKEN = 'shuttle-secret';

/** Opens the relayed tail; collects its text until closed. */
function openRelay(port: number, path: string, token: string): Promise<{ status: number; type: string; text(): string; close(): void }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { authorization: `Bearer ${token}` }, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('error', () => undefined);
      resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), text: () => text, close: () => req.destroy() });
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('token: public page, guarded data; the tail relayed from the shuttle with its token', async (t) => {
  const shuttle = await startShuttle(t, { listen: { ingest: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 } } }, { LOGSHUTTLE_TOKEN: SHUTTLE_TOKEN });
  const dyno = await echoDyno('web');
  t.teardown(() => dyno.close());
  const router = await startRouter(writeConfig(baseConfig({
    logshuttle: `tcp://127.0.0.1:${shuttle.ports.ingest}`,
    dashboard: { logshuttle: shuttle.base },
    apps: { web: { dynos: [dyno.address] } },
  })), [], { ROUTER_ADMIN_TOKEN: TOKEN, LOGSHUTTLE_TOKEN: SHUTTLE_TOKEN });
  t.teardown(() => router.stop());
  const port = router.ports.admin;

  for (const path of ['/dashboard', '/dashboard/app.js', '/dashboard/app.css', '/dashboard/uplot.js', '/dashboard/uplot.css']) {
    const a = await admin(port, 'GET', path);
    t.equal(a.status, 200, `${path} without a token`);
    t.match(String(a.headers['content-security-policy']), /default-src 'none'.*connect-src 'self'/, `${path}: the browser may load nothing from elsewhere`);
  }
  const page = await admin(port, 'GET', '/dashboard');
  t.match(page.headers['content-type'], /^text\/html/);
  t.notMatch(page.body, /https?:\/\//, 'the page names no other origin');
  t.notMatch(page.body, /"web"|exact|revision [0-9]/, 'and holds no data');
  const uplot = await admin(port, 'GET', '/dashboard/uplot.js');
  t.match(uplot.body, /uPlot/, 'uPlot from node_modules');

  for (const path of ['/stats', '/stats/stream', '/dashboard/logs?app=web', '/config']) {
    t.equal((await admin(port, 'GET', path)).status, 401, `${path} without a token`);
    t.equal((await admin(port, 'GET', path, { token: 'wrong' })).status, 401, `${path} with a wrong one`);
  }
  const stats = await admin(port, 'GET', '/stats', { token: TOKEN });
  t.equal(stats.status, 200);
  t.equal(JSON.parse(stats.body).logTail, true, 'the page is told a tail is there');

  const tail = await openRelay(port, '/dashboard/logs?app=web&lines=10', TOKEN);
  t.teardown(() => tail.close());
  t.equal(tail.status, 200, tail.text());
  t.match(tail.type, /^text\/plain/);
  await until(async () => {
    await new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: router.ports.http, path: '/tailed', headers: { host: 'web.example.io', 'x-request-id': 'tail-me' }, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve());
      });
      req.on('error', reject);
      req.end();
    });
    return tail.text().includes('request_id=tail-me');
  }, 20000, "the router's line in the relayed tail");
  t.match(tail.text(), /Z web akkeris\/router: at=info method=GET path=\/tailed .*request_id=tail-me/);

  // the shuttle refuses the router's token: the relay says so (502), the page shows it
  const other = await startRouter(writeConfig(baseConfig({ dashboard: { logshuttle: shuttle.base }, apps: { web: { dynos: [dyno.address] } } })), [],
    { LOGSHUTTLE_TOKEN: 'not-the-shuttles' });
  t.teardown(() => other.stop());
  const refused = await admin(other.ports.admin, 'GET', '/dashboard/logs?app=web');
  t.equal(refused.status, 502);
  t.match(JSON.parse(refused.body), { error: 'E_TAIL', problems: [/answered 401/] });
});
