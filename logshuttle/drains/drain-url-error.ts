import { EdgeplaneError } from '../../shared/errors.js';

/** A drain URL that cannot be used: unparseable, unsupported scheme, bad host or port. */
export class DrainUrlError extends EdgeplaneError {
  readonly url: string;
  readonly reason: string;
  constructor(url: string, reason: string) {
    super('E_DRAIN_URL', `bad drain URL ${JSON.stringify(redactForMessage(url))}: ${reason}`);
    this.url = url;
    this.reason = reason;
  }
}

/** Masks a password in a URL-ish string so error messages never leak credentials. */
function redactForMessage(url: string): string {
  return url.replace(/^([a-z0-9+.-]+:\/\/[^:/@]*:)[^@/]*@/i, '$1***@');
}
