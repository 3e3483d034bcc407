import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { Registry } from 'prom-client';
import type { Logger } from '../../shared/logger.js';
import type { LoadedConfig } from '../config/load.js';
import type { CertificateSpec } from '../front/tls-names.js';
import { ACME_DEFAULTS, acmeName, type AcmeConfig } from './acme-schema.js';
import { AcmeStorage, type StoredCertificate } from './acme-storage.js';
import { AcmeOrderer, type ChallengeSink } from './acme-orderer.js';
import { AskGate } from './ask-gate.js';
import { AcmeMetrics } from './acme-metrics.js';
import { OrderBudget } from './order-budget.js';
import { NameState } from './name-state.js';
import { AcmeLockedError, type AcmeStorageError } from './acme-errors.js';
import type { AcmeWorkerUpdate } from './acme-worker-state.js';

/** What the controller drives: every worker (the WorkerPool). Resolves once every ready worker has it. */
export interface AcmeTarget {
  setAcme(update: AcmeWorkerUpdate): Promise<void>;
}

const TICK_MS = 1000;
/** storage is read again this often for certificates another replica wrote */
const RESCAN_MS = 10000;
/** an order's lock lease, refreshed while the order runs */
const LEASE_MS = 5 * 60000;

/** a config's acme section with its paths resolved and defaults filled */
interface Settings {
  readonly key: string;
  readonly directory: string;
  readonly email: string | null;
  readonly storage: string;
  readonly caFile: string | null;
  readonly ask: string | null;
  readonly ratio: number;
  readonly retryBaseMs: number;
  readonly perMinute: number;
}

function settingsOf(acme: AcmeConfig, baseDir: string): Settings {
  const storage = resolve(baseDir, acme.storage);
  const caFile = acme.ca_file ? resolve(baseDir, acme.ca_file) : null;
  const s = {
    directory: acme.directory, email: acme.email ?? null, storage, caFile, ask: acme.on_demand?.ask ?? null,
    ratio: acme.renew_ratio ?? ACME_DEFAULTS.renew_ratio, retryBaseMs: (acme.retry_base_s ?? ACME_DEFAULTS.retry_base_s) * 1000,
    perMinute: acme.orders_per_minute ?? ACME_DEFAULTS.orders_per_minute,
  };
  // a new account or storage: a new orderer
  return { ...s, key: JSON.stringify([s.directory, s.email, s.storage, s.caFile]) };
}

/** Is `name` covered by one of the config's certificates (exactly, or by a `*.` wildcard one label deep)? */
function coveredBy(certs: readonly CertificateSpec[], name: string): boolean {
  const parent = name.slice(name.indexOf('.') + 1);
  for (const c of certs) {
    for (const h of c.hosts) {
      const host = h.toLowerCase().replace(/\.$/, '');
      if (host === name || host === `*.${parent}`) return true;
    }
  }
  return false;
}

/**
 * Automatic HTTPS (DESIGN.md "Automatic HTTPS"; docs/router/acme.md), in the main thread: the
 * names to hold certificates for (`acme.hosts`, and SNI names the `ask` URL approves), their
 * certificates from storage, orders (one per name at a time, at most `orders_per_minute`, a
 * lock lease shared with other replicas), renewal at `renew_ratio` of the lifetime, backoff
 * after failures (doubling up to a day), and the set every worker serves, pushed to them when
 * it changes. Nothing here ever stops serving: failures are logged, counted and retried.
 */
export class AcmeController {
  private settings: Settings | null = null;
  private storage: AcmeStorage | null = null;
  private orderer: AcmeOrderer | null = null;
  private gate: AskGate | null = null;
  private readonly names = new Map<string, NameState>();
  private configCerts: readonly CertificateSpec[] = [];
  private readonly metrics: AcmeMetrics;
  private readonly budget = new OrderBudget(ACME_DEFAULTS.orders_per_minute);
  private readonly challenges = new Map<string, string>();
  private readonly owner = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  private timer: NodeJS.Timeout | null = null;
  private lastRescan = 0;
  private cappedLogged = 0;
  /** the certificate set last pushed (to push only changes) */
  private pushed = '';
  private pushing: Promise<void> = Promise.resolve();
  private readonly asking = new Set<string>();
  /** no orders before the workers listen (they answer the challenges): start() */
  private started = false;

  constructor(registry: Registry, private readonly logger: Logger, private readonly target: AcmeTarget) {
    this.metrics = new AcmeMetrics(registry);
  }

  /**
   * The running config changed (or the router starts): the acme section, the names of `hosts`
   * (new ones ordered, removed ones no longer served), the config's certificates (they win).
   */
  sync(loaded: LoadedConfig): void {
    const acme = loaded.config.acme;
    this.configCerts = (loaded.config.certificates ?? []).map((c) => ({ ...c, cert: resolve(loaded.baseDir, c.cert), key: resolve(loaded.baseDir, c.key) }));
    if (acme === undefined) {
      if (this.settings !== null) this.logger.info('acme: section removed; issued certificates are no longer served');
      this.settings = null;
      this.storage = this.orderer = this.gate = null;
      for (const n of this.names.values()) this.metrics.dropped(n.name);
      this.names.clear();
      this.stopTimer();
      this.push();
      return;
    }
    const next = settingsOf(acme, loaded.baseDir);
    if (this.settings?.key !== next.key) {
      this.storage = new AcmeStorage(next.storage);
      this.orderer = new AcmeOrderer({ directory: next.directory, email: next.email, caFile: next.caFile, storage: this.storage,
        challenges: this.challengeSink, reportStorage: this.reportStorage });
      for (const n of this.names.values()) n.seen = '';
    }
    if (this.settings?.ask !== next.ask) this.gate = next.ask === null ? null : new AskGate(next.ask, (err) => {
      this.metrics.ask('error');
      this.logger.warn({ code: err.code, name: err.domain, err: err.message }, 'acme: the ask URL did not answer; name refused');
    });
    this.settings = next;
    this.budget.limit = next.perMinute;
    const wanted = new Set<string>();
    for (const h of acme.hosts ?? []) {
      const name = acmeName(h);
      if (name === null) continue;
      if (coveredBy(this.configCerts, name)) {
        if (!this.names.has(name)) this.logger.info({ name }, 'acme: a configured certificate covers this name; it wins, no order');
        continue;
      }
      wanted.add(name);
    }
    for (const [name, n] of this.names) {
      const keep = wanted.has(name) || (n.source === 'on-demand' && next.ask !== null && !coveredBy(this.configCerts, name));
      if (!keep) {
        this.names.delete(name);
        this.metrics.dropped(name);
        this.logger.info({ name }, 'acme: name removed from the config; its certificate is no longer served');
      }
    }
    for (const name of wanted) {
      const n = this.names.get(name);
      if (n === undefined) this.adopt(new NameState(name, 'hosts'));
      else n.source = 'hosts';
    }
    this.startTimer();
    this.push();
    this.tick();
  }

  /** A worker saw a TLS handshake for a name it has no certificate for. */
  onDemand(host: string): void {
    const s = this.settings;
    if (s === null || s.ask === null || this.gate === null) return;
    const name = acmeName(host);
    if (name === null || this.names.has(name) || this.asking.has(name) || coveredBy(this.configCerts, name)) return;
    // one held in storage (an earlier approval, another replica's order) is served at once
    const state = new NameState(name, 'on-demand');
    if (this.readStored(state)) {
      this.adopt(state);
      this.push();
      return;
    }
    this.asking.add(name);
    const gate = this.gate;
    void gate.ask(name).then((answer) => {
      this.asking.delete(name);
      if (this.gate !== gate) return;
      if (answer !== 'error') this.metrics.ask(answer);
      if (answer !== 'yes') {
        if (answer === 'no') this.logger.info({ name }, 'acme: on-demand name refused by the ask URL; no order');
        return;
      }
      if (this.names.has(name)) return;
      this.logger.info({ name }, 'acme: on-demand name approved by the ask URL');
      this.adopt(state);
      this.tick();
    });
  }

  /** The workers listen: orders may start (sync() before this only loads storage). */
  start(): void {
    this.started = true;
    this.tick();
  }

  stop(): void {
    this.started = false;
    this.stopTimer();
  }

  private adopt(n: NameState): void {
    this.names.set(n.name, n);
    if (n.cert === null) this.readStored(n);
  }

  /** Reads the name's certificate from storage when cert.pem changed since last read; true when it has one. */
  private readStored(n: NameState): boolean {
    if (this.storage === null) return false;
    let seen = '';
    try {
      const st = statSync(join(this.storage.dir, n.name, 'cert.pem'));
      seen = `${st.mtimeMs}:${st.size}`;
    } catch {
      seen = 'none';
    }
    if (seen === n.seen) return n.cert !== null;
    n.seen = seen;
    if (seen === 'none' && n.cert === null) return false;
    const stored = this.storage.read(n.name, this.reportStorage);
    if (stored !== null && stored.fingerprint !== n.cert?.fingerprint) {
      if (n.cert !== null) this.logger.info({ name: n.name, notAfter: new Date(stored.notAfter).toISOString() }, 'acme: newer certificate found in storage');
      n.succeeded(stored);
      this.metrics.expires(n.name, stored.notAfter);
    } else if (stored === null && n.cert !== null) {
      // gone, or moved aside as corrupt: ordered again, the default certificate served meanwhile
      n.cert = null;
      n.notBefore = 0;
      this.metrics.dropped(n.name);
    }
    return n.cert !== null;
  }

  private startTimer(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Starts the orders that are due (within the budget); now and then reads storage for other replicas' work. */
  private tick(): void {
    const s = this.settings;
    if (s === null || !this.started) return;
    const now = Date.now();
    if (now - this.lastRescan >= RESCAN_MS) {
      this.lastRescan = now;
      let changed = false;
      for (const n of this.names.values()) {
        if (n.ordering) continue;
        const before = n.cert?.fingerprint;
        this.readStored(n);
        if (n.cert?.fingerprint !== before) changed = true;
      }
      if (changed) this.push();
    }
    for (const n of this.names.values()) {
      if (!n.ready(s.ratio, now)) continue;
      if (!this.budget.take()) {
        if (now - this.cappedLogged >= 60000) {
          this.cappedLogged = now;
          this.logger.warn({ perMinute: s.perMinute }, 'acme: orders_per_minute reached; the next orders wait');
        }
        return;
      }
      void this.order(n, s);
    }
  }

  private async order(n: NameState, s: Settings): Promise<void> {
    const storage = this.storage!;
    const orderer = this.orderer!;
    n.ordering = true;
    const renewal = n.cert !== null;
    const started = Date.now();
    let refresh: NodeJS.Timeout | null = null;
    try {
      // another replica may have renewed it meanwhile
      n.seen = '';
      this.readStored(n);
      if (!n.due(s.ratio, Date.now())) {
        this.push();
        return;
      }
      const held = storage.lock(n.name, this.owner, LEASE_MS);
      if (held !== null) {
        this.metrics.order('locked');
        n.notBefore = Math.min(held.until, Date.now() + RESCAN_MS);
        const err = new AcmeLockedError(n.name, held.owner, held.until);
        this.logger.info({ code: err.code, name: n.name, owner: held.owner, err: err.message }, 'acme: another router is ordering this name; waiting for its certificate');
        return;
      }
      refresh = setInterval(() => storage.refreshLock(n.name, this.owner, LEASE_MS), LEASE_MS / 5);
      refresh.unref();
      this.logger.info({ name: n.name, reason: renewal ? 'renewal' : 'new', source: n.source, directory: s.directory }, 'acme: order started');
      const issued = await orderer.order(n.name);
      if (this.names.get(n.name) !== n) return;
      const stored = storage.write(n.name, issued.cert, issued.key, s.directory);
      n.succeeded(stored);
      n.seen = '';
      this.metrics.order(renewal ? 'renewed' : 'issued');
      this.metrics.expires(n.name, stored.notAfter);
      this.logger.info({ name: n.name, result: renewal ? 'renewed' : 'issued', notAfter: new Date(stored.notAfter).toISOString(), ms: Date.now() - started },
        'acme: certificate issued');
      this.push();
    } catch (err) {
      const wait = n.failed(s.retryBaseMs, Date.now());
      this.metrics.order('failed');
      this.logger.error({ code: (err as { code?: string }).code ?? 'E_ACME_ORDER', name: n.name, err: (err as Error).message, failures: n.failures,
        retryInS: Math.round(wait / 1000) }, 'acme: order failed; retrying with backoff (the name keeps its current certificate or the default one)');
    } finally {
      if (refresh !== null) clearInterval(refresh);
      try {
        storage.unlock(n.name, this.owner);
      } catch {
        // storage gone: the lease expires
      }
      n.ordering = false;
    }
  }

  /** Sends every worker the issued certificates when the set changed (in order; the last one wins). */
  private push(): void {
    const certificates: CertificateSpec[] = [];
    for (const n of this.names.values()) {
      if (n.cert === null || n.cert.notAfter <= Date.now()) continue;
      certificates.push({ hosts: [n.name], cert: n.cert.certFile, key: n.cert.keyFile });
    }
    const id = JSON.stringify([this.settings?.ask != null, ...[...this.names.values()].map((n) => n.cert === null ? '' : `${n.name}:${n.cert.fingerprint}`)]);
    if (id === this.pushed) return;
    this.pushed = id;
    const update: AcmeWorkerUpdate = { certificates, onDemand: this.settings?.ask != null };
    this.pushing = this.pushing.then(() => this.target.setAcme(update)).catch((err: Error) => {
      this.logger.error({ err: err.message }, 'acme: could not hand the certificates to every worker');
    });
  }

  private readonly challengeSink: ChallengeSink = {
    set: (token, keyAuthorization) => {
      this.challenges.set(token, keyAuthorization);
      return this.target.setAcme({ challenges: Object.fromEntries(this.challenges) });
    },
    remove: (token) => {
      this.challenges.delete(token);
      return this.target.setAcme({ challenges: Object.fromEntries(this.challenges) });
    },
  };

  private readonly reportStorage = (err: AcmeStorageError): void => {
    this.metrics.storageError();
    this.logger.error({ code: err.code, file: err.file, reason: err.reason }, 'acme: corrupt file in storage; moved aside and replaced');
  };

  /** Names and their certificates (for logs and tests). */
  get held(): ReadonlyMap<string, StoredCertificate | null> {
    return new Map([...this.names].map(([k, n]) => [k, n.cert]));
  }
}
