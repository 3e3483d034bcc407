/**
 * A throwaway CA and a server certificate for 127.0.0.1 (made with openssl in a temp dir) for
 * the bench's local HTTPS receivers; the CA goes to a child through NODE_EXTRA_CA_CERTS so the
 * shuttle verifies the receiver as it would a real collector.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireTools } from './tools.js';

export interface TestCertificate { ca: string; cert: Buffer; key: Buffer }

export function makeLoopbackCertificate(dir: string): TestCertificate {
  requireTools(['openssl']);
  const f = (n: string) => join(dir, n);
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=bench CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('sink.key'), '-out', f('sink.csr'), '-subj', '/CN=127.0.0.1']);
  writeFileSync(f('sink.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  run(['x509', '-req', '-in', f('sink.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('sink.pem'), '-days', '2', '-extfile', f('sink.ext')]);
  return { ca: f('ca.pem'), cert: readFileSync(f('sink.pem')), key: readFileSync(f('sink.key')) };
}
