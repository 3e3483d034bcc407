import t from 'tap';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { JwksServer } from './support/jwks-server.js';
import { ISSUER, makeKey, mint } from './support/tokens.js';
import { EchoDyno, RouterProcess } from './support/router-process.js';

// CORS in a real browser: Debian's chromium, headless, driven by playwright-core (no download).
// A page served from one origin calls an app through the router on another origin.

const CHROMIUM = '/usr/bin/chromium';

/** The page: runs one fetch described by its query string, writes the outcome into #outcome. */
const PAGE_HTML = `<!doctype html><html><body><p id="outcome">pending</p><script>
(async () => {
  const q = new URLSearchParams(location.search);
  const headers = q.get('token') ? { authorization: 'Bearer ' + q.get('token') } : {};
  let outcome;
  try {
    const r = await fetch(q.get('target'), { headers });
    outcome = 'ok ' + r.status + ' count=' + r.headers.get('x-total-count');
  } catch (e) {
    outcome = 'error ' + e.name;
  }
  document.getElementById('outcome').textContent = outcome;
})();
</script></body></html>`;

t.test('a page from an allowed origin can call the app; one from another origin cannot', async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.fail(`chromium is not installed at ${CHROMIUM}: apt-get install chromium (.ci/run installs it); this test does not skip`);
    return;
  }
  const pages: Server = createServer((req, res) => {
    if ((req.url ?? '/').startsWith('/page')) res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE_HTML);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => pages.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise<void>((r) => { pages.closeAllConnections(); pages.close(() => r()); }));
  const pagePort = (pages.address() as AddressInfo).port;
  const allowedOrigin = `http://127.0.0.1:${pagePort}`;

  const jwks = await new JwksServer().start();
  t.teardown(() => jwks.stop());
  const key = await makeKey('ES256');
  jwks.keys = [key.jwk];
  const dyno = await new EchoDyno().start();
  t.teardown(() => dyno.stop());
  const router = new RouterProcess();
  t.teardown(() => router.stop());
  await router.start({
    domain: 'localtest',
    workers: 1,
    listen: { http: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } },
    apps: { app: { dynos: [dyno.address], filters: [{ filter: 'auth', excludes: ['/public'] }, { filter: 'cors' }] } },
    filters: {
      auth: { type: 'jwt', jwks_uri: jwks.uri, issuer: ISSUER },
      cors: { type: 'cors', allow_origins: [allowedOrigin], allow_methods: ['GET'], allow_headers: ['authorization'], expose_headers: ['x-total-count'] },
    },
  });

  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--host-resolver-rules=MAP *.localtest 127.0.0.1'],
  });
  t.teardown(() => browser.close());
  const token = await mint(key);
  const api = `http://app.localtest:${router.port}`;

  const outcome = async (pageOrigin: string, target: string, withToken: boolean): Promise<string> => {
    const page = await browser.newPage();
    try {
      const q = new URLSearchParams({ target, token: withToken ? token : '' });
      await page.goto(`${pageOrigin}/page?${q}`);
      await page.waitForFunction("document.getElementById('outcome').textContent !== 'pending'", undefined, { timeout: 15_000 });
      return (await page.textContent('#outcome')) ?? '';
    } finally {
      await page.close();
    }
  };

  t.equal(await outcome(allowedOrigin, `${api}/data`, true), 'ok 200 count=3',
    'allowed origin, bearer token (preflighted): the fetch succeeds and reads an exposed header');
  t.equal(await outcome(allowedOrigin, `${api}/data`, false), 'ok 401 count=null',
    'allowed origin without a token: the page can read the 401');
  const reached = dyno.seen.length;
  const other = `http://other.localtest:${pagePort}`;
  t.equal(await outcome(other, `${api}/data`, true), 'error TypeError', 'another origin, preflighted: the fetch fails');
  t.equal(dyno.seen.length, reached, 'its preflight was refused by the router, nothing reached the dyno');
  t.equal(await outcome(other, `${api}/public/info`, false), 'error TypeError', 'another origin, simple GET: the browser withholds the response');
  t.equal(await outcome(allowedOrigin, `${api}/public/info`, false), 'ok 200 count=3', 'the same simple GET from the allowed origin succeeds');
});
