import t from 'tap';
import { baseConfig, startRouter, writeConfig, type RunningRouter } from '../../support/router-harness.js';
import { rawSend } from './support/raw-client.js';
import { startRecordingDyno, type RecordingDyno } from './support/recording-dyno.js';

// Path spellings a dyno stack may read differently from the router (docs/router/path-options.md):
// `..;` (Java servlet containers: `..`), `\` (some servers: `/`), `%2F` (some servers decode it).
// Under `keep` (the contract) they reach the dyno as written; `reject` answers 400 before any
// filter; `decode` / `strip` read them as that stack would before routing. Top-level options are
// each app's defaults; an app's own keys win.

let router: RunningRouter;
/** one recording dyno per app: what reached which app */
const dynos: Record<string, RecordingDyno> = {};
const APPS = ['legacy', 'plain', 'strict', 'java', 'private'] as const;

t.before(async () => {
  for (const a of APPS) dynos[a] = await startRecordingDyno();
  router = await startRouter(writeConfig(baseConfig({
    paths: { backslashes: 'reject' },
    apps: {
      legacy: { dynos: [dynos.legacy.address], paths: { backslashes: 'keep' } },
      plain: { dynos: [dynos.plain.address] },
      strict: { dynos: [dynos.strict.address], paths: { escaped_slashes: 'reject', dot_segment_params: 'reject' } },
      java: { dynos: [dynos.java.address], paths: { escaped_slashes: 'decode', backslashes: 'decode', dot_segment_params: 'strip' } },
      private: { dynos: [dynos.private.address], paths: { backslashes: 'keep' } },
    },
    sites: {
      'www.example.com': { routes: [{ path: '/public', app: 'legacy' }, { path: '/private', app: 'private' }] },
      'java.example.com': { routes: [{ path: '/public', app: 'java' }, { path: '/private', app: 'private' }] },
    },
  })));
});
t.teardown(async () => {
  await router?.stop();
  for (const d of Object.values(dynos)) await d.close();
});

/** where a request went: the app whose dyno saw it and the target it got, or the refusal */
async function send(host: string, path: string, id: string): Promise<{ status: number; text: string; app?: string; target?: string }> {
  const got = await rawSend(router.ports.http, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nX-Request-Id: ${id}\r\n\r\n`, { untilClose: false });
  for (const [app, d] of Object.entries(dynos)) {
    const r = d.seen.find((x) => d.header(x, 'x-request-id') === id);
    if (r !== undefined) return { status: got.status, text: got.text, app, target: r.target };
  }
  return { status: got.status, text: got.text };
}

const SPELLINGS = ['/public/..;/private', '/public/..\\private', '/public/..%2Fprivate', '/public/..%5cprivate', '/public/.;/x'];

t.test('keep (the contract): every spelling reaches the public app as written', async (t) => {
  for (const [i, path] of SPELLINGS.entries()) {
    const r = await send('www.example.com', path, `keep-${i}`);
    t.equal(r.status, 200, `${path}: served`);
    t.equal(r.app, 'legacy', `${path}: by the /public app`);
    t.equal(r.target, path.replace('%5c', '%5C'), `${path}: the dyno gets it as written (hex upper-cased)`);
  }
});

t.test('reject: 400 before any filter or dyno, with a code per spelling', async (t) => {
  const cases: [string, string, string, RegExp][] = [
    ['strict.example.io', '/public/..;/private', 'E_DOT_SEGMENT_PARAMS', /Dot segment with parameters in the path\n$/],
    ['strict.example.io', '/a/%2e%2e;x/b', 'E_DOT_SEGMENT_PARAMS', /Dot segment with parameters/],
    ['strict.example.io', '/public/..%2Fprivate', 'E_ESCAPED_SLASH', /Escaped slash or backslash in the path\n$/],
    ['strict.example.io', '/public/..%5cprivate', 'E_ESCAPED_SLASH', /Escaped slash or backslash/],
    // from the top-level options
    ['strict.example.io', '/public/..\\private', 'E_BACKSLASH', /Backslash in the path\n$/],
    ['plain.example.io', '/a\\b', 'E_BACKSLASH', /Backslash in the path\n$/],
  ];
  for (const [i, [host, path, code, body]] of cases.entries()) {
    const id = `reject-${i}`;
    const r = await send(host, path, id);
    t.equal(r.status, 400, `${host}${path}: 400`);
    t.match(r.text, body, `${host}${path}: the reason`);
    t.equal(r.app, undefined, `${host}${path}: no dyno reached`);
    t.match(await router.waitForLine((l) => l.includes(` request_id=${id} `)), new RegExp(`^at=info code=${code} `), `${host}${path}: logged ${code}`);
  }
  const fine = await send('plain.example.io', '/public/..;/x%2Fy', 'reject-none');
  t.equal(fine.target, '/public/..;/x%2Fy', 'the options an app does not set stay keep');
});

t.test('decode and strip: the path is read as a Java or Windows-minded stack would, then normalised and routed', async (t) => {
  const cases: [string, string][] = [
    ['/x/..;/y', '/y'],
    ['/x/.;/y', '/x/y'],
    ['/x/..\\y', '/y'],
    ['/x/..%2Fy', '/y'],
    ['/a%2fb%5Cc', '/a/b/c'],
    ['/a/..;jsessionid=1/b;jsessionid=1', '/b;jsessionid=1'],
  ];
  for (const [i, [path, target]] of cases.entries()) {
    const r = await send('java.example.io', path, `decode-${i}`);
    t.equal(r.status, 200, `${path}: served`);
    t.same([r.app, r.target], ['java', target], `${path}: the java app gets ${target}`);
  }
});

t.test('a site: the matched app\'s options apply; a spelling that then means another app is refused', async (t) => {
  const within = await send('java.example.com', '/public/a/..;/b', 'site-within');
  t.same([within.status, within.app, within.target], [200, 'java', '/public/b'], 'stays within the app: routed, stripped');
  for (const [i, path] of ['/public/..;/private', '/public/..%2Fprivate', '/public/..\\private'].entries()) {
    const id = `site-escape-${i}`;
    const r = await send('java.example.com', path, id);
    t.equal(r.status, 400, `${path}: 400`);
    t.match(r.text, /Path routes elsewhere under its app's path options\n$/);
    t.equal(r.app, undefined, `${path}: neither app reached`);
    t.match(await router.waitForLine((l) => l.includes(` request_id=${id} `)), /^at=info code=E_PATH_REROUTED /);
  }
  const direct = await send('java.example.com', '/private/x', 'site-direct');
  t.same([direct.status, direct.app, direct.target], [200, 'private', '/private/x'], 'the private route itself is served');
});
