import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { AcmeStorageError } from './acme-errors.js';

/** A certificate held in storage, checked (parsed, its key matching). */
export interface StoredCertificate {
  readonly name: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** epoch ms */
  readonly notBefore: number;
  readonly notAfter: number;
  /** SHA-256 of cert.pem: another replica's renewal shows as a new fingerprint */
  readonly fingerprint: string;
}

interface Meta {
  name: string;
  issued: string;
  notBefore: string;
  notAfter: string;
  fingerprint: string;
  directory?: string;
}

interface Lease {
  owner: string;
  until: number;
}

const ACCOUNT_DIR = '_account';

/**
 * ACME storage, a directory a volume may share between router replicas (DESIGN.md "Automatic
 * HTTPS"): `<storage>/<name>/{cert.pem,key.pem,meta.json}`, the account key in
 * `<storage>/_account/key.pem` (`_` is never in a host name), and a name's order lock in
 * `<storage>/<name>/lock.json` (a lease: the owner and until when). Files are written to a
 * temporary name and renamed (a reader never sees half a file); meta.json last. A corrupt file
 * throws AcmeStorageError once: it is moved aside (`<file>.corrupt-<ms>`) so that the next
 * read sees it missing and the controller replaces it.
 */
export class AcmeStorage {
  constructor(readonly dir: string) {}

  private nameDir(name: string): string {
    return join(this.dir, name);
  }

  /**
   * The name's stored certificate, null when there is none. A corrupt cert.pem or key.pem is
   * reported, moved aside, and the name has none (it is ordered again); a corrupt meta.json is
   * reported and rewritten from the certificate.
   */
  read(name: string, report: (err: AcmeStorageError) => void): StoredCertificate | null {
    try {
      return this.readOrThrow(name, report);
    } catch (err) {
      if (!(err instanceof AcmeStorageError)) throw err;
      report(err);
      return null;
    }
  }

  private readOrThrow(name: string, report: (err: AcmeStorageError) => void): StoredCertificate | null {
    const dir = this.nameDir(name);
    const certFile = join(dir, 'cert.pem');
    const keyFile = join(dir, 'key.pem');
    if (!existsSync(certFile) && !existsSync(keyFile)) return null;
    const certPem = this.readOrCorrupt(certFile);
    const keyPem = this.readOrCorrupt(keyFile);
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(certPem);
    } catch (err) {
      throw this.corrupt(certFile, `not a certificate (${(err as Error).message})`);
    }
    let keyOk: boolean;
    try {
      keyOk = cert.checkPrivateKey(createPrivateKey(keyPem));
    } catch (err) {
      throw this.corrupt(keyFile, `not a private key (${(err as Error).message})`);
    }
    if (!keyOk) throw this.corrupt(keyFile, 'does not match cert.pem');
    if (!cert.checkHost(name)) throw this.corrupt(certFile, `does not name ${name}`);
    const stored: StoredCertificate = {
      name, certFile, keyFile,
      notBefore: Date.parse(cert.validFrom), notAfter: Date.parse(cert.validTo),
      fingerprint: createHash('sha256').update(certPem).digest('hex'),
    };
    this.checkMeta(stored, report);
    return stored;
  }

  /** Stores a new certificate for `name` (key first, then cert, then meta.json); returns it as read back. */
  write(name: string, certPem: string, keyPem: string, directory: string): StoredCertificate {
    const dir = this.nameDir(name);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    atomicWrite(join(dir, 'key.pem'), keyPem, 0o600);
    atomicWrite(join(dir, 'cert.pem'), certPem, 0o644);
    const cert = new X509Certificate(certPem);
    const meta: Meta = {
      name, issued: new Date().toISOString(), notBefore: new Date(cert.validFrom).toISOString(), notAfter: new Date(cert.validTo).toISOString(),
      fingerprint: createHash('sha256').update(certPem).digest('hex'), directory,
    };
    atomicWrite(join(dir, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`, 0o644);
    const back = this.readOrThrow(name, (err) => {
      throw err;
    });
    if (back === null) throw new AcmeStorageError(join(dir, 'cert.pem'), 'missing right after it was written');
    return back;
  }

  /**
   * The account key (PEM), created by `create` when there is none. A corrupt one is moved aside
   * and replaced (a new account is registered), after `report` is told.
   */
  async accountKey(create: () => Promise<Buffer>, report: (err: AcmeStorageError) => void): Promise<Buffer> {
    const file = join(this.dir, ACCOUNT_DIR, 'key.pem');
    if (existsSync(file)) {
      try {
        const pem = this.readOrCorrupt(file);
        createPrivateKey(pem);
        return pem;
      } catch (err) {
        report(err instanceof AcmeStorageError ? err : this.corrupt(file, `not a private key (${(err as Error).message})`));
      }
    }
    const key = await create();
    mkdirSync(join(this.dir, ACCOUNT_DIR), { recursive: true, mode: 0o700 });
    // two replicas starting together: the first key written wins, both use it
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, key);
      closeSync(fd);
      return key;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      return readFileSync(file);
    }
  }

  /**
   * Takes the name's order lock for `leaseMs` (one order per name across replicas sharing the
   * storage). Returns null when taken, else the lease holding it now. An expired lease is taken
   * over.
   */
  lock(name: string, owner: string, leaseMs: number, now = Date.now()): Lease | null {
    const dir = this.nameDir(name);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = join(dir, 'lock.json');
    const mine: Lease = { owner, until: now + leaseMs };
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(file, 'wx', 0o644);
        writeSync(fd, JSON.stringify(mine));
        closeSync(fd);
        return null;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const held = this.readLease(file);
      if (held !== null && held.until > now && held.owner !== owner) return held;
      // expired, unreadable or ours: moved aside by one taker only (rename is atomic), then taken
      try {
        renameSync(file, `${file}.stale-${owner}`);
        rmSync(`${file}.stale-${owner}`, { force: true });
      } catch {
        // another taker moved it first
      }
    }
    return this.readLease(file) ?? { owner: '?', until: now + leaseMs };
  }

  /** Extends a lease this owner holds (a long order). */
  refreshLock(name: string, owner: string, leaseMs: number): void {
    const file = join(this.nameDir(name), 'lock.json');
    const held = this.readLease(file);
    if (held?.owner === owner) atomicWrite(file, JSON.stringify({ owner, until: Date.now() + leaseMs }), 0o644);
  }

  unlock(name: string, owner: string): void {
    const file = join(this.nameDir(name), 'lock.json');
    if (this.readLease(file)?.owner === owner) rmSync(file, { force: true });
  }

  private readLease(file: string): Lease | null {
    try {
      const j = JSON.parse(readFileSync(file, 'utf8')) as Partial<Lease>;
      return typeof j.owner === 'string' && typeof j.until === 'number' ? { owner: j.owner, until: j.until } : null;
    } catch {
      return null;
    }
  }

  /** meta.json describes cert.pem: rewritten from the certificate when missing, corrupt (reported) or stale. */
  private checkMeta(stored: StoredCertificate, report: (err: AcmeStorageError) => void): void {
    const file = join(this.nameDir(stored.name), 'meta.json');
    let problem: AcmeStorageError | null = null;
    if (existsSync(file)) {
      try {
        const meta = JSON.parse(readFileSync(file, 'utf8')) as Partial<Meta>;
        if (meta === null || typeof meta !== 'object' || typeof meta.fingerprint !== 'string') problem = new AcmeStorageError(file, 'not a certificate description');
        else if (meta.fingerprint === stored.fingerprint) return;
      } catch (err) {
        problem = new AcmeStorageError(file, `not JSON (${(err as Error).message})`);
      }
    }
    if (problem !== null) this.moveAside(file);
    const meta: Meta = {
      name: stored.name, issued: new Date(stored.notBefore).toISOString(), notBefore: new Date(stored.notBefore).toISOString(),
      notAfter: new Date(stored.notAfter).toISOString(), fingerprint: stored.fingerprint,
    };
    try {
      atomicWrite(file, `${JSON.stringify(meta, null, 2)}\n`, 0o644);
    } catch {
      // read-only storage: the certificate is still served
    }
    if (problem !== null) report(problem);
  }

  private readOrCorrupt(file: string): Buffer {
    try {
      return readFileSync(file);
    } catch (err) {
      throw this.corrupt(file, `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }

  private corrupt(file: string, reason: string): AcmeStorageError {
    this.moveAside(file);
    return new AcmeStorageError(file, reason);
  }

  private moveAside(file: string): void {
    try {
      renameSync(file, `${file}.corrupt-${Date.now()}`);
    } catch {
      // gone already
    }
  }
}

function atomicWrite(file: string, data: string | Buffer, mode: number): void {
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  writeFileSync(tmp, data, { mode });
  renameSync(tmp, file);
}
