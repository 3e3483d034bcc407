import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { echoDyno, rawRequest, releasedPort, startRouter, until, writeConfig, type Dyno, type RunningRouter } from '../../support/router-harness.js';
import { startPebble, type Pebble } from '../../support/pebble.js';
import { DEFAULT_CERT, acmeDir, acmeRouterConfig, logged, metric, metrics, tlsGet, untilVerified } from './acme-fixture.js';

// A configured host gets a certificate from a real ACME server (pebble, validating http-01
// against the router's HTTP listener), and a TLS client verifying against pebble's root sees it.

let pebble: Pebble;
let router: RunningRouter;
let dyno: Dyno;
let dir: string;
let root: string;

t.before(async () => {
  dyno = await echoDyno('d');
  dir = acmeDir();
  const httpPort = await releasedPort();
  pebble = await startPebble({ httpPort });
  root = await pebble.root();
  const file = writeConfig(acmeRouterConfig({ httpPort, dir, pebble, dyno: dyno.address, sites: ['www.example.com'],
    acme: { email: 'ops@example.com', hosts: ['www.example.com', 'api-prod.example.io'] },
    extra: { certificates: [{ ...DEFAULT_CERT, cert: join(dir, 'default-a.pem'), key: join(dir, 'default-a.key') },
      { hosts: ['*.example.io'], cert: join(dir, 'default-a.pem'), key: join(dir, 'default-a.key') }] } }));
  router = await startRouter(file);
});

t.teardown(async () => {
  await router?.stop();
  await pebble?.stop();
  await dyno?.close();
});

t.test('a configured host gets a certificate a verifying client accepts', async (t) => {
  const answer = await untilVerified(router.ports.https, 'www.example.com', root);
  t.equal(answer.status, 200, 'the request is routed');
  t.equal(JSON.parse(answer.body).headers['x-forwarded-proto'], 'https');
  t.match(answer.cert.subjectaltname, /DNS:www\.example\.com/);
  // before it was issued, and for other names, the default certificate: it does not verify against pebble
  const other = await tlsGet(router.ports.https, 'nothing.example.net', root);
  t.equal(other.cert.subject.CN, 'default-a');
  t.equal(other.authorized, false);
  for (const f of ['cert.pem', 'key.pem', 'meta.json']) t.ok(existsSync(join(dir, 'acme', 'www.example.com', f)), `storage holds ${f}`);
  t.ok(existsSync(join(dir, 'acme', '_account', 'key.pem')), 'the account key is in storage');
  const meta = JSON.parse(readFileSync(join(dir, 'acme', 'www.example.com', 'meta.json'), 'utf8')) as { name: string; notAfter: string };
  t.equal(meta.name, 'www.example.com');
  await until(async () => metric(await metrics(router.ports.admin), 'edgeplane_router_acme_orders_total{result="issued"}') === 1, 20000, 'the issued count');
  const text = await metrics(router.ports.admin);
  t.equal(metric(text, 'edgeplane_router_acme_certificate_expiry_seconds{name="www.example.com"}'), Math.round(Date.parse(meta.notAfter) / 1000));
  const lines = logged(router.errLines, 'acme: certificate issued');
  t.equal(lines.length, 1, 'one log line per issued order');
  t.equal(lines[0].name, 'www.example.com');
  t.equal(logged(router.errLines, 'acme: order started').length, 1);
});

t.test('a configured certificate wins for its names: no order', async (t) => {
  const lines = logged(router.errLines, 'acme: a configured certificate covers this name');
  t.equal(lines.length, 1);
  t.equal(lines[0].name, 'api-prod.example.io');
  t.notOk(existsSync(join(dir, 'acme', 'api-prod.example.io')), 'nothing ordered or locked for it');
  const answer = await tlsGet(router.ports.https, 'api-prod.example.io', root);
  t.equal(answer.cert.subject.CN, 'default-a');
});

t.test('an unknown challenge token is routed like any other request', async (t) => {
  const raw = await rawRequest(router.ports.http, 'GET /.well-known/acme-challenge/nope HTTP/1.1\r\nHost: unknown.example.net\r\nConnection: close\r\n\r\n');
  t.match(raw, /^HTTP\/1\.1 404/);
  const routed = await rawRequest(router.ports.http, 'GET /.well-known/acme-challenge/nope HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n');
  t.match(routed, /^HTTP\/1\.1 200/);
  t.match(routed, /"url":"\/\.well-known\/acme-challenge\/nope"/, 'the dyno got it');
});
