import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { TemplatedApp } from 'uWebSockets.js';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';

export interface CertificateSpec {
  readonly hosts: readonly string[];
  readonly cert: string;
  readonly key: string;
}

type Handler = (res: HttpResponse, req: HttpRequest) => void;

interface CertFiles {
  readonly key: string;
  readonly cert: string;
  /** the paths and what they hold now: a certificate renewed in place is another certificate */
  readonly id: string;
}

function certFiles(spec: CertificateSpec, baseDir: string): CertFiles {
  const key = resolve(baseDir, spec.key);
  const cert = resolve(baseDir, spec.cert);
  const hash = createHash('sha256');
  for (const file of [cert, key]) {
    try {
      hash.update(readFileSync(file));
    } catch {
      hash.update('unreadable');
    }
    hash.update('\0');
  }
  return { key, cert, id: `${cert}|${key}|${hash.digest('hex').slice(0, 16)}` };
}

const filesId = (f: CertFiles): string => f.id;

/** host (lower case, no trailing dot) -> the files of the first certificate naming it. */
function wantedNames(certs: readonly CertificateSpec[], baseDir: string): Map<string, CertFiles> {
  const wanted = new Map<string, CertFiles>();
  for (const c of certs) {
    const files = certFiles(c, baseDir);
    for (const h of c.hosts) {
      const host = h.toLowerCase().replace(/\.$/, '');
      if (!wanted.has(host)) wanted.set(host, files); // the first certificate naming a host wins
    }
  }
  return wanted;
}

/**
 * The SNI names of one uWS SSLApp. Each certificate serves the hosts it lists (uWS matches
 * exact names before wildcards); the app's own certificate (the first one, defaultOptions)
 * serves unknown names. Names are only ever added to a live app: uWS 20.30's
 * removeServerName frees the name's router while connections that negotiated that name may
 * still use it, and the next request on such a connection crashes the process (SIGSEGV, seen
 * in a test). A config that removes a name or changes its files (their paths or contents: a
 * certificate renewed in place) needs a new app: TlsListener
 * (tls-listener.ts) builds one; `inPlace` tells whether it must.
 */
export class TlsNames {
  /** host -> "cert|key" currently registered */
  private readonly names = new Map<string, string>();

  constructor(private readonly app: TemplatedApp, private readonly handler: Handler, private readonly wsAttach?: (app: TemplatedApp) => void) {}

  static defaultOptions(certs: readonly CertificateSpec[], baseDir: string): { key_file_name: string; cert_file_name: string } {
    return { key_file_name: resolve(baseDir, certs[0].key), cert_file_name: resolve(baseDir, certs[0].cert) };
  }

  /** Identifies the default certificate (its files and their contents): a new default needs a new app. */
  static defaultId(certs: readonly CertificateSpec[], baseDir: string): string {
    return certs.length === 0 ? '' : filesId(certFiles(certs[0], baseDir));
  }

  /** True when `certs` only adds names to this app (no name removed, none with other files). */
  inPlace(certs: readonly CertificateSpec[], baseDir: string): boolean {
    const wanted = wantedNames(certs, baseDir);
    for (const [host, id] of this.names) {
      const w = wanted.get(host);
      if (w === undefined || filesId(w) !== id) return false;
    }
    return true;
  }

  /**
   * Registers the names `certs` adds. Returns the names it left as they were although `certs`
   * removes them or gives them other files (never removed from a live app, see above): empty
   * whenever `inPlace` was true.
   */
  apply(certs: readonly CertificateSpec[], baseDir: string): string[] {
    const wanted = wantedNames(certs, baseDir);
    const stale: string[] = [];
    for (const [host, id] of this.names) {
      const w = wanted.get(host);
      if (w === undefined || filesId(w) !== id) stale.push(host);
    }
    for (const [host, files] of wanted) {
      if (this.names.has(host)) continue;
      this.app.addServerName(host, { key_file_name: files.key, cert_file_name: files.cert });
      const scoped = this.app.domain(host);
      scoped.any('/*', this.handler);
      this.wsAttach?.(scoped);
      this.names.set(host, filesId(files));
    }
    return stale;
  }
}
