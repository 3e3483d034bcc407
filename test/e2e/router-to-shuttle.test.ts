import t from 'tap';
import { request } from 'undici';
import { baseConfig, echoDyno, privateLoopbackHost, startRouter, writeConfig, until } from '../support/router-harness.js';
import { startShuttle } from '../logshuttle/helpers/shuttle-process.js';
import { openTail } from '../logshuttle/helpers/http-client.js';
import { connectionsTo } from '../reliability/support/proc-sample.js';

// the shuttle comes back on its ingest port: on a loopback address of this test's own, where no
// other process can take the port while it is down
const INGEST_HOST = privateLoopbackHost();
const ALL = (ingest: number) => ({
  ingest: { host: INGEST_HOST, port: ingest },
  http: { host: '127.0.0.1', port: 0 },
});

async function get(url: string, host: string, rid: string): Promise<number> {
  const res = await request(url, { headers: { host, 'x-request-id': rid } });
  await res.body.text();
  return res.statusCode;
}

t.test('router lines reach the shuttle; a dead shuttle never fails traffic; the router reconnects and reports its losses', async (t) => {
  const dyno = await echoDyno('web');
  t.teardown(() => dyno.close());
  let shuttle = await startShuttle(t, { listen: ALL(0) });
  const ingest = shuttle.ports.ingest!;
  const router = await startRouter(writeConfig(baseConfig({
    logshuttle: `tcp://${INGEST_HOST}:${ingest}`,
    apps: { 'api-prod': { dynos: [dyno.address] } },
  })), [], { ROUTER_SHIP_BUFFER: '50' });
  t.teardown(() => router.stop());

  const tail = openTail(`${shuttle.base}/apps/api-prod/logs?tail=true`);
  await until(async () => {
    await get(router.url('/first'), 'api-prod.example.io', 'rid-first');
    return tail.text().includes('request_id=rid-first');
  }, 15000, 'the first router line in the tail');
  const line = tail.lines().find((l) => l.includes('request_id=rid-first'))!;
  t.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z api-prod akkeris\/router: at=info method=GET path=\/first host=api-prod\.example\.io request_id=rid-first .*status=200/);
  t.equal(router.lines.filter((l) => l.startsWith('at=')).length, 0, 'no access lines on stdout without --log-stdout');
  tail.close();

  // the shuttle dies: traffic goes on, lines wait in the bounded queue (50), the rest are counted
  await shuttle.stop('SIGKILL');
  // the router has closed its connection to the dead shuttle: from here on, lines queue (none is
  // written into a dying socket)
  await until(() => connectionsTo(ingest, INGEST_HOST) === 0, 20000, 'the router noticed the dead shuttle');
  let ok = 0;
  for (let i = 0; i < 80; i++) if ((await get(router.url(`/down/${i}`), 'api-prod.example.io', `rid-down-${i}`)) === 200) ok++;
  t.equal(ok, 80, 'every request served while the shuttle is down');

  shuttle = await startShuttle(t, { listen: ALL(ingest) });
  const after = openTail(`${shuttle.base}/apps/api-prod/logs?lines=1500&tail=true`);
  t.teardown(() => after.close());
  await until(() => after.text().includes('rid-down-79'), 30000, 'the queued lines after the reconnect');
  await until(() => after.text().includes('Error L10'), 10000, 'the L10 line');
  const l10 = after.lines().find((l) => l.includes('Error L10'))!;
  t.match(l10, /api-prod akkeris\/platform: Error L10 \(output buffer overflow\): 30 messages dropped since \d{4}-\d\d-\d\dT/);
  const delivered = after.lines().filter((l) => l.includes('request_id=rid-down-')).length;
  t.equal(delivered, 50, 'the newest 50 lines were kept');
  t.ok(after.text().includes('rid-down-30') && !after.text().includes('request_id=rid-down-29 '), 'the oldest were the ones dropped');
});

t.test('--log-stdout writes the lines to stdout as well', async (t) => {
  const dyno = await echoDyno('web');
  t.teardown(() => dyno.close());
  const shuttle = await startShuttle(t, { listen: ALL(0) });
  const router = await startRouter(writeConfig(baseConfig({
    logshuttle: `tcp://${INGEST_HOST}:${shuttle.ports.ingest}`,
    apps: { 'api-prod': { dynos: [dyno.address] } },
  })), ['--log-stdout']);
  t.teardown(() => router.stop());
  await get(router.url('/both'), 'api-prod.example.io', 'rid-both');
  t.match(await router.waitForLine((l) => l.includes('rid-both')), /^at=info method=GET path=\/both/);
});
