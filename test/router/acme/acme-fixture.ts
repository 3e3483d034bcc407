import { copyFileSync, mkdtempSync } from 'node:fs';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, baseConfig, until } from '../../support/router-harness.js';

/** What the ACME tests share: a directory with the default certificate, TLS GETs, metrics. */

const FIX = join(ROOT, 'test/fixtures/tls');

/** A fresh directory holding default-a.{pem,key} (the router's default certificate). */
export function acmeDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'edgeplane-acme-'));
  for (const ext of ['pem', 'key']) copyFileSync(join(FIX, `default-a.${ext}`), join(dir, `default-a.${ext}`));
  return dir;
}

export const DEFAULT_CERT = { hosts: ['default-a.test'], cert: 'default-a.pem', key: 'default-a.key' };

export interface AcmeRouterOptions {
  /** the HTTP listener's port, where pebble validates http-01 (0 when validation is skipped) */
  httpPort: number;
  /** acmeDir(): the default certificate; storage goes in `<dir>/acme` */
  dir: string;
  pebble: { directory: string; caFile: string };
  /** the address of app api-prod's dyno */
  dyno: string;
  /** site names routed to api-prod */
  sites: string[];
  /** the `acme` section beyond directory, storage, ca_file and retry_base_s 1 */
  acme: Record<string, unknown>;
  /** anything else of the config (workers, more certificates) */
  extra?: Record<string, unknown>;
}

/** The router config of an ACME test: HTTPS and admin on port 0, the default certificate, app api-prod, `acme` on pebble. */
export function acmeRouterConfig(o: AcmeRouterOptions): Record<string, unknown> {
  return baseConfig({
    listen: { http: { host: '127.0.0.1', port: o.httpPort }, https: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } },
    certificates: [{ ...DEFAULT_CERT, cert: join(o.dir, 'default-a.pem'), key: join(o.dir, 'default-a.key') }],
    acme: { directory: o.pebble.directory, storage: join(o.dir, 'acme'), ca_file: o.pebble.caFile, retry_base_s: 1, ...o.acme },
    apps: { 'api-prod': { dynos: [o.dyno] } },
    sites: Object.fromEntries(o.sites.map((name) => [name, { routes: [{ path: '/', app: 'api-prod' }] }])),
    ...o.extra,
  });
}

export interface TlsAnswer {
  cert: PeerCertificate;
  /** the chain verified against `ca` and the name */
  authorized: boolean;
  authorizationError: string | null;
  status: number;
  body: string;
}

/** One GET over TLS with SNI `servername`, never refusing the handshake: `authorized` says whether the chain and name verified against `ca`. */
export function tlsGet(port: number, servername: string, ca: string | Buffer, path = '/'): Promise<TlsAnswer> {
  return new Promise((resolve, reject) => {
    let secured = false;
    const sock = tlsConnect({ port, host: '127.0.0.1', servername, ca, rejectUnauthorized: false }, () => {
      secured = true;
      const cert = sock.getPeerCertificate();
      // checkServerIdentity is skipped with rejectUnauthorized false: authorized covers the chain, the name is checked here
      const nameOk = sock.authorized && (cert.subjectaltname ?? '').split(', ').includes(`DNS:${servername}`);
      const authorizationError = sock.authorizationError ? String(sock.authorizationError) : nameOk ? null : 'name mismatch';
      sock.write(`GET ${path} HTTP/1.1\r\nHost: ${servername}\r\nConnection: close\r\n\r\n`);
      let data = '';
      sock.setEncoding('utf8');
      sock.on('data', (d: string) => (data += d));
      sock.on('end', () => {
        const i = data.indexOf('\r\n\r\n');
        resolve({ cert, authorized: nameOk, authorizationError, status: Number(data.split(' ')[1]), body: i < 0 ? '' : data.slice(i + 4) });
      });
    });
    sock.setTimeout(10000, () => sock.destroy(new Error('TLS GET timed out')));
    // `beforeHandshake`: the connection failed before its TLS handshake completed
    sock.on('error', (err) => reject(Object.assign(err, { beforeHandshake: !secured })));
  });
}

/** Polls until a TLS GET for `servername` verifies against `ca`; returns that answer. */
export async function untilVerified(port: number, servername: string, ca: string | Buffer, timeoutMs = 90000): Promise<TlsAnswer> {
  let last: TlsAnswer | null = null;
  try {
    await until(async () => {
      last = await tlsGet(port, servername, ca).catch(() => null);
      return last?.authorized === true;
    }, timeoutMs, `a certificate for ${servername} that verifies`);
  } catch (err) {
    throw new Error(`${(err as Error).message}; last: ${last === null ? 'no answer' : `${(last as TlsAnswer).cert.subject?.CN} ${(last as TlsAnswer).authorizationError}`}`);
  }
  return last!;
}

/** The router's /metrics text. */
export async function metrics(adminPort: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/metrics`);
  return res.text();
}

/** A metric's value (first series matching `name{labels}` exactly as written), 0 when absent. */
export function metric(text: string, series: string): number {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return 0;
}

/** The router's own JSON log lines (stderr) whose msg starts with `prefix`. */
export function logged(errLines: readonly string[], prefix: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const l of errLines) {
    try {
      const j = JSON.parse(l) as Record<string, unknown>;
      if (typeof j.msg === 'string' && j.msg.startsWith(prefix)) out.push(j);
    } catch { /* not JSON */ }
  }
  return out;
}
