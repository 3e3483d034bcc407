import type { StoredCertificate } from './acme-storage.js';

/** Backoff after failures: `base` doubled per failure in a row, up to one day. */
export const MAX_BACKOFF_MS = 24 * 3600 * 1000;

export function backoffMs(baseMs: number, failures: number): number {
  return Math.min(baseMs * 2 ** Math.max(0, failures - 1), MAX_BACKOFF_MS);
}

/** Where a name comes from: `acme.hosts`, or an SNI name the ask URL approved. */
export type NameSource = 'hosts' | 'on-demand';

/**
 * One name the controller keeps a certificate for: what it serves, whether an order runs, and
 * when it may try again after failures (one order per name at a time).
 */
export class NameState {
  cert: StoredCertificate | null = null;
  ordering = false;
  failures = 0;
  /** epoch ms before which no order starts (backoff, or another replica's lease) */
  notBefore = 0;
  /** cert.pem's mtime and size when last read (a change: another replica renewed it) */
  seen = '';

  constructor(readonly name: string, public source: NameSource) {}

  /** The certificate is missing, or less than `ratio` of its lifetime remains. */
  due(ratio: number, now: number): boolean {
    if (this.cert === null) return true;
    const { notBefore, notAfter } = this.cert;
    return now >= notAfter - ratio * (notAfter - notBefore);
  }

  /** May an order start now? */
  ready(ratio: number, now: number): boolean {
    return !this.ordering && now >= this.notBefore && this.due(ratio, now);
  }

  failed(baseMs: number, now: number): number {
    this.failures++;
    const wait = backoffMs(baseMs, this.failures);
    this.notBefore = now + wait;
    return wait;
  }

  succeeded(cert: StoredCertificate): void {
    this.cert = cert;
    this.failures = 0;
    this.notBefore = 0;
  }
}
