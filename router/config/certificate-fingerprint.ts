import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { LoadedConfig } from './load.js';

/**
 * What the certificate files of a config hold now: a hash over every certificate and key file
 * (path and contents). A config's version hashes the document only, so a certificate renewed in
 * place (same file names, new contents, as Kubernetes secret volumes and cert-manager do) keeps
 * the version; the fingerprint tells the reload it changed. A file that cannot be read counts
 * as its error code (the config's own validation reports it).
 */
export function certificateFingerprint(loaded: LoadedConfig): string {
  const certs = loaded.config.certificates ?? [];
  if (certs.length === 0) return '';
  const hash = createHash('sha256');
  for (const c of certs) {
    for (const file of [c.cert, c.key]) {
      const path = resolve(loaded.baseDir, file);
      hash.update(path).update('\0');
      try {
        hash.update(readFileSync(path));
      } catch (err) {
        hash.update(`unreadable:${(err as NodeJS.ErrnoException).code ?? 'error'}`);
      }
      hash.update('\0');
    }
  }
  return hash.digest('hex').slice(0, 16);
}

/** The directories holding a config's certificate files (watched for renewals). */
export function certificateDirs(loaded: LoadedConfig): string[] {
  const dirs = new Set<string>();
  for (const c of loaded.config.certificates ?? []) {
    dirs.add(dirname(resolve(loaded.baseDir, c.cert)));
    dirs.add(dirname(resolve(loaded.baseDir, c.key)));
  }
  return [...dirs];
}
