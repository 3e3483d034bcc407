import { EdgeplaneError } from '../../shared/errors.js';

/** A file in ACME storage is corrupt or unreadable (reported, then replaced). */
export class AcmeStorageError extends EdgeplaneError {
  constructor(readonly file: string, readonly reason: string) {
    super('E_ACME_STORAGE', `${file}: ${reason}`);
  }
}

/** An order for a name failed (retried with backoff). */
export class AcmeOrderError extends EdgeplaneError {
  constructor(readonly domain: string, message: string, options?: { cause?: unknown }) {
    super('E_ACME_ORDER', `order for ${domain} failed: ${message}`, options);
  }
}

/** The ACME account could not be read, created or registered. */
export class AcmeAccountError extends EdgeplaneError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_ACME_ACCOUNT', `ACME account: ${message}`, options);
  }
}

/** Another router (or this one) holds the name's order lock. */
export class AcmeLockedError extends EdgeplaneError {
  constructor(readonly domain: string, readonly owner: string, readonly until: number) {
    super('E_ACME_LOCKED', `${domain}: another router (${owner}) is ordering it (lease until ${new Date(until).toISOString()})`);
  }
}

/** The on-demand ask URL did not answer (the name is refused). */
export class AcmeAskError extends EdgeplaneError {
  constructor(readonly domain: string, message: string) {
    super('E_ACME_ASK', `ask for ${domain} did not answer: ${message}`);
  }
}
