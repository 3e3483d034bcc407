import t from 'tap';
import { readFileSync, writeFileSync, mkdtempSync, copyFileSync } from 'node:fs';
import { connect as tlsConnect, createServer as createTlsServer, type PeerCertificate } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { baseConfig, echoDyno, startRouter, ROOT, until, type Dyno, type RunningRouter } from '../../support/router-harness.js';

const FIX = join(ROOT, 'test/fixtures/tls');
const CA = readFileSync(join(FIX, 'ca.pem'));

/** A TLS GET that verifies the chain against the test CA and the host name. */
function tlsGet(port: number, servername: string, path = '/', extra: Record<string, unknown> = {}): Promise<{ cert: PeerCertificate; status: number; body: string; protocol: string | null }> {
  return new Promise((resolve, reject) => {
    const sock = tlsConnect({ port, host: '127.0.0.1', servername, ca: CA, ...extra }, () => {
      const cert = sock.getPeerCertificate();
      const protocol = sock.getProtocol();
      sock.write(`GET ${path} HTTP/1.1\r\nHost: ${servername}\r\nConnection: close\r\n\r\n`);
      let data = '';
      sock.setEncoding('utf8');
      sock.on('data', (d: string) => (data += d));
      sock.on('end', () => {
        const [head, body] = data.split('\r\n\r\n');
        resolve({ cert, status: Number(head.split(' ')[1]), body: body ?? '', protocol });
      });
    });
    sock.on('error', reject);
  });
}

let dir: string;
let router: RunningRouter;
let dyno: Dyno;
let configFile: string;

function config(certs: unknown[]): Record<string, unknown> {
  return baseConfig({
    listen: { http: { host: '127.0.0.1', port: 0 }, https: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } },
    certificates: certs,
    apps: { 'api-prod': { dynos: [dyno.address] }, 'ui-prod': { dynos: [dyno.address] } },
    sites: { 'www.example.com': { routes: [{ path: '/', app: 'ui-prod' }] }, 'shop.other.test': { routes: [{ path: '/', app: 'ui-prod' }] } },
  });
}

t.before(async () => {
  dyno = await echoDyno('d');
  dir = mkdtempSync(join(tmpdir(), 'edgeplane-tls-'));
  for (const f of ['wildcard-example-io', 'exact-api', 'other-site', 'default-a']) {
    copyFileSync(join(FIX, `${f}.pem`), join(dir, `${f}.pem`));
    copyFileSync(join(FIX, `${f}.key`), join(dir, `${f}.key`));
  }
  configFile = join(dir, 'router.json');
  writeFileSync(configFile, JSON.stringify(config([
    { hosts: ['*.example.io', 'www.example.com'], cert: 'wildcard-example-io.pem', key: 'wildcard-example-io.key' },
    { hosts: ['api-prod.example.io'], cert: 'exact-api.pem', key: 'exact-api.key' },
  ])));
  router = await startRouter(configFile);
});
t.teardown(async () => {
  await router?.stop();
  await dyno?.close();
});

t.test('SNI: exact names before wildcards, verified by a client that checks the chain and name', async (t) => {
  const exact = await tlsGet(router.ports.https, 'api-prod.example.io');
  t.equal(exact.cert.subject.CN, 'exact-api');
  t.equal(exact.status, 200);
  t.equal(JSON.parse(exact.body).headers['x-forwarded-proto'], 'https');
  t.equal(JSON.parse(exact.body).headers['x-forwarded-port'], String(router.ports.https));
  const wild = await tlsGet(router.ports.https, 'ui-prod.example.io');
  t.equal(wild.cert.subject.CN, 'wildcard-example-io');
  t.equal(wild.status, 200);
  const site = await tlsGet(router.ports.https, 'www.example.com');
  t.equal(site.cert.subject.CN, 'wildcard-example-io');
  t.equal(site.status, 200);
});

t.test('unknown names get the first certificate (and fail verification for that name)', async (t) => {
  await t.rejects(tlsGet(router.ports.https, 'shop.other.test'), /does not match|altnames/i);
  const r = await tlsGet(router.ports.https, 'shop.other.test', '/', { rejectUnauthorized: false });
  t.equal(r.cert.subject.CN, 'wildcard-example-io');
});

/** A TLS 1.0-1.1 client: OpenSSL 3 needs security level 0 to offer them at all. */
const OLD_TLS = { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' } as const;

t.test('TLS 1.2 and 1.3 only; a client limited to TLS 1.0-1.1 is refused', async (t) => {
  const r = await tlsGet(router.ports.https, 'api-prod.example.io');
  t.ok(r.protocol === 'TLSv1.2' || r.protocol === 'TLSv1.3', `negotiated ${r.protocol}`);
  // the control: the same client completes a TLS 1.1 handshake with a server that allows it,
  // so the refusal below comes from the router's policy, not from the client
  const permissive = createTlsServer({ key: readFileSync(join(FIX, 'exact-api.key')), cert: readFileSync(join(FIX, 'exact-api.pem')), minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' },
    (s) => s.end('HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n'));
  await new Promise<void>((resolve) => permissive.listen(0, '127.0.0.1', resolve));
  t.teardown(() => permissive.close());
  const control = await tlsGet((permissive.address() as AddressInfo).port, 'api-prod.example.io', '/', OLD_TLS);
  t.equal(control.protocol, 'TLSv1.1', 'the client can speak TLS 1.1');
  t.equal(control.status, 200);
  await t.rejects(tlsGet(router.ports.https, 'api-prod.example.io', '/', OLD_TLS), /protocol|version/i, 'the router refuses it');
  await t.rejects(tlsGet(router.ports.https, 'api-prod.example.io', '/', { ...OLD_TLS, maxVersion: 'TLSv1' }), /protocol|version/i, 'and TLS 1.0');
});

t.test('the wildcard certificate is not the first one: exact, then wildcard, then the first for unknown names', async (t) => {
  const file = join(dir, 'wildcard-second.json');
  writeFileSync(file, JSON.stringify(config([
    { hosts: ['default-a.test'], cert: 'default-a.pem', key: 'default-a.key' },
    { hosts: ['api-prod.example.io'], cert: 'exact-api.pem', key: 'exact-api.key' },
    { hosts: ['*.example.io', 'www.example.com'], cert: 'wildcard-example-io.pem', key: 'wildcard-example-io.key' },
  ])));
  const r2 = await startRouter(file);
  t.teardown(() => r2.stop());
  const exact = await tlsGet(r2.ports.https, 'api-prod.example.io');
  t.equal(exact.cert.subject.CN, 'exact-api', 'an exact name wins over the wildcard');
  t.equal(exact.status, 200);
  const wild = await tlsGet(r2.ports.https, 'ui-prod.example.io');
  t.equal(wild.cert.subject.CN, 'wildcard-example-io', 'a wildcard match, not the default');
  t.equal(wild.status, 200);
  t.equal((await tlsGet(r2.ports.https, 'www.example.com')).cert.subject.CN, 'wildcard-example-io');
  const unknown = await tlsGet(r2.ports.https, 'shop.other.test', '/', { rejectUnauthorized: false });
  t.equal(unknown.cert.subject.CN, 'default-a', 'an unknown name gets the first certificate');
  t.equal((await tlsGet(r2.ports.https, 'a.b.example.io', '/', { rejectUnauthorized: false })).cert.subject.CN, 'default-a', 'a wildcard covers one label');
});

t.test('a reload adds a certificate without a restart; a bad certificate file refuses the config', async (t) => {
  writeFileSync(configFile, JSON.stringify(config([
    { hosts: ['*.example.io', 'www.example.com'], cert: 'wildcard-example-io.pem', key: 'wildcard-example-io.key' },
    { hosts: ['api-prod.example.io'], cert: 'exact-api.pem', key: 'exact-api.key' },
    { hosts: ['shop.other.test'], cert: 'other-site.pem', key: 'other-site.key' },
  ])));
  router.proc.kill('SIGHUP');
  await until(async () => {
    try {
      return (await tlsGet(router.ports.https, 'shop.other.test')).cert.subject.CN === 'other-site';
    } catch {
      return false;
    }
  }, 15000, 'the new certificate');
  const res = await fetch(`http://127.0.0.1:${router.ports.admin}/config`, {
    method: 'PUT',
    body: JSON.stringify(config([{ hosts: ['*.example.io'], cert: 'wildcard-example-io.pem', key: 'other-site.key' }])),
  });
  t.equal(res.status, 400);
  const body = await res.json() as { problems: string[] };
  t.match(body.problems.join('\n'), /certificates\[0\]/);
  // the old table (and certificates) still serve
  t.equal((await tlsGet(router.ports.https, 'shop.other.test')).cert.subject.CN, 'other-site');
});
