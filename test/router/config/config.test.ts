import t from 'tap';
import { runRouterOnce, writeConfig } from '../../support/router-harness.js';

t.test('a bad config lists every problem with its field, exits 2, starts nothing', async (t) => {
  const file = writeConfig({
    domain: 'example.io',
    listen: { http: { host: '127.0.0.1', port: 'eighty' }, https: { host: '127.0.0.1', port: 0 } },
    bogus: true,
    apps: {
      a: { dynos: ['not a dyno'], filters: [{ filter: 'missing' }], canary: { app: 'ghost', weight: 10 } },
      b: { dynos: [], colour: 'blue' },
    },
    sites: { 'www.example.com': { routes: [{ path: '/x', app: 'nobody' }, { path: 'relative', app: 'a' }] } },
  });
  const r = await runRouterOnce(['--config', file]);
  t.equal(r.code, 2);
  for (const field of ['listen.http.port', 'bogus: unknown key', 'apps.a.dynos[0]', 'apps.b.colour: unknown key',
    'apps.a.filters[0].filter', 'apps.a.canary.app', 'sites.www.example.com.routes[0].app', 'sites.www.example.com.routes[1].path',
    'listen.https: needs at least one entry in certificates']) {
    t.match(r.stderr, field, `names ${field}`);
  }
  t.equal(r.stdout, '');
});

t.test('malformed JSON and a missing file are clear errors with exit 2', async (t) => {
  const bad = await runRouterOnce(['--config', writeConfig('{ "domain": ')]);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /not valid JSON/);
  const missing = await runRouterOnce(['--config', '/nonexistent/router.json']);
  t.equal(missing.code, 2);
  t.match(missing.stderr, /cannot read file: ENOENT/);
});

t.test('bad command line: exit 2 with usage', async (t) => {
  const none = await runRouterOnce([]);
  t.equal(none.code, 2);
  t.match(none.stderr, /--config is required/);
  const unknown = await runRouterOnce(['--config', 'x', '--frobnicate']);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /usage: edgeplane-router/);
});
