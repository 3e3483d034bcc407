// The split happens AFTER the production app's filters (DESIGN.md "Canary"): a request
// a filter answers itself (JWT 401/403, CORS preflight 204/403) never reaches either side and
// never counts toward the canary. Through the real router process with a real JWKS server.
import t from 'tap';
import { request } from 'undici';
import { baseConfig, startDyno, startRouter, until, writeConfig, type Dyno, type RunningRouter } from '../../support/router-harness.js';
import { JwksServer } from '../filters/support/jwks-server.js';
import { AUDIENCE, ISSUER, makeKey, mint, type TestKey } from '../filters/support/tokens.js';

const PAGE = 'https://www.example.com';
let router: RunningRouter;
let prod: Dyno;
let canaryDyno: Dyno;
let jwks: JwksServer;
let key: TestKey;

t.before(async () => {
  jwks = await new JwksServer().start();
  key = await makeKey('ES256');
  jwks.keys = [key.jwk]; // before the router starts: it fetches the key set at config load
  prod = await startDyno((_q, s) => s.end('prod'));
  canaryDyno = await startDyno((_q, s) => s.end('canary'));
  router = await startRouter(writeConfig(baseConfig({
    workers: 2,
    apps: {
      // 4xx+5xx and minRequests 1: if refused requests were counted on the canary side,
      // their 401s would be canary errors and abort it within a few requests
      'api-prod': {
        dynos: [prod.address],
        filters: [{ filter: 'auth' }, { filter: 'web-cors' }],
        canary: { app: 'api-canary', weight: 50, abort: { minRequests: 1, confidence: 0.99, statuses: '4xx+5xx' } },
      },
      'api-canary': { dynos: [canaryDyno.address] },
    },
    filters: {
      auth: { type: 'jwt', jwks_uri: jwks.uri, issuer: ISSUER, audiences: [AUDIENCE] },
      'web-cors': { type: 'cors', allow_origins: [PAGE], allow_methods: ['GET', 'POST'], allow_headers: ['authorization'] },
    },
  })));
});
t.teardown(async () => {
  await router?.stop();
  await Promise.all([prod?.close(), canaryDyno?.close(), jwks?.stop()]);
});

async function get(headers: Record<string, string>, method: 'GET' | 'OPTIONS' = 'GET'): Promise<{ status: number; body: string }> {
  const res = await request(router.url('/items'), { method, headers: { host: 'api-prod.example.io', ...headers } });
  return { status: res.statusCode, body: await res.body.text() };
}

async function canaries(): Promise<any[]> {
  const res = await request(`http://127.0.0.1:${router.ports.admin}/canaries`);
  return (await res.body.json()) as any[];
}

t.test('requests a filter refuses or answers never reach the split; the rest are split and counted', async (t) => {
  const good = { authorization: `Bearer ${await mint(key)}` };
  const wrongAudience = { authorization: `Bearer ${await mint(key, { aud: 'other' })}` };

  const refused: number[] = [];
  for (let i = 0; i < 40; i++) {
    refused.push((await get({})).status); // no token
    refused.push((await get({ authorization: 'Bearer not.a.token' })).status);
    refused.push((await get(wrongAudience)).status);
    refused.push((await get({ origin: 'https://evil.example', 'access-control-request-method': 'POST' }, 'OPTIONS')).status);
    refused.push((await get({ origin: PAGE, 'access-control-request-method': 'POST' }, 'OPTIONS')).status);
  }
  t.same([...new Set(refused)].sort(), [204, 401, 403], 'answered by the filters: 401 (JWT), 403 (audience, CORS), 204 (preflight)');
  t.equal(prod.hits + canaryDyno.hits, 0, 'no dyno saw any of them');

  const served: string[] = [];
  for (let i = 0; i < 200; i++) {
    const r = await get(good);
    t.equal(r.status, 200);
    served.push(r.body);
  }
  const toCanary = served.filter((b) => b === 'canary').length;
  t.ok(toCanary > 50 && toCanary < 150, `the split works for requests that pass (${toCanary} of 200 at weight 50)`);

  // a worker records a request when it finishes, just after the client has its answer
  await until(async () => {
    const c = (await canaries())[0].counts;
    return c.canary.requests + c.production.requests >= 200;
  }, 10000, 'the last request counted');
  const [entry] = await canaries();
  t.equal(entry.state, 'active', 'not aborted by the 401s and 403s the filters answered');
  t.same(entry.counts, {
    canary: { requests: toCanary, errors: 0 },
    production: { requests: 200 - toCanary, errors: 0 },
  }, 'only the 200 requests that passed the filters are counted, each on the side that served it');
  t.equal(canaryDyno.hits, toCanary);
  t.equal(prod.hits, 200 - toCanary);

  const refusedLines = router.lines.filter((l) => / status=(401|403|204) /.test(l));
  t.equal(refusedLines.length, 200, 'each refused request has its line');
  t.notOk(refusedLines.some((l) => l.includes('canary=true')), 'none of them was canary-served');
});
