import t from 'tap';
import { baseConfig, deadAddress, parseRawResponse, startDyno, startRouter, writeConfig, type Dyno, type RunningRouter } from '../../support/router-harness.js';
import { rawSend } from '../hostile/support/raw-client.js';

// When an app has a CORS filter, the router owns CORS wherever the filter applies: the dyno's own
// Access-Control-* response headers are dropped (a browser must never see two allow-origins, or
// the dyno's `*` for an origin the filter refused), and `Vary: Origin` is on every response the
// filter covered, errors included. On paths outside the filter's scope (`excludes`) the filter
// does not run: the dyno's CORS headers pass untouched and the router adds no Vary.

const ALLOWED = 'https://www.example.com';

let router: RunningRouter;
let dyno: Dyno;

t.before(async () => {
  dyno = await startDyno((req, res) => {
    res.writeHead(200, {
      'content-type': 'text/plain',
      'access-control-allow-origin': '*',
      'access-control-allow-credentials': 'true',
      'access-control-expose-headers': 'x-dyno-secret',
      'access-control-max-age': '99999',
      'x-dyno-secret': 'shh',
      vary: 'Accept-Encoding',
    });
    res.end(`dyno saw ${req.method} ${req.url}`);
  });
  router = await startRouter(writeConfig(baseConfig({
    apps: {
      web: { dynos: [dyno.address], filters: [{ filter: 'web-cors', excludes: ['/legacy'] }] },
      down: { dynos: [await deadAddress()], filters: [{ filter: 'web-cors' }] },
      plain: { dynos: [dyno.address] },
    },
    filters: {
      'web-cors': { type: 'cors', allow_origins: [ALLOWED], allow_methods: ['GET', 'POST'], allow_headers: ['content-type'],
        expose_headers: ['x-total-count'], max_age: 600, allow_credentials: false },
    },
  })));
});
t.teardown(async () => {
  await router?.stop();
  await dyno?.close();
});

async function call(host: string, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; all: (name: string) => string[] }> {
  let head = `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  const got = await rawSend(router.ports.http, `${head}\r\n`);
  const res = parseRawResponse(got.text);
  return { status: res.status, all: (name) => res.headers.filter((h) => h[0] === name).map((h) => h[1]) };
}

const varies = (values: string[]): string[] => values.flatMap((v) => v.split(',').map((s) => s.trim().toLowerCase()));

t.test('an allowed origin: exactly the router\'s CORS headers, none of the dyno\'s', async (t) => {
  const r = await call('web.example.io', '/api', { origin: ALLOWED });
  t.equal(r.status, 200);
  t.same(r.all('access-control-allow-origin'), [ALLOWED], 'one allow-origin: the exact origin');
  t.same(r.all('access-control-expose-headers'), ['x-total-count'], "the filter's expose list only");
  t.same(r.all('access-control-allow-credentials'), [], 'no credentials (the filter says false; the dyno said true)');
  t.same(r.all('access-control-max-age'), [], "the dyno's max-age dropped");
  t.ok(varies(r.all('vary')).includes('origin'), 'Vary: Origin');
  t.ok(varies(r.all('vary')).includes('accept-encoding'), "the dyno's own Vary kept");
  t.same(r.all('x-dyno-secret'), ['shh'], 'other headers untouched');
});

t.test('a refused origin: no allow-origin at all (not the dyno\'s *), Vary: Origin', async (t) => {
  const r = await call('web.example.io', '/api', { origin: 'https://evil.example.net' });
  t.equal(r.status, 200, 'the request itself goes on (CORS is enforced by the browser)');
  t.same(r.all('access-control-allow-origin'), []);
  t.same(r.all('access-control-allow-credentials'), []);
  t.same(r.all('access-control-expose-headers'), []);
  t.ok(varies(r.all('vary')).includes('origin'));
});

t.test('no Origin header: no CORS headers, Vary: Origin still', async (t) => {
  const r = await call('web.example.io', '/api');
  t.same(r.all('access-control-allow-origin'), []);
  t.ok(varies(r.all('vary')).includes('origin'), 'a cache must not reuse this answer for a cross-origin request');
});

t.test('a preflight is answered by the router; the dyno never sees it', async (t) => {
  const before = dyno.hits;
  const r = await call('web.example.io', '/api', { origin: ALLOWED, 'access-control-request-method': 'POST' }, 'OPTIONS');
  t.equal(r.status, 204);
  t.same(r.all('access-control-allow-origin'), [ALLOWED]);
  t.same(r.all('access-control-allow-methods'), ['GET, POST']);
  t.same(r.all('access-control-max-age'), ['600']);
  t.ok(varies(r.all('vary')).includes('origin'));
  t.equal(dyno.hits, before);
});

t.test('errors carry the CORS headers too (a browser can read the 503)', async (t) => {
  const r = await call('down.example.io', '/api', { origin: ALLOWED });
  t.equal(r.status, 503);
  t.same(r.all('access-control-allow-origin'), [ALLOWED]);
  t.ok(varies(r.all('vary')).includes('origin'));
});

t.test('outside the filter\'s scope the dyno keeps its own CORS headers and the router adds no Vary', async (t) => {
  const r = await call('web.example.io', '/legacy/feed', { origin: 'https://evil.example.net' });
  t.equal(r.status, 200);
  t.same(r.all('access-control-allow-origin'), ['*'], "the dyno's own answer");
  t.same(r.all('access-control-max-age'), ['99999']);
  t.same(varies(r.all('vary')), ['accept-encoding'], 'only the dyno\'s Vary');
});

t.test('an app without a CORS filter: the dyno\'s CORS headers pass untouched', async (t) => {
  const r = await call('plain.example.io', '/api', { origin: 'https://evil.example.net' });
  t.same(r.all('access-control-allow-origin'), ['*']);
  t.same(r.all('access-control-allow-credentials'), ['true']);
});
