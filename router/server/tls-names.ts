import { resolve } from 'node:path';
import type { TemplatedApp } from 'uWebSockets.js';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';

export interface CertificateSpec {
  readonly hosts: readonly string[];
  readonly cert: string;
  readonly key: string;
}

type Handler = (res: HttpResponse, req: HttpRequest) => void;

/**
 * The SNI names of one uWS SSLApp. Each certificate serves the hosts it lists (uWS matches
 * exact names before wildcards); the first certificate is the app's default for unknown
 * names. A reload adds and removes server names by difference, without a restart.
 * Note: this uWS build prints a debug line on stdout for each server name it adds.
 */
export class TlsNames {
  /** host -> "cert|key" currently registered */
  private readonly names = new Map<string, string>();

  constructor(private readonly app: TemplatedApp, private readonly handler: Handler, private readonly wsAttach?: (app: TemplatedApp) => void) {}

  static defaultOptions(certs: readonly CertificateSpec[], baseDir: string): { key_file_name: string; cert_file_name: string } {
    return { key_file_name: resolve(baseDir, certs[0].key), cert_file_name: resolve(baseDir, certs[0].cert) };
  }

  apply(certs: readonly CertificateSpec[], baseDir: string): void {
    const wanted = new Map<string, { key: string; cert: string }>();
    for (const c of certs) {
      const files = { key: resolve(baseDir, c.key), cert: resolve(baseDir, c.cert) };
      for (const h of c.hosts) {
        const host = h.toLowerCase().replace(/\.$/, '');
        if (!wanted.has(host)) wanted.set(host, files); // the first certificate naming a host wins
      }
    }
    for (const [host, id] of this.names) {
      const w = wanted.get(host);
      if (!w || `${w.cert}|${w.key}` !== id) {
        this.app.removeServerName(host);
        this.names.delete(host);
      }
    }
    for (const [host, files] of wanted) {
      if (this.names.has(host)) continue;
      this.app.addServerName(host, { key_file_name: files.key, cert_file_name: files.cert });
      const scoped = this.app.domain(host);
      scoped.any('/*', this.handler);
      this.wsAttach?.(scoped);
      this.names.set(host, `${files.cert}|${files.key}`);
    }
  }
}
