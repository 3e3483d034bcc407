import t from 'tap';
import { baseConfig, startDyno, startRouter, writeConfig, type Dyno, type RunningRouter } from '../../support/router-harness.js';
import { admin } from '../support/admin-client.js';
import { get } from '../support/http-get.js';
import { parsePrometheus } from '../support/prometheus.js';

// The admin listener (DESIGN.md): /healthz, /readyz, GET|PUT /config, /metrics, /canaries; with
// ROUTER_ADMIN_TOKEN every route but /healthz and /readyz needs `Authorization: Bearer <token>`.

const TOKEN = 'edge-admin-token-1234';
let dyno: Dyno;
let router: RunningRouter;
let config: Record<string, unknown>;

t.before(async () => {
  dyno = await startDyno((_req, res) => res.end('ok'));
  config = baseConfig({ apps: { web: { dynos: [dyno.address] } } });
  router = await startRouter(writeConfig(config), [], { ROUTER_ADMIN_TOKEN: TOKEN });
});
t.teardown(async () => {
  await router?.stop();
  await dyno?.close();
});

const withOther = (): Record<string, unknown> => ({ ...config, apps: { web: { dynos: [dyno.address] }, other: { dynos: [dyno.address] } } });

const GUARDED: [string, string, () => string | undefined][] = [
  ['GET', '/config', () => undefined],
  ['PUT', '/config', () => JSON.stringify(withOther())],
  ['POST', '/config', () => JSON.stringify(withOther())],
  ['GET', '/metrics', () => undefined],
  ['GET', '/canaries', () => undefined],
  ['GET', '/no-such-route', () => undefined],
];

t.test('/healthz and /readyz need no token', async (t) => {
  for (const path of ['/healthz', '/readyz']) {
    const a = await admin(router.ports.admin, 'GET', path);
    t.equal(a.status, 200, path);
    const wrong = await admin(router.ports.admin, 'GET', path, { token: 'wrong' });
    t.equal(wrong.status, 200, `${path} ignores a wrong token`);
  }
  t.equal((await admin(router.ports.admin, 'GET', '/healthz')).body, 'ok\n');
  t.equal((await admin(router.ports.admin, 'GET', '/readyz')).body, 'ready\n');
});

t.test('every other route: 401 without a token or with a wrong one, and nothing changes', async (t) => {
  const before = await admin(router.ports.admin, 'GET', '/config', { token: TOKEN });
  const wrongs: [string, Record<string, string>][] = [
    ['no header', {}],
    ['wrong token', { authorization: 'Bearer not-the-token' }],
    ['the token with a suffix', { authorization: `Bearer ${TOKEN}x` }],
    ['a prefix of the token', { authorization: `Bearer ${TOKEN.slice(0, -1)}` }],
    ['Basic scheme', { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` }],
    ['the bare token', { authorization: TOKEN }],
    ['empty bearer', { authorization: 'Bearer ' }],
  ];
  for (const [method, path, body] of GUARDED) {
    for (const [what, headers] of wrongs) {
      const a = await admin(router.ports.admin, method, path, { headers, body: body() });
      t.equal(a.status, 401, `${method} ${path}, ${what}`);
      t.match(String(a.headers['www-authenticate']), /^Bearer /);
    }
  }
  const after = await admin(router.ports.admin, 'GET', '/config', { token: TOKEN });
  t.equal(after.headers['x-config-version'], before.headers['x-config-version'], 'the refused PUTs changed nothing');
  t.equal((await get(router.ports.http, 'other.example.io')).status, 404);
});

t.test('with the right token every route answers', async (t) => {
  const cfg = await admin(router.ports.admin, 'GET', '/config', { token: TOKEN });
  t.equal(cfg.status, 200);
  t.match(String(cfg.headers['content-type']), /^application\/json/);
  t.same(JSON.parse(cfg.body), config, 'the running document');
  t.match(String(cfg.headers['x-config-version']), /^[0-9a-f]{12}$/);

  const put = await admin(router.ports.admin, 'PUT', '/config', { token: TOKEN, body: JSON.stringify(withOther()) });
  t.equal(put.status, 200);
  const { version } = JSON.parse(put.body) as { version: string };
  t.match(version, /^[0-9a-f]{12}$/);
  t.not(version, cfg.headers['x-config-version']);
  t.equal((await get(router.ports.http, 'other.example.io')).status, 200, 'applied before the answer');
  const now = await admin(router.ports.admin, 'GET', '/config', { token: TOKEN });
  t.equal(now.headers['x-config-version'], version);
  t.same(JSON.parse(now.body), withOther());

  const metrics = await admin(router.ports.admin, 'GET', '/metrics', { token: TOKEN });
  t.equal(metrics.status, 200);
  t.match(String(metrics.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  t.ok(parsePrometheus(metrics.body).types.has('edgeplane_router_requests_total'));

  const canaries = await admin(router.ports.admin, 'GET', '/canaries', { token: TOKEN });
  t.equal(canaries.status, 200);
  t.same(JSON.parse(canaries.body), []);

  const lower = await admin(router.ports.admin, 'GET', '/canaries', { headers: { authorization: `bearer ${TOKEN}` } });
  t.equal(lower.status, 200, 'the scheme is case-insensitive');
  t.equal((await admin(router.ports.admin, 'GET', '/no-such-route', { token: TOKEN })).status, 404);
  t.equal((await admin(router.ports.admin, 'DELETE', '/config', { token: TOKEN })).status, 405);
});

t.test('PUT /config: 400 with every problem, whatever the content type; the old config stays', async (t) => {
  const running = (await admin(router.ports.admin, 'GET', '/config', { token: TOKEN })).headers['x-config-version'];
  const bad = JSON.stringify({
    domain: '',
    listen: { http: { host: '127.0.0.1', port: 70000 } },
    apps: { web: { dynos: ['nope'] } },
    sites: { 'www.example.com': { routes: [{ path: '/', app: 'ghost' }] } },
    colour: 'blue',
  });
  for (const type of [undefined, 'application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/octet-stream']) {
    const headers: Record<string, string> = type ? { 'content-type': type } : {};
    const a = await admin(router.ports.admin, 'PUT', '/config', { token: TOKEN, headers, body: bad });
    t.equal(a.status, 400, `content type ${type ?? '(none)'}`);
    const body = JSON.parse(a.body) as { error: string; problems: string[] };
    t.equal(body.error, 'E_CONFIG');
    const all = body.problems.join('\n');
    for (const field of ['domain', 'listen.http.port', 'apps.web.dynos', 'colour', 'sites.www.example.com.routes[0].app']) {
      t.ok(body.problems.some((p) => p.includes(field)), `names ${field}: ${all}`);
    }
  }
  for (const [what, text] of [['not JSON', '{"domain": "x",'], ['empty', ''], ['an array', '[]'], ['a string', '"config"']]) {
    const a = await admin(router.ports.admin, 'PUT', '/config', { token: TOKEN, body: text });
    t.equal(a.status, 400, what);
    const body = JSON.parse(a.body) as { error: string; problems: string[] };
    t.equal(body.error, 'E_CONFIG', what);
    t.ok(body.problems.length > 0, `${what}: ${body.problems.join('; ')}`);
  }
  t.equal((await admin(router.ports.admin, 'GET', '/config', { token: TOKEN })).headers['x-config-version'], running, 'unchanged');
  t.equal((await get(router.ports.http, 'web.example.io')).status, 200, 'the old table serves');
});

t.test('/readyz turns 503 while draining, /healthz stays 200', async (t) => {
  let release: () => void = () => undefined;
  const held = new Promise<void>((r) => (release = r));
  let arrived: () => void = () => undefined;
  const arrival = new Promise<void>((r) => (arrived = r));
  const slow = await startDyno((_req, res) => {
    arrived();
    void held.then(() => res.end('done'));
  });
  const r = await startRouter(writeConfig(baseConfig({ apps: { slow: { dynos: [slow.address] } } })), [], { ROUTER_ADMIN_TOKEN: TOKEN });
  t.teardown(async () => {
    release();
    await r.stop();
    await slow.close();
  });
  const inFlight = get(r.ports.http, 'slow.example.io');
  await arrival;
  r.proc.kill('SIGTERM');
  await new Promise<void>((resolve, reject) => {
    const poll = async (): Promise<void> => {
      try {
        const a = await admin(r.ports.admin, 'GET', '/readyz');
        if (a.status === 503) return resolve();
        setTimeout(() => void poll(), 25);
      } catch (err) {
        reject(err as Error);
      }
    };
    void poll();
  });
  t.pass('/readyz answered 503 while a request was in flight');
  t.equal((await admin(r.ports.admin, 'GET', '/readyz')).body, 'not ready\n');
  t.equal((await admin(r.ports.admin, 'GET', '/healthz')).status, 200);
  release();
  t.equal((await inFlight).body, 'done', 'the request in flight finished');
  t.equal(await r.stop(), 0);
});
