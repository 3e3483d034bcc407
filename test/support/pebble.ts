import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { releasedPort, until } from './router-harness.js';

/**
 * Debian's pebble 2.4 (a test ACME server) for the ACME tests, with pebble-challtestsrv as its
 * DNS server (every name resolves to 127.0.0.1, so http-01 validation reaches the router).
 * pebble ships no certificate for its own HTTPS: one is made here with openssl (`ca` is the
 * file the router's `acme.ca_file` trusts). pebble needs fixed ports: picked free a moment
 * before it starts (releasedPort), including the router's HTTP port it validates on.
 */
export interface Pebble {
  readonly directory: string;
  /** pebble's own HTTPS certificate (self-signed): the router's acme.ca_file */
  readonly caFile: string;
  /** the root that signs issued certificates (fetched from the management port /roots/0) */
  root(): Promise<string>;
  readonly dir: string;
  readonly lines: string[];
  stop(): Promise<void>;
  /** starts pebble again on the same ports (a new CA: a new root) */
  restart(): Promise<void>;
}

export interface PebbleOptions {
  /** the router's HTTP port, where http-01 is validated */
  httpPort: number;
  /** PEBBLE_VA_ALWAYS_VALID=1: no validation at all (where validation is not the point) */
  alwaysValid?: boolean;
  /** certificateValidityPeriod, seconds (pebble's default is 5 years) */
  validitySeconds?: number;
}

function get(url: string, ca: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

function started(cmd: string, args: string[], env: NodeJS.ProcessEnv, lines: string[]): ChildProcess {
  const proc = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  for (const s of [proc.stdout!, proc.stderr!]) s.setEncoding('utf8').on('data', (d: string) => lines.push(...d.split('\n').filter(Boolean)));
  return proc;
}

function ended(proc: ChildProcess | null): Promise<void> {
  if (proc === null || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
    proc.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    proc.kill('SIGTERM');
  });
}

export async function startPebble(opts: PebbleOptions): Promise<Pebble> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeplane-pebble-'));
  const caFile = join(dir, 'pebble-https.pem');
  const keyFile = join(dir, 'pebble-https.key');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=pebble-test',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', keyFile, '-out', caFile], { stdio: 'ignore' });
  const ca = readFileSync(caFile);
  const [listen, management, dns, dnsManagement] = [await releasedPort(), await releasedPort(), await releasedPort(), await releasedPort()];
  const configFile = join(dir, 'pebble.json');
  writeFileSync(configFile, JSON.stringify({
    pebble: {
      listenAddress: `127.0.0.1:${listen}`, managementListenAddress: `127.0.0.1:${management}`,
      certificate: caFile, privateKey: keyFile, httpPort: opts.httpPort, tlsPort: 1, ocspResponderURL: '', externalAccountBindingRequired: false,
      ...(opts.validitySeconds === undefined ? {} : { certificateValidityPeriod: opts.validitySeconds }),
    },
  }));
  const lines: string[] = [];
  const env = { PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0', ...(opts.alwaysValid ? { PEBBLE_VA_ALWAYS_VALID: '1' } : {}) };
  let dnsProc: ChildProcess | null = null;
  let proc: ChildProcess | null = null;
  const up = async (): Promise<void> => {
    dnsProc = started('pebble-challtestsrv', ['-defaultIPv4', '127.0.0.1', '-defaultIPv6', '', '-dns01', `127.0.0.1:${dns}`, '-http01', '', '-https01', '',
      '-tlsalpn01', '', '-management', `127.0.0.1:${dnsManagement}`], {}, lines);
    proc = started('pebble', ['-config', configFile, '-dnsserver', `127.0.0.1:${dns}`], env, lines);
    await until(async () => {
      if (proc!.exitCode !== null) throw new Error(`pebble exited with ${proc!.exitCode}:\n${lines.join('\n')}`);
      try {
        return (await get(`https://127.0.0.1:${listen}/dir`, ca)).status === 200;
      } catch {
        return false;
      }
    }, 30000, 'pebble to answer /dir');
  };
  await up();
  const down = async (): Promise<void> => {
    await Promise.all([ended(proc), ended(dnsProc)]);
  };
  return {
    directory: `https://127.0.0.1:${listen}/dir`,
    caFile,
    dir,
    lines,
    async root() {
      const r = await get(`https://127.0.0.1:${management}/roots/0`, ca);
      if (r.status !== 200) throw new Error(`pebble /roots/0 answered ${r.status}`);
      return r.body;
    },
    stop: down,
    async restart() {
      await down();
      await up();
    },
  };
}
