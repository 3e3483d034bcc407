import t from 'tap';
import { readFileSync } from 'node:fs';
import { echoDyno, rawRequest, releasedPort, startRouter, until, writeConfig, type Dyno, type RunningRouter } from '../../support/router-harness.js';
import { startPebble, type Pebble } from '../../support/pebble.js';
import { acmeDir, acmeRouterConfig, logged, metric, metrics, tlsGet, untilVerified } from './acme-fixture.js';

// The ACME server is down: every request is still served (the default certificate for the
// name), each failed order is logged and counted, the retries back off exponentially; once the
// server is back, the name gets its certificate.

let pebble: Pebble;
let router: RunningRouter;
let dyno: Dyno;

t.before(async () => {
  dyno = await echoDyno('d');
  const dir = acmeDir();
  const httpPort = await releasedPort();
  pebble = await startPebble({ httpPort, alwaysValid: true });
  await pebble.stop();
  const file = writeConfig(acmeRouterConfig({ httpPort, dir, pebble, dyno: dyno.address, sites: ['www.example.com'], acme: { hosts: ['www.example.com'] } }));
  router = await startRouter(file);
});

t.teardown(async () => {
  await router?.stop();
  await pebble?.stop();
  await dyno?.close();
});

t.test('CA down: requests served, failures logged and counted, retries back off', async (t) => {
  await until(() => logged(router.errLines, 'acme: order failed').length >= 3, 60000, 'three failed orders');
  const failed = logged(router.errLines, 'acme: order failed').slice(0, 3);
  t.same(failed.map((l) => l.failures), [1, 2, 3]);
  t.same(failed.map((l) => l.retryInS), [1, 2, 4], 'the wait doubles after each failure');
  for (const l of failed) {
    t.equal(l.name, 'www.example.com');
    t.match(l.code, /^E_ACME_(ORDER|ACCOUNT)$/);
  }
  t.ok(metric(await metrics(router.ports.admin), 'edgeplane_router_acme_orders_total{result="failed"}') >= 3);
  const https = await tlsGet(router.ports.https, 'www.example.com', readFileSync(pebble.caFile));
  t.equal(https.status, 200, 'HTTPS is served');
  t.equal(https.cert.subject.CN, 'default-a', 'with the default certificate meanwhile');
  const http = await rawRequest(router.ports.http, 'GET / HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n');
  t.match(http, /^HTTP\/1\.1 200/, 'HTTP is served');
});

t.test('the CA back: the next retry gets the certificate', async (t) => {
  await pebble.restart();
  const root = await pebble.root();
  const answer = await untilVerified(router.ports.https, 'www.example.com', root, 120000);
  t.equal(answer.status, 200);
  t.equal(metric(await metrics(router.ports.admin), 'edgeplane_router_acme_orders_total{result="issued"}'), 1);
});
