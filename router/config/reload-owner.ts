import { dirname, resolve } from 'node:path';
import type { Logger } from '../../shared/logger.js';
import { ConfigError } from '../../shared/errors.js';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseJsonDocument } from '../../shared/config-file.js';
import { validateRouterConfig, type LoadedConfig } from './load.js';
import { diffDocuments, diffSummary, isEmptyDiff, type DocumentDiff } from './document-diff.js';
import { scopeOf } from './scoped-validation.js';
import { applyMergePatch, isJsonObject } from './merge-patch.js';
import { RevisionHistory, type Revision, type RevisionSource } from './revision-history.js';
import { PreconditionFailedError, RevisionNotHeldError } from './config-errors.js';
import { certificateFingerprint } from './certificate-fingerprint.js';
import type { ConfigMetrics } from './config-metrics.js';

/** What asked for a reload. */
export type ReloadTrigger = 'put' | 'patch' | 'rollback' | 'sighup' | 'watch';

/** how a trigger shows in the router's log (`reason`) */
const REASONS: Record<ReloadTrigger, string> = {
  put: 'PUT /config', patch: 'PATCH /config', rollback: 'POST /config/rollback', sighup: 'SIGHUP', watch: 'file change',
};
const SOURCES: Record<ReloadTrigger, RevisionSource> = { put: 'put', patch: 'patch', rollback: 'rollback', sighup: 'file', watch: 'file' };

/** `If-Match`: any revision (`*`) or one of these (strong entity tags, as written). */
export type RevisionPrecondition = { readonly any: true; readonly header: string } | { readonly revisions: readonly number[]; readonly header: string };

/** Applies a validated document to every worker, all or nothing (the WorkerPool). */
export interface ConfigApplier {
  /** `diff` is the change from the running document (null: send it whole); how it went, for the log */
  apply(next: LoadedConfig, diff: DocumentDiff | null): Promise<{ readonly mode: string; readonly workerMs: number } | void>;
}

/** What an accepted request or reload led to. */
export interface ReloadOutcome {
  /** the running revision afterwards */
  readonly revision: number;
  /** its content version (12 hex digits) */
  readonly version: string;
  /** false: the document equals the running one (nothing applied, no new revision) */
  readonly applied: boolean;
}

interface Job {
  readonly trigger: ReloadTrigger;
  readonly run: () => Promise<ReloadOutcome>;
  readonly waiters: { resolve: (o: ReloadOutcome) => void; reject: (e: unknown) => void }[];
}

interface Candidate {
  doc: unknown;
  baseDir: string;
  /** read and compare the certificate files (PUT, file, rollback); a patch not touching them does not */
  certificates: boolean;
  restored?: number;
  /** SHA-256 of the file's text, when the candidate was read from the file */
  fileText?: string;
}

/**
 * The one owner of the running config: every change (file change, SIGHUP, PUT, PATCH,
 * rollback) goes through its single queue, in arrival order, one at a time. Each job reads
 * the running revision when its turn comes, so a PATCH that arrives during a file reload is
 * merged into the file's document, never into a stale one and never lost; If-Match is
 * checked then too, so of two writers racing with the same If-Match exactly one wins. SIGHUP
 * and file changes re-read the file and the file wins over earlier patches (a file change
 * event whose file did not change since it was last read keeps the running document: only its
 * certificate files are compared again).
 *
 * Each job: build the candidate document (sharing the running one's unchanged parts), diff it,
 * validate what changed (scoped-validation.ts), apply it through the ConfigApplier with the
 * diff (workers recompile only what changed), record a revision, count and log it.
 */
/** The config file's text; unreadable is a ConfigError naming the file, as at start. */
function readConfigText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`cannot read file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`], path);
  }
}

export class ReloadOwner {
  readonly history: RevisionHistory;
  private readonly queue: Job[] = [];
  /** the job running now */
  private running: Job | null = null;
  private readonly file: string;
  /** SHA-256 of the file's text as last read: a change event finding the same text keeps the running document */
  private fileText: string;
  private fingerprint: string;

  /** `fileTextSha256`: SHA-256 of the file's text `initial` was read from ('' when unknown: the next change event applies the file) */
  constructor(file: string, initial: LoadedConfig, fileTextSha256: string, private readonly applier: ConfigApplier, private readonly metrics: ConfigMetrics,
    private readonly logger: Logger, private readonly onApplied: (l: LoadedConfig) => void = () => undefined, history = new RevisionHistory()) {
    this.file = resolve(file);
    this.history = history;
    this.history.add('file', initial);
    this.fileText = fileTextSha256;
    this.fingerprint = certificateFingerprint(initial);
    metrics.revision(this.history.current.revision);
  }

  get current(): Revision {
    return this.history.current;
  }

  /** SIGHUP or a change in the watched directories. */
  reloadFile(trigger: 'sighup' | 'watch'): Promise<ReloadOutcome> {
    // a file reload already waiting reads the file when its turn comes: a second one adds nothing
    const last = this.queue[this.queue.length - 1];
    if (last !== undefined && last.trigger === trigger) return this.wait(last);
    return this.enqueue(trigger, () => this.change(trigger, null, () => {
      const text = readConfigText(this.file);
      const textSha256 = createHash('sha256').update(text).digest('hex');
      if (trigger === 'watch' && textSha256 === this.fileText) {
        // the file did not change (another file of a watched directory did): the running
        // document stays, patches included; the certificate files are compared again
        const running = this.current.loaded;
        return { doc: running.config, baseDir: running.baseDir, certificates: true };
      }
      return { doc: parseJsonDocument(text, this.file), baseDir: dirname(this.file), certificates: true, fileText: textSha256 };
    }));
  }

  /** PUT /config: a whole document as text. */
  put(text: string, expect: RevisionPrecondition | null): Promise<ReloadOutcome> {
    return this.enqueue('put', () => this.change('put', expect, () => ({
      doc: parseJsonDocument(text, 'config'), baseDir: this.current.loaded.baseDir, certificates: true,
    })));
  }

  /** PATCH /config: an RFC 7396 merge patch as text (a JSON object). */
  patch(text: string, expect: RevisionPrecondition | null): Promise<ReloadOutcome> {
    return this.enqueue('patch', () => this.change('patch', expect, () => {
      const patch = parseJsonDocument(text, 'patch');
      if (!isJsonObject(patch)) throw new ConfigError(['(patch): a merge patch of the config must be a JSON object'], 'patch');
      const running = this.current.loaded;
      return { doc: applyMergePatch(running.config, patch), baseDir: running.baseDir, certificates: false };
    }));
  }

  /** POST /config/rollback: revision `n`'s document again, as a new revision. */
  rollback(n: number, expect: RevisionPrecondition | null): Promise<ReloadOutcome> {
    return this.enqueue('rollback', () => this.change('rollback', expect, () => {
      const held = this.history.get(n);
      if (held === undefined) throw new RevisionNotHeldError(n, this.history.list().map((r) => r.revision));
      return { doc: held.loaded.config, baseDir: held.loaded.baseDir, certificates: true, restored: n };
    }));
  }

  private enqueue(trigger: ReloadTrigger, run: () => Promise<ReloadOutcome>): Promise<ReloadOutcome> {
    const job: Job = { trigger, run, waiters: [] };
    const p = this.wait(job);
    this.logger.debug({ reason: REASONS[trigger], behind: this.running === null ? null : REASONS[this.running.trigger], waiting: this.queue.length }, 'config change queued');
    this.queue.push(job);
    this.drain();
    return p;
  }

  private wait(job: Job): Promise<ReloadOutcome> {
    return new Promise((resolve, reject) => job.waiters.push({ resolve, reject }));
  }

  private drain(): void {
    if (this.running !== null) return;
    const job = this.queue.shift();
    if (job === undefined) return;
    this.running = job;
    this.logger.debug({ reason: REASONS[job.trigger] }, 'config change started');
    job.run().then(
      (o) => { for (const w of job.waiters) w.resolve(o); },
      (e: unknown) => { for (const w of job.waiters) w.reject(e); },
    ).finally(() => {
      this.running = null;
      this.drain();
    });
  }

  private checkPrecondition(expect: RevisionPrecondition | null): void {
    if (expect === null || 'any' in expect) return;
    const running = this.current.revision;
    if (!expect.revisions.includes(running)) throw new PreconditionFailedError(expect.header, running);
  }

  /** One job: candidate, diff, scoped validation, apply, revision, count, log. */
  private async change(trigger: ReloadTrigger, expect: RevisionPrecondition | null,
    build: () => Candidate): Promise<ReloadOutcome> {
    const source = SOURCES[trigger];
    const reason = REASONS[trigger];
    const started = performance.now();
    let stats: { readonly mode: string; readonly workerMs: number } | void;
    const running = this.current;
    let next: LoadedConfig;
    let diff: DocumentDiff | null;
    let candidate: Candidate;
    try {
      this.checkPrecondition(expect);
      candidate = build();
      diff = isJsonObject(candidate.doc) ? diffDocuments(running.loaded.config as unknown as Record<string, unknown>, candidate.doc) : null;
      const scope = diff === null || candidate.baseDir !== running.loaded.baseDir ? undefined : scopeOf(diff, candidate.certificates);
      next = validateRouterConfig(candidate.doc, trigger === 'sighup' || trigger === 'watch' ? this.file : 'config', candidate.baseDir, scope);
    } catch (err) {
      this.refused(trigger, source, reason, err);
      throw err;
    }
    const fingerprint = candidate.certificates ? certificateFingerprint(next) : this.fingerprint;
    const certificates = fingerprint === this.fingerprint ? 'unchanged' : 'changed';
    const same = diff !== null && isEmptyDiff(diff) && next.baseDir === running.loaded.baseDir;
    if (same && certificates === 'unchanged') {
      if (candidate.fileText !== undefined) this.fileText = candidate.fileText;
      // a change event that changed nothing is not a change: neither counted nor logged
      if (trigger !== 'watch') this.metrics.outcome(source, trigger, 'unchanged');
      if (trigger !== 'watch') this.logger.info({ version: running.loaded.version, revision: running.revision, reason }, 'config unchanged');
      return { revision: running.revision, version: running.loaded.version, applied: false };
    }
    try {
      // new certificate files: every worker gets the whole document (its TLS listener re-reads them)
      stats = await this.applier.apply(same ? running.loaded : next, certificates === 'changed' ? null : diff);
    } catch (err) {
      this.metrics.outcome(source, trigger, 'failed');
      this.logger.error({ reason, version: next.version, running: running.loaded.version, revision: running.revision,
        problems: (err as { problems?: readonly string[] }).problems, err: (err as Error).message },
      'config reload failed; every worker keeps the running config');
      throw err;
    }
    this.fingerprint = fingerprint;
    if (candidate.fileText !== undefined) this.fileText = candidate.fileText;
    const revision = same ? running : this.history.add(source, next, candidate.restored);
    const ms = Math.round((performance.now() - started) * 10) / 10;
    this.metrics.outcome(source, trigger, 'applied', ms / 1000);
    this.metrics.revision(revision.revision);
    this.logger.info({
      revision: revision.revision, source, version: revision.loaded.version, previous: running.loaded.version, certificates, reason,
      ...(candidate.restored === undefined ? {} : { restored: candidate.restored }),
      changed: diff === null ? 'all' : diffSummary(diff), ms, ...(stats ? { workers: stats } : {}),
    }, 'config applied');
    this.onApplied(revision.loaded);
    return { revision: revision.revision, version: revision.loaded.version, applied: true };
  }

  private refused(trigger: ReloadTrigger, source: RevisionSource, reason: string, err: unknown): void {
    if (err instanceof PreconditionFailedError) {
      this.metrics.outcome(source, trigger, 'stale');
      this.logger.info({ reason, ifMatch: err.expected, revision: err.running }, 'config change refused: If-Match does not match the running revision');
    } else if (err instanceof RevisionNotHeldError) {
      this.metrics.outcome(source, trigger, 'missing');
      this.logger.info({ reason, revision: err.revision }, 'config rollback refused: revision not held');
    } else {
      this.metrics.outcome(source, trigger, 'refused');
      this.logger.error({ reason, problems: (err as { problems?: readonly string[] }).problems, err: (err as Error).message },
        'config reload refused; keeping the running config');
    }
  }
}
