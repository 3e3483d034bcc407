import t from 'tap';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { ROOT } from '../../support/router-harness.js';
import { TlsListener } from '../../../router/front/tls-listener.js';
import type { CertificateSpec } from '../../../router/front/tls-names.js';
import { tlsConnect } from '../support/tls-client.js';

// TlsListener (router/front/tls-listener.ts) on real sockets in this process: SNI choice with the
// wildcard certificate NOT first (so a wildcard match cannot pass for the default), the default
// following the config, and certificate removal while a connection that negotiated the removed
// name is still open (uWS 20.30's removeServerName would free that connection's router: the
// next request on it crashed the process).

const FIX = join(ROOT, 'test/fixtures/tls');
const cert = (name: string, hosts: string[]): CertificateSpec => ({ hosts, cert: `${name}.pem`, key: `${name}.key` });
const DEFAULT_A = cert('default-a', ['default-a.test']);
const DEFAULT_B = cert('default-b', ['default-b.test']);
const EXACT = cert('exact-api', ['api-prod.example.io']);
const WILDCARD = cert('wildcard-example-io', ['*.example.io', 'www.example.com']);
const OTHER = cert('other-site', ['shop.other.test']);

function handler(res: HttpResponse, req: HttpRequest): void {
  res.end(`served ${req.getHeader('host')}${req.getUrl()}`);
}

async function fixedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const cnFor = async (port: number, servername: string | null): Promise<string> => {
  const c = await tlsConnect(port, servername);
  c.close();
  return c.cn;
};

t.test('exact names before wildcards, the first certificate for unknown names', async (t) => {
  const listener = new TlsListener(handler);
  t.teardown(() => listener.close());
  const port = listener.listen('127.0.0.1', await fixedPort(), [DEFAULT_A, EXACT, WILDCARD], FIX);
  t.equal(await cnFor(port, 'api-prod.example.io'), 'exact-api', 'exact name');
  t.equal(await cnFor(port, 'ui-prod.example.io'), 'wildcard-example-io', 'wildcard, although it is not the first certificate');
  t.equal(await cnFor(port, 'www.example.com'), 'wildcard-example-io', 'another name of the wildcard certificate');
  t.equal(await cnFor(port, 'a.b.example.io'), 'default-a', 'a wildcard covers one label only');
  t.equal(await cnFor(port, 'unknown.test'), 'default-a', 'unknown name: the first certificate');
  t.equal(await cnFor(port, null), 'default-a', 'no SNI: the first certificate');
  const c = await tlsConnect(port, 'ui-prod.example.io');
  t.same(await c.get('ui-prod.example.io', '/x'), { status: 200, body: 'served ui-prod.example.io/x' });
  c.close();
});

t.test('a removed name: new connections lose it at once, an open connection on it is still served', async (t) => {
  const listener = new TlsListener(handler);
  t.teardown(() => listener.close());
  const port = listener.listen('127.0.0.1', await fixedPort(), [DEFAULT_A, EXACT, WILDCARD], FIX);
  const open = await tlsConnect(port, 'api-prod.example.io');
  t.equal(open.cn, 'exact-api');
  t.equal((await open.get('api-prod.example.io')).status, 200);

  t.equal(listener.apply([DEFAULT_A, WILDCARD], FIX), 'new-generation');
  t.equal(await cnFor(port, 'api-prod.example.io'), 'wildcard-example-io', 'the exact certificate is gone; the wildcard covers the name');
  for (let i = 0; i < 3; i++) {
    t.same(await open.get('api-prod.example.io', `/after-${i}`), { status: 200, body: `served api-prod.example.io/after-${i}` }, 'the open connection goes on');
  }
  t.equal(listener.generations, 2);

  // the name back with another certificate: an addition, in place
  const second = await tlsConnect(port, 'api-prod.example.io');
  t.equal(second.cn, 'wildcard-example-io');
  t.equal(listener.apply([DEFAULT_A, cert('other-site', ['api-prod.example.io']), WILDCARD], FIX), 'in-place');
  const third = await tlsConnect(port, 'api-prod.example.io');
  t.equal(third.cn, 'other-site');
  // and its files changed while connections on it (and on the older names) are open
  t.equal(listener.apply([DEFAULT_A, EXACT, WILDCARD], FIX), 'new-generation');
  t.equal(await cnFor(port, 'api-prod.example.io'), 'exact-api');
  for (const c of [open, second, third]) t.equal((await c.get('api-prod.example.io')).status, 200, `the connection that got ${c.cn} goes on`);
  t.equal(listener.generations, 3);
  third.close();
  open.close();
  second.close();
});

t.test('the default certificate follows the config; additions stay in place', async (t) => {
  const listener = new TlsListener(handler);
  t.teardown(() => listener.close());
  const port = listener.listen('127.0.0.1', await fixedPort(), [DEFAULT_A, WILDCARD], FIX);
  t.equal(await cnFor(port, 'unknown.test'), 'default-a');
  t.equal(listener.apply([DEFAULT_B, WILDCARD], FIX), 'new-generation', 'a new default needs a new app');
  t.equal(await cnFor(port, 'unknown.test'), 'default-b');
  t.equal(await cnFor(port, null), 'default-b');
  t.equal(await cnFor(port, 'default-a.test'), 'default-b', 'the old default is not listed any more');

  t.equal(listener.apply([DEFAULT_B, WILDCARD, OTHER], FIX), 'in-place', 'a certificate added: same app');
  t.equal(await cnFor(port, 'shop.other.test'), 'other-site');
  t.equal(listener.generations, 2);
  t.equal(listener.apply([DEFAULT_B, WILDCARD, OTHER], FIX), 'in-place', 'the same certificates again');
});

t.test('a certificate renewed in place (same paths, new contents) is a new certificate', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'edgeplane-renew-'));
  const put = (from: string): void => {
    copyFileSync(join(FIX, `${from}.pem`), join(dir, 'site.pem'));
    copyFileSync(join(FIX, `${from}.key`), join(dir, 'site.key'));
  };
  put('default-a');
  const site: CertificateSpec = { hosts: ['site.test'], cert: 'site.pem', key: 'site.key' };
  const wildcard: CertificateSpec = { ...WILDCARD, cert: join(FIX, WILDCARD.cert), key: join(FIX, WILDCARD.key) };
  const listener = new TlsListener(handler);
  t.teardown(() => listener.close());
  const port = listener.listen('127.0.0.1', await fixedPort(), [wildcard, site], dir);
  const open = await tlsConnect(port, 'site.test');
  t.equal(open.cn, 'default-a');
  t.equal(listener.apply([wildcard, site], dir), 'in-place', 'same paths, same contents');
  put('default-b');
  t.equal(listener.apply([wildcard, site], dir), 'new-generation', 'same paths, new contents');
  t.equal(await cnFor(port, 'site.test'), 'default-b');
  t.equal((await open.get('site.test')).status, 200, 'the connection on the old certificate goes on');
  open.close();
});

t.test('beyond 8 retired generations the oldest are closed; close() ends everything', async (t) => {
  const listener = new TlsListener(handler);
  const port = listener.listen('127.0.0.1', await fixedPort(), [DEFAULT_A, WILDCARD], FIX);
  const oldest = await tlsConnect(port, 'www.example.com');
  t.equal((await oldest.get('www.example.com')).status, 200);
  for (let i = 0; i < 10; i++) listener.apply([i % 2 === 0 ? DEFAULT_B : DEFAULT_A, WILDCARD], FIX);
  t.equal(listener.generations, 9, 'the live one and 8 retired');
  await t.rejects(oldest.get('www.example.com'), /connection closed/, 'the oldest generation was closed with its connections');
  const last = await tlsConnect(port, 'www.example.com');
  t.equal((await last.get('www.example.com')).status, 200);
  listener.close();
  await t.rejects(last.get('www.example.com'), /connection closed/);
  await t.rejects(tlsConnect(port, 'www.example.com'), /ECONNREFUSED/);
});
