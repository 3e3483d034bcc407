import t from 'tap';
import { copyFileSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, baseConfig, echoDyno, startRouter, type Dyno, type RunningRouter } from '../../support/router-harness.js';
import { putConfig } from '../support/admin-client.js';
import { scrape } from '../support/prometheus.js';
import { waitForLog } from '../support/router-logs.js';
import { tlsConnect, type TlsConnection } from '../support/tls-client.js';

// Certificates through reloads, in the router process: a reload that removes a certificate
// while clients hold connections that negotiated it (uWS 20.30's removeServerName freed their
// router: the next request on such a connection crashed the whole router), and the default
// certificate following the config.

const FIX = join(ROOT, 'test/fixtures/tls');

let dyno: Dyno;
let router: RunningRouter;
let dir: string;

const cert = (name: string, hosts: string[]): Record<string, unknown> => ({ hosts, cert: `${name}.pem`, key: `${name}.key` });
const DEFAULT_A = cert('default-a', ['default-a.test']);
const DEFAULT_B = cert('default-b', ['default-b.test']);
const EXACT = cert('exact-api', ['api-prod.example.io']);
const WILDCARD = cert('wildcard-example-io', ['*.example.io', 'www.example.com']);
const OTHER = cert('other-site', ['shop.other.test']);

function config(certs: unknown[]): Record<string, unknown> {
  return baseConfig({
    workers: 2,
    listen: { http: { host: '127.0.0.1', port: 0 }, https: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } },
    certificates: certs,
    apps: { 'api-prod': { dynos: [dyno.address] } },
    sites: { 'shop.other.test': { routes: [{ path: '/', app: 'api-prod' }] } },
  });
}

t.before(async () => {
  dyno = await echoDyno('d');
  dir = mkdtempSync(join(tmpdir(), 'edgeplane-tls-reload-'));
  for (const f of ['default-a', 'default-b', 'exact-api', 'wildcard-example-io', 'other-site']) {
    copyFileSync(join(FIX, `${f}.pem`), join(dir, `${f}.pem`));
    copyFileSync(join(FIX, `${f}.key`), join(dir, `${f}.key`));
  }
  const file = join(dir, 'router.json');
  writeFileSync(file, JSON.stringify(config([DEFAULT_A, EXACT, WILDCARD, OTHER])));
  router = await startRouter(file);
});
t.teardown(async () => {
  await router?.stop();
  await dyno?.close();
});

t.test('certificates removed while connections that negotiated them are open', async (t) => {
  const https = router.ports.https;
  // several connections: the kernel spreads them over both workers
  const open: TlsConnection[] = [];
  for (let i = 0; i < 6; i++) open.push(await tlsConnect(https, i % 2 === 0 ? 'api-prod.example.io' : 'shop.other.test'));
  t.teardown(() => open.forEach((c) => c.close()));
  for (const c of open) {
    t.equal(c.cn, c.socket.servername === 'api-prod.example.io' ? 'exact-api' : 'other-site');
    t.equal((await c.get(String(c.socket.servername))).status, 200);
  }

  const put = await putConfig(router.ports.admin, config([DEFAULT_A, WILDCARD]));
  t.equal(put.status, 200, put.body);
  for (const [i, c] of open.entries()) {
    const r = await c.get(String(c.socket.servername), `/after/${i}`);
    t.equal(r.status, 200, `connection ${i} (${c.cn}) is still served after the reload`);
    t.equal((JSON.parse(r.body) as { url: string }).url, `/after/${i}`);
  }
  t.equal(router.proc.exitCode, null, 'the router is up');

  const exact = await tlsConnect(https, 'api-prod.example.io');
  exact.close();
  t.equal(exact.cn, 'wildcard-example-io', 'a new connection gets the wildcard for the removed exact name');
  const other = await tlsConnect(https, 'shop.other.test');
  other.close();
  t.equal(other.cn, 'default-a', 'and the default for the removed name nothing else covers');
  t.equal(other.authorized, false);
});

t.test('the default certificate follows the config', async (t) => {
  const put = await putConfig(router.ports.admin, config([DEFAULT_B, WILDCARD]));
  t.equal(put.status, 200, put.body);
  const unknown = await tlsConnect(router.ports.https, 'unknown.test');
  unknown.close();
  t.equal(unknown.cn, 'default-b', 'an unknown name gets the new first certificate');
  const none = await tlsConnect(router.ports.https, null);
  none.close();
  t.equal(none.cn, 'default-b', 'so does a client without SNI');
  const wild = await tlsConnect(router.ports.https, 'ui.example.io');
  t.equal(wild.cn, 'wildcard-example-io');
  t.equal((await wild.get('api-prod.example.io')).status, 200);
  wild.close();
  t.equal(await router.stop(), 0, 'the router stops cleanly');
});

t.test('a certificate renewed in place is reloaded when its directory changes', async (t) => {
  // certificates in their own directory (as a Kubernetes secret volume), the config elsewhere
  const certDir = mkdtempSync(join(tmpdir(), 'edgeplane-certs-'));
  const renew = (from: string): void => {
    for (const ext of ['pem', 'key']) {
      copyFileSync(join(FIX, `${from}.${ext}`), join(certDir, `.tmp-site.${ext}`));
      renameSync(join(certDir, `.tmp-site.${ext}`), join(certDir, `site.${ext}`));
    }
  };
  renew('default-a');
  const confDir = mkdtempSync(join(tmpdir(), 'edgeplane-conf-'));
  const file = join(confDir, 'router.json');
  writeFileSync(file, JSON.stringify({
    ...config([]),
    workers: 1,
    certificates: [
      { hosts: ['*.example.io'], cert: join(FIX, 'wildcard-example-io.pem'), key: join(FIX, 'wildcard-example-io.key') },
      { hosts: ['site.test'], cert: join(certDir, 'site.pem'), key: join(certDir, 'site.key') },
    ],
  }));
  const r = await startRouter(file);
  t.teardown(() => r.stop());
  const open = await tlsConnect(r.ports.https, 'site.test');
  t.equal(open.cn, 'default-a');
  t.equal((await open.get('api-prod.example.io')).status, 200);

  renew('default-b');
  const applied = await waitForLog(r, (e) => e.msg === 'config applied', 'the renewal to be applied');
  t.equal(applied.reason, 'file change');
  t.equal(applied.certificates, 'changed');
  t.equal(applied.version, applied.previous, 'the document did not change, its certificate did');
  t.equal((await open.get('api-prod.example.io')).status, 200, 'the connection on the old certificate goes on');
  const fresh = await tlsConnect(r.ports.https, 'site.test');
  fresh.close();
  t.equal(fresh.cn, 'default-b', 'a new connection gets the renewed certificate');
  open.close();
  const m = await scrape(r.ports.admin);
  t.equal(m.get('edgeplane_router_config_reloads_total', { result: 'applied', trigger: 'watch' }), 1);
  t.equal(await r.stop(), 0);
});
