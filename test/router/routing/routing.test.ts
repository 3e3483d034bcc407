import t from 'tap';
import { request } from 'undici';
import { baseConfig, echoDyno, startRouter, writeConfig, type Dyno, type RunningRouter } from '../../support/router-harness.js';

let router: RunningRouter;
let ui: Dyno;
let api: Dyno;

t.before(async () => {
  ui = await echoDyno('ui');
  api = await echoDyno('api');
  router = await startRouter(writeConfig(baseConfig({
    apps: { 'ui-prod': { dynos: [ui.address] }, 'api-prod': { dynos: [api.address] } },
    sites: {
      'www.example.com': { routes: [
        { path: '/', app: 'ui-prod', target: '/' },
        { path: '/v3/api', app: 'api-prod', target: '/api' },
        { path: '/root-api/', app: 'api-prod', target: '/' },
      ] },
      'docs.example.com': { routes: [{ path: '/guide', app: 'ui-prod', target: '/docs' }] },
    },
  })));
});
t.teardown(async () => {
  await router?.stop();
  await ui?.close();
  await api?.close();
});

async function get(host: string, path: string): Promise<{ status: number; dyno?: string; url?: string }> {
  const res = await request(router.url(path), { headers: { host } });
  const text = await res.body.text();
  if (res.statusCode !== 200) return { status: res.statusCode };
  const j = JSON.parse(text) as { dyno: string; url: string };
  return { status: res.statusCode, dyno: j.dyno, url: j.url };
}

t.test('app host routes the whole path without rewrite', async (t) => {
  t.same(await get('api-prod.example.io', '/users/7?x=1'), { status: 200, dyno: 'api', url: '/users/7?x=1' });
});

t.test('host matching ignores case, port and a trailing dot', async (t) => {
  t.same(await get('API-PROD.Example.IO:8080', '/a'), { status: 200, dyno: 'api', url: '/a' });
  t.same(await get('api-prod.example.io.', '/a'), { status: 200, dyno: 'api', url: '/a' });
  t.same(await get('WWW.EXAMPLE.COM.:443', '/v3/api/x'), { status: 200, dyno: 'api', url: '/api/x' });
});

t.test('site rewrite table', async (t) => {
  const cases: [string, string, string][] = [
    ['/v3/api/users?x=1', 'api', '/api/users?x=1'],
    ['/v3/api', 'api', '/api'],
    ['/v3/api/', 'api', '/api/'],
    ['/V3/API/Users', 'api', '/api/Users'],
    ['/v3/apix', 'ui', '/v3/apix'],
    ['/v3', 'ui', '/v3'],
    ['/', 'ui', '/'],
    ['/root-api/x', 'api', '/x'],
    ['/root-api', 'api', '/'],
    ['/root-api/', 'api', '/'],
  ];
  for (const [path, dyno, url] of cases) {
    t.same(await get('www.example.com', path), { status: 200, dyno, url }, path);
  }
});

t.test('normalisation happens before matching: no spelling escapes a route', async (t) => {
  const cases: [string, string, string][] = [
    ['/v3/api/../admin', 'ui', '/v3/admin'],
    ['/v3/api/%2E%2E/admin', 'ui', '/v3/admin'],
    ['/v3/api/%2e%2e/%2e%2e/etc', 'ui', '/etc'],
    ['/v3//api//users', 'api', '/api/users'],
    ['/v3/./api/./x', 'api', '/api/x'],
    ['/x/../v3/api/y', 'api', '/api/y'],
    ['/v3/%61pi/y', 'api', '/api/y'],
    ['/v3%2Fapi/y', 'ui', '/v3%2Fapi/y'],
    ['/../../v3/api/z', 'api', '/api/z'],
  ];
  for (const [path, dyno, url] of cases) {
    t.same(await get('www.example.com', path), { status: 200, dyno, url }, path);
  }
});

t.test('unknown host and unknown path answer 404', async (t) => {
  t.equal((await get('nope.example.io', '/')).status, 404);
  t.equal((await get('example.io', '/')).status, 404);
  t.equal((await get('docs.example.com', '/other')).status, 404);
  t.equal((await get('docs.example.com', '/guidex')).status, 404);
  t.same(await get('docs.example.com', '/guide/a'), { status: 200, dyno: 'ui', url: '/docs/a' });
  t.same(await get('docs.example.com', '/guide/../guide/b'), { status: 200, dyno: 'ui', url: '/docs/b' });
  t.equal((await get('docs.example.com', '/guide/../other')).status, 404);
});

t.test('each proxied request writes one router log line', async (t) => {
  const res = await request(router.url('/v3/api/logged?q=1'), { headers: { host: 'www.example.com', 'x-request-id': 'rid-logged-1' } });
  await res.body.text();
  const line = await router.waitForLine((l) => l.includes('request_id=rid-logged-1'));
  t.match(line, /^at=info method=GET path=\/v3\/api\/logged\?q=1 host=www\.example\.com request_id=rid-logged-1 fwd="127\.0\.0\.1" dyno=127\.0\.0\.1:\d+ connect=\d+ms service=\d+ms total=\d+ms status=200 bytes=\d+ protocol=http$/);
});
