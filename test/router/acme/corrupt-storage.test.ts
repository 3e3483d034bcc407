import t from 'tap';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { echoDyno, releasedPort, startRouter, writeConfig, type Dyno, type RunningRouter } from '../../support/router-harness.js';
import { startPebble, type Pebble } from '../../support/pebble.js';
import { acmeDir, acmeRouterConfig, logged, metric, metrics, untilVerified } from './acme-fixture.js';

// Storage is loaded at start; a corrupt file in it is reported (E_ACME_STORAGE, a metric),
// moved aside and replaced, and never stops the router.

let pebble: Pebble;
let router: RunningRouter | undefined;
let dyno: Dyno;
let root: string;
let file: string;
let storage: string;

t.before(async () => {
  dyno = await echoDyno('d');
  const dir = acmeDir();
  storage = join(dir, 'acme');
  const httpPort = await releasedPort();
  pebble = await startPebble({ httpPort, alwaysValid: true });
  root = await pebble.root();
  file = writeConfig(acmeRouterConfig({ httpPort, dir, pebble, dyno: dyno.address, sites: ['a.example.com', 'b.example.com'],
    acme: { storage, hosts: ['a.example.com', 'b.example.com'] } }));
});

t.teardown(async () => {
  await router?.stop();
  await pebble?.stop();
  await dyno?.close();
});

t.test('certificates are issued and stored', async (t) => {
  router = await startRouter(file);
  await untilVerified(router.ports.https, 'a.example.com', root);
  await untilVerified(router.ports.https, 'b.example.com', root);
  t.equal(await router.stop(), 0);
  router = undefined;
});

t.test('after a restart: corrupt files reported and replaced, the rest served from storage', async (t) => {
  const bCert = readFileSync(join(storage, 'b.example.com', 'cert.pem'), 'utf8');
  writeFileSync(join(storage, 'a.example.com', 'cert.pem'), 'garbage, not a certificate\n');
  writeFileSync(join(storage, 'b.example.com', 'meta.json'), '{"name": "b.exa');
  writeFileSync(join(storage, '_account', 'key.pem'), '-----BEGIN PRIVATE KEY-----\nbroken\n');
  router = await startRouter(file);
  const a = await untilVerified(router.ports.https, 'a.example.com', root);
  t.equal(a.status, 200, 'the corrupt certificate was replaced by a new order');
  const b = await untilVerified(router.ports.https, 'b.example.com', root);
  t.equal(b.cert.fingerprint256, new X509Certificate(bCert).fingerprint256, 'b is served from storage');
  const reported = logged(router.errLines, 'acme: corrupt file in storage');
  t.same(reported.map((l) => String(l.file).slice(storage.length + 1)).sort(), ['_account/key.pem', 'a.example.com/cert.pem', 'b.example.com/meta.json']);
  for (const l of reported) t.equal(l.code, 'E_ACME_STORAGE');
  t.same(logged(router.errLines, 'acme: order started').map((l) => l.name), ['a.example.com'], 'only the corrupt certificate is ordered again');
  t.equal(JSON.parse(readFileSync(join(storage, 'b.example.com', 'meta.json'), 'utf8')).name, 'b.example.com', 'meta.json rewritten');
  t.doesNotThrow(() => createPrivateKey(readFileSync(join(storage, '_account', 'key.pem'))), 'a new account key');
  t.ok(readdirSync(join(storage, 'a.example.com')).some((f) => f.startsWith('cert.pem.corrupt-')), 'the corrupt file is kept aside');
  t.equal(metric(await metrics(router.ports.admin), 'edgeplane_router_acme_storage_errors_total'), 3);
});

