import t from 'tap';
import fc from 'fast-check';
import { Client } from 'undici';
import { baseConfig, echoDyno, startRouter, writeConfig, type Dyno, type RunningRouter } from '../support/router-harness.js';
import { refCovers, refMatch, refNormalise, type RefRoute } from './path-reference.js';
import { runs, SEED } from './fuzz-params.js';

/**
 * The same properties as path-routing.test.ts, through the built router on a socket: random
 * spellings with query strings reach the dyno as the reference says (normalised, rewritten,
 * query kept), and the CORS filter (visible as `Vary: Origin`) runs exactly where its scope says.
 */

const ROUTES: RefRoute[] = [
  { path: '/', app: 'a0' },
  { path: '/v3/api', app: 'a1', target: '/api' },
  { path: '/Admin/', app: 'a2', target: '/' },
  { path: '/x%2Fy', app: 'a2', target: '/slash' },
];
const SCOPES: Record<string, { excludes?: string[]; includes?: string[] }> = {
  a0: { includes: ['/private'] },
  a1: { excludes: ['/api/health', '/api/%7Epublic'] },
  a2: {},
};

const TOKENS = ['v3', 'V3', 'api', 'API', '%61pi', 'health', 'HEALTH', 'Admin', 'admin', 'private', '%70rivate', 'x%2Fy', 'x%2fy', '~public', '%7Epublic',
  'users', '.', '..', '%2E', '%2e%2E', '.%2e', '%', '%%32%45', '%25', '%252E', 'a.b', '%3A', ':', '@', '!', '$', ';', '='];
const path = fc.tuple(fc.array(fc.tuple(fc.constantFrom('/', '/', '//'), fc.constantFrom(...TOKENS)), { maxLength: 6 }), fc.boolean())
  .map(([parts, trailing]) => (parts.length === 0 ? '/' : parts.map(([s, x]) => s + x).join('') + (trailing ? '/' : '')));
const query = fc.option(fc.string({ unit: fc.constantFrom('a', 'B', '1', '=', '&', '%', '2', 'E', '.', '/', '?', '+'), maxLength: 12 }), { nil: undefined });

let router: RunningRouter;
const dynos: Dyno[] = [];

t.before(async () => {
  for (const name of ['a0', 'a1', 'a2']) dynos.push(await echoDyno(name));
  const filtered = (app: string): { filters: Record<string, unknown>[] } => ({ filters: [{ filter: 'cors', ...SCOPES[app] }] });
  router = await startRouter(writeConfig(baseConfig({
    apps: Object.fromEntries(['a0', 'a1', 'a2'].map((a, i) => [a, { dynos: [dynos[i].address], ...(a === 'a2' ? {} : filtered(a)) }])),
    sites: { 'www.example.com': { routes: ROUTES } },
    filters: { cors: { type: 'cors', allow_origins: ['https://x.example'] } },
  })));
});
t.teardown(async () => {
  await router?.stop();
  for (const d of dynos) await d.close();
});

t.test('spellings with query strings reach the dyno normalised, rewritten, query kept, filter scope honoured', async (t) => {
  const client = new Client(`http://127.0.0.1:${router.ports.http}`);
  t.teardown(() => client.close());
  const cases = fc.sample(fc.tuple(path, query), { seed: SEED, numRuns: runs(300) });
  let checked = 0;
  for (const [p, q] of cases) {
    const target = p + (q === undefined ? '' : `?${q}`);
    const res = await client.request({ method: 'GET', path: target, headers: { host: 'www.example.com', origin: 'https://x.example' } });
    const body = await res.body.text();
    const want = refMatch(ROUTES, refNormalise(p))!;
    const where = `GET ${target}`;
    if (res.statusCode !== 200) {
      t.fail(`${where}: status ${res.statusCode} ${body.slice(0, 80)}`);
      continue;
    }
    const echo = JSON.parse(body) as { dyno: string; url: string; headers: Record<string, string> };
    // a bare '?' (empty query) is passed on as written
    const wantUrl = want.path + (q === undefined ? '' : `?${q}`);
    if (echo.dyno !== want.app || echo.url !== wantUrl) {
      t.fail(`${where}: dyno ${echo.dyno} got ${echo.url}, reference ${want.app} ${wantUrl}`);
      continue;
    }
    const filterRan = /origin/i.test(String(res.headers.vary ?? ''));
    const scope = SCOPES[want.app];
    const should = want.app !== 'a2' && refCovers(want.path, scope.excludes, scope.includes);
    if (filterRan !== should) {
      t.fail(`${where} -> ${want.app} ${want.path}: filter ${filterRan ? 'ran' : 'skipped'}, scope says ${should ? 'run' : 'skip'}`);
      continue;
    }
    checked++;
  }
  t.equal(checked, cases.length, `${cases.length} requests (seed ${SEED}) routed, rewritten and scoped as the reference says`);
});
