import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import acme from 'acme-client';
import type { AcmeStorage } from './acme-storage.js';
import { AcmeAccountError, AcmeOrderError, type AcmeStorageError } from './acme-errors.js';

/** Where http-01 key authorizations go while an order runs (the workers' HTTP listeners). */
export interface ChallengeSink {
  /** resolves once every worker answers the token */
  set(token: string, keyAuthorization: string): Promise<void>;
  remove(token: string): Promise<void>;
}

export interface OrdererOptions {
  readonly directory: string;
  readonly email: string | null;
  /** PEM file of the CA that signs the ACME server's HTTPS certificate (a private server, pebble) */
  readonly caFile: string | null;
  readonly storage: AcmeStorage;
  readonly challenges: ChallengeSink;
  readonly reportStorage: (err: AcmeStorageError) => void;
}

/** An issued certificate: the chain and its new private key, PEM. */
export interface Issued {
  readonly cert: string;
  readonly key: string;
}

// acme-client's HTTP: a bounded wait per request, one retry on a server error (the controller backs off)
acme.axios.defaults.timeout = 30000;
(acme.axios.defaults as unknown as { acmeSettings: { retryMaxAttempts: number; retryDefaultDelay: number } }).acmeSettings.retryMaxAttempts = 1;
(acme.axios.defaults as unknown as { acmeSettings: { retryMaxAttempts: number; retryDefaultDelay: number } }).acmeSettings.retryDefaultDelay = 1;

/**
 * One ACME account (its key in storage) and orders for single names with http-01 (acme-client
 * 5's `auto`): a new P-256 key per certificate, the challenge's key authorization handed to the
 * workers before the CA is told to validate, removed after.
 */
export class AcmeOrderer {
  private client: acme.Client | null = null;

  constructor(private readonly opts: OrdererOptions) {
    if (opts.caFile !== null) {
      // acme-client talks through one axios instance: the private CA is trusted for the ACME server only
      acme.axios.defaults.httpsAgent = new Agent({ ca: readFileSync(opts.caFile), keepAlive: true });
    }
  }

  private async account(): Promise<acme.Client> {
    if (this.client !== null) return this.client;
    let key: Buffer;
    try {
      key = await this.opts.storage.accountKey(() => acme.crypto.createPrivateEcdsaKey(), this.opts.reportStorage);
    } catch (err) {
      throw new AcmeAccountError(`cannot read or create the account key in ${this.opts.storage.dir}: ${(err as Error).message}`, { cause: err });
    }
    const client = new acme.Client({ directoryUrl: this.opts.directory, accountKey: key, backoffAttempts: 15, backoffMin: 500, backoffMax: 5000 });
    try {
      // an existing key finds its account again (RFC 8555 7.3.1)
      await client.createAccount({ termsOfServiceAgreed: true, ...(this.opts.email ? { contact: [`mailto:${this.opts.email}`] } : {}) });
    } catch (err) {
      throw new AcmeAccountError(`cannot register with ${this.opts.directory}: ${(err as Error).message}`, { cause: err });
    }
    this.client = client;
    return client;
  }

  /** Orders a certificate for `name`; throws AcmeOrderError or AcmeAccountError. */
  async order(name: string): Promise<Issued> {
    const client = await this.account();
    try {
      const keyPem = await acme.crypto.createPrivateEcdsaKey();
      const [, csr] = await acme.crypto.createCsr({ commonName: name, altNames: [name] }, keyPem);
      const cert = await client.auto({
        csr,
        termsOfServiceAgreed: true,
        // the CA checks through our own listener; acme-client's own pre-check would fetch port 80
        skipChallengeVerification: true,
        challengePriority: ['http-01'],
        challengeCreateFn: (_authz, challenge, keyAuthorization) => this.opts.challenges.set(challenge.token, keyAuthorization),
        challengeRemoveFn: (_authz, challenge) => this.opts.challenges.remove(challenge.token),
      });
      return { cert, key: keyPem.toString() };
    } catch (err) {
      throw new AcmeOrderError(name, (err as Error).message, { cause: err });
    }
  }
}
