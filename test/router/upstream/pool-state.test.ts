import t from 'tap';
import { baseConfig, startDyno, startRawDyno, startRouter, until, writeConfig } from '../../support/router-harness.js';
import { putConfig } from '../support/admin-client.js';
import { get } from '../support/http-get.js';

// Upstream pool state survives a reload: dynos still named keep their ejection state
// and their keep-alive connections; a request in flight finishes on the table it started with,
// even when the new config drops its app and dyno. One worker, so that one pool is observed.

const ok = (name: string) => startDyno((_req, res) => res.end(name));

t.test('a dyno ejected before a reload is still ejected after it', async (t) => {
  // a dyno that accepts and closes at once: every request to it fails (and ejects it longer)
  const bad = await startRawDyno((sock) => sock.destroy());
  const good = await ok('good');
  const router = await startRouter(writeConfig(baseConfig({ apps: { web: { dynos: [bad.address] } } })));
  t.teardown(async () => {
    await router.stop();
    await bad.close();
    await good.close();
  });
  // alone, the bad dyno is tried by every request (never all ejected), and each failure doubles
  // its ejection: 1, 2, 4, 8, 16, then 30 s
  for (let i = 0; i < 6; i++) t.equal((await get(router.ports.http, 'web.example.io')).status, 503, `failure ${i + 1}`);
  const tried = bad.connections;
  t.ok(tried >= 6, `the bad dyno was tried (${tried} connections)`);

  // the reload keeps the bad dyno, adds a good one next to it and another app
  const put = await putConfig(router.ports.admin, baseConfig({ apps: { web: { dynos: [bad.address, good.address] }, extra: { dynos: [good.address] } } }));
  t.equal(put.status, 200, put.body);
  for (let i = 0; i < 6; i++) {
    const r = await get(router.ports.http, 'web.example.io');
    t.equal(r.status, 200);
    t.equal(r.body, 'good');
  }
  t.equal(bad.connections, tried, 'a fresh pool would have tried the bad dyno first; the ejected one was skipped');
  const served = (): string[] => router.lines.filter((l) => l.includes('host=web.example.io') && l.includes('status=200'));
  await until(() => served().length >= 6, 10000, 'six access lines');
  const lines = served();
  t.equal(lines.length, 6);
  for (const l of lines) t.match(l, `dyno=${good.address}`, 'access lines name the good dyno');
});

t.test('keep-alive connections to an unchanged dyno are reused across reloads', async (t) => {
  const dyno = await ok('d');
  dyno.server.keepAliveTimeout = 60000;
  let connections = 0;
  dyno.server.on('connection', () => connections++);
  const a = baseConfig({ apps: { web: { dynos: [dyno.address] } } });
  const b = baseConfig({ apps: { web: { dynos: [dyno.address] }, other: { dynos: [dyno.address] } }, sites: { 'www.example.com': { routes: [{ path: '/', app: 'other' }] } } });
  const router = await startRouter(writeConfig(a));
  t.teardown(async () => {
    await router.stop();
    await dyno.close();
  });
  const burst = async (): Promise<void> => {
    for (let i = 0; i < 5; i++) t.equal((await get(router.ports.http, 'web.example.io')).status, 200);
  };
  await burst();
  t.equal(connections, 1, 'sequential requests share one connection');
  for (const next of [b, a, b]) {
    t.equal((await putConfig(router.ports.admin, next)).status, 200);
    await burst();
  }
  t.equal((await get(router.ports.http, 'www.example.com')).status, 200, 'the last reload took effect');
  t.equal(connections, 1, 'still the one connection after three reloads');
});

t.test('a request in flight finishes on its table although the reload drops its app and dyno', async (t) => {
  let release: () => void = () => undefined;
  const held = new Promise<void>((r) => (release = r));
  let arrived: () => void = () => undefined;
  const arrival = new Promise<void>((r) => (arrived = r));
  const slow = await startDyno((_req, res) => {
    arrived();
    void held.then(() => res.end('late but whole'));
  });
  const web = await ok('web');
  const router = await startRouter(writeConfig(baseConfig({ apps: { web: { dynos: [web.address] }, slow: { dynos: [slow.address] } } })));
  t.teardown(async () => {
    release();
    await router.stop();
    await slow.close();
    await web.close();
  });
  const inFlight = get(router.ports.http, 'slow.example.io', '/report');
  await arrival;
  const put = await putConfig(router.ports.admin, baseConfig({ apps: { web: { dynos: [web.address] } } }));
  t.equal(put.status, 200, 'the reload does not wait for the request');
  t.equal((await get(router.ports.http, 'slow.example.io')).status, 404, 'new requests see the new table');
  release();
  const r = await inFlight;
  t.equal(r.status, 200);
  t.equal(r.body, 'late but whole');
});
