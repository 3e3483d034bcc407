import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { echoDyno, releasedPort, startDyno, startRouter, until, writeConfig, type Dyno, type RunningRouter } from '../../support/router-harness.js';
import { startPebble, type Pebble } from '../../support/pebble.js';
import { acmeDir, acmeRouterConfig, logged, metric, metrics, tlsGet, untilVerified } from './acme-fixture.js';

// On demand: a TLS handshake for a name no certificate covers asks the `ask` URL; an approved
// name is ordered in the background (the default certificate meanwhile), a refused one is not.

let pebble: Pebble;
let router: RunningRouter;
let dyno: Dyno;
let ask: Dyno;
let dir: string;
let root: string;
const asked = new Map<string, number>();

t.before(async () => {
  dyno = await echoDyno('d');
  ask = await startDyno((req, res) => {
    const domain = new URL(req.url ?? '/', 'http://x').searchParams.get('domain') ?? '';
    asked.set(domain, (asked.get(domain) ?? 0) + 1);
    res.statusCode = domain.startsWith('shop.') ? 200 : 403;
    res.end();
  });
  dir = acmeDir();
  const httpPort = await releasedPort();
  pebble = await startPebble({ httpPort });
  root = await pebble.root();
  const file = writeConfig(acmeRouterConfig({ httpPort, dir, pebble, dyno: dyno.address, sites: ['shop.example.net', 'evil.example.net'],
    acme: { on_demand: { ask: `http://${ask.address}/allow` } } }));
  router = await startRouter(file);
});

t.teardown(async () => {
  await router?.stop();
  await pebble?.stop();
  await dyno?.close();
  await ask?.close();
});

t.test('an approved name gets the default certificate first, then its own', async (t) => {
  const first = await tlsGet(router.ports.https, 'shop.example.net', root);
  t.equal(first.cert.subject.CN, 'default-a', 'the handshake does not wait for the order');
  t.equal(first.status, 200, 'and the request is served');
  const answer = await untilVerified(router.ports.https, 'shop.example.net', root);
  t.equal(answer.status, 200);
  t.equal(asked.get('shop.example.net'), 1, 'asked once (repeated handshakes within a minute share the answer)');
  t.ok(existsSync(join(dir, 'acme', 'shop.example.net', 'cert.pem')));
  const text = await metrics(router.ports.admin);
  t.equal(metric(text, 'edgeplane_router_acme_orders_total{result="issued"}'), 1);
  t.equal(metric(text, 'edgeplane_router_acme_ask_total{answer="yes"}'), 1);
});

t.test('a refused name: no order, the default certificate, asked at most once a minute', async (t) => {
  for (let i = 0; i < 5; i++) {
    const r = await tlsGet(router.ports.https, 'evil.example.net', root);
    t.equal(r.cert.subject.CN, 'default-a');
  }
  await until(() => asked.has('evil.example.net'), 20000, 'the ask URL to be asked about evil.example.net');
  // a later name's question: every earlier handshake's report has been handled by then
  await tlsGet(router.ports.https, 'probe.example.net', root);
  await until(() => asked.has('probe.example.net'), 20000, 'the ask URL to be asked about probe.example.net');
  await until(() => logged(router.errLines, 'acme: on-demand name refused').length === 2, 20000, 'two refusal lines');
  t.equal(asked.get('evil.example.net'), 1, 'five handshakes, one question');
  t.notOk(existsSync(join(dir, 'acme', 'evil.example.net')), 'nothing ordered, nothing locked');
  t.equal(logged(router.errLines, 'acme: order started').filter((l) => l.name === 'evil.example.net').length, 0);
  const text = await metrics(router.ports.admin);
  t.equal(metric(text, 'edgeplane_router_acme_ask_total{answer="no"}'), 2);
  t.equal(metric(text, 'edgeplane_router_acme_orders_total{result="issued"}'), 1, 'still only the approved name');
});
