// The abort line reaches BOTH apps' streams on a real log shuttle (DESIGN.md "Canary": "an
// at=error code=canary_abort … line to both apps' streams"): the router (2 workers) ships its
// lines to the shuttle's msgpack ingest, and each app's tail (GET /apps/<app>/logs) shows it.
// Canary-served access lines are in the canary app's stream, the others in production's.
import t from 'tap';
import { request } from 'undici';
import { baseConfig, startDyno, startRouter, until, writeConfig } from '../../support/router-harness.js';
import { startShuttle } from '../../logshuttle/helpers/shuttle-process.js';
import { httpRequest } from '../../logshuttle/helpers/http-client.js';

const TAIL_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (\S+) akkeris\/router: (.*)$/;

t.test('the abort line is in the production app\'s and the canary app\'s tails', async (t) => {
  const shuttle = await startShuttle(t, { listen: { ingest: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 } } });
  const prod = await startDyno((_q, s) => s.end('prod'));
  const broken = await startDyno((_q, s) => { s.statusCode = 500; s.end('canary broke'); });
  t.teardown(() => Promise.all([prod.close(), broken.close()]));
  const router = await startRouter(writeConfig(baseConfig({
    workers: 2,
    logshuttle: `tcp://127.0.0.1:${shuttle.ports.ingest}`,
    apps: {
      'api-prod': { dynos: [prod.address], canary: { app: 'api-canary', weight: 30, abort: { minRequests: 20, confidence: 0.99, statuses: '5xx' } } },
      'api-canary': { dynos: [broken.address] },
    },
  })));
  t.teardown(() => router.stop());

  const tail = async (app: string): Promise<string[]> => {
    const r = await httpRequest(`${shuttle.base}/apps/${app}/logs?lines=1500`);
    return r.status === 200 ? r.body.split('\n').filter((l) => l !== '') : [];
  };

  for (let i = 0; i < 300; i++) {
    const res = await request(router.url(`/r/${i}`), { headers: { host: 'api-prod.example.io' } });
    await res.body.dump();
  }
  const isAbort = (l: string): boolean => l.includes(' akkeris/router: at=error code=canary_abort ');
  await until(async () => (await tail('api-prod')).some(isAbort) && (await tail('api-canary')).some(isAbort), 20000, 'the abort line in both tails');
  await until(async () => (await tail('api-prod')).some((l) => l.includes(' path=/r/299 ')), 20000, 'the last request\'s line');

  const prodLines = await tail('api-prod');
  const canaryLines = await tail('api-canary');
  const prodAbort = prodLines.filter(isAbort);
  const canaryAbort = canaryLines.filter(isAbort);
  t.equal(prodAbort.length, 1, 'one abort line in api-prod\'s stream');
  t.equal(canaryAbort.length, 1, 'one abort line in api-canary\'s stream');
  const [, prodApp, prodMessage] = TAIL_LINE.exec(prodAbort[0])!;
  const [, canaryApp, canaryMessage] = TAIL_LINE.exec(canaryAbort[0])!;
  t.equal(prodApp, 'api-prod');
  t.equal(canaryApp, 'api-canary');
  t.equal(canaryMessage, prodMessage, 'the same line in both streams');
  t.match(prodMessage, /^at=error code=canary_abort desc="Canary aborted" app=api-prod canary=api-canary canary_requests=\d+ canary_errors=\d+ canary_rate=(1\.0000|0\.9\d{3}) production_requests=\d+ production_errors=0 production_rate=0\.0000 weight=30 confidence=0\.99$/);
  // 2 workers: the other one may be between counting a request and counting its error
  const [requests, errors] = [/canary_requests=(\d+)/, /canary_errors=(\d+)/].map((re) => Number(re.exec(prodMessage)![1]));
  t.ok(errors >= 20 && requests - errors <= 1, `every counted canary request failed (${errors}/${requests})`);

  const access = (lines: string[]): string[] => lines.filter((l) => l.includes(' akkeris/router: at=info '));
  t.ok(access(canaryLines).length >= 20, `${access(canaryLines).length} canary-served lines`);
  t.ok(access(canaryLines).every((l) => l.includes(' status=500 ') && l.includes(' canary=true')), 'the canary app\'s stream has the canary-served lines');
  t.ok(access(prodLines).every((l) => l.includes(' status=200 ') && !l.includes('canary=true')), 'production\'s stream has only its own');
  t.equal(access(canaryLines).length + access(prodLines).length, 300, 'every request has its line in one of the two streams');
});
