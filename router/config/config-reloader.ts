import { watch, type FSWatcher } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Logger } from '../../shared/logger.js';

/** What makes the file be read again: a signal, or a change in the config file's directory. */
export type FileTrigger = 'sighup' | 'watch';

/** quiet time after the last change in the directory before the file is read */
const WATCH_SETTLE_MS = 100;

/**
 * Re-reads the config file on SIGHUP (at once) and when its directory changes (after 100 ms
 * without further changes). The directory is watched, not the file, so Kubernetes-style
 * symlink swaps (`config.json -> ..data/config.json`, `..data` renamed to a new timestamped
 * directory) are seen too, and so are the directories of the certificate files (watchAlso).
 * Reading, validating, applying, logging and counting is the ReloadOwner's job (its queue
 * orders these with the admin API's changes); this class only says when.
 */
export class ConfigReloader {
  private watcher: FSWatcher | null = null;
  /** directories of the running config's certificate files, watched for renewals */
  private readonly extra = new Map<string, FSWatcher>();
  private timer: NodeJS.Timeout | null = null;
  private readonly file: string;
  private readonly onSighup = (): void => this.run('sighup');

  constructor(file: string, private readonly reload: (trigger: FileTrigger) => Promise<unknown>, private readonly logger: Logger) {
    this.file = resolve(file);
  }

  get path(): string {
    return this.file;
  }

  start(): void {
    process.on('SIGHUP', this.onSighup);
    try {
      // a symlink swap changes a sibling (`..data`), not the file: any change in the directory
      // is re-read, and an unchanged document (same version) is ignored
      this.watcher = watch(dirname(this.file), { persistent: false }, () => this.schedule());
      this.watcher.on('error', (err) => this.logger.warn({ err }, 'config watch failed; SIGHUP still reloads'));
    } catch (err) {
      this.logger.warn({ err }, 'cannot watch the config directory; SIGHUP still reloads');
    }
  }

  /**
   * Also watches these directories (the running config's certificate files: a certificate
   * renewed in place, e.g. a Kubernetes secret volume swap, reloads too). Replaces the last set.
   */
  watchAlso(dirs: readonly string[]): void {
    const own = dirname(this.file);
    const wanted = new Set(dirs.filter((d) => d !== own));
    for (const [dir, w] of this.extra) {
      if (!wanted.has(dir)) {
        w.close();
        this.extra.delete(dir);
      }
    }
    for (const dir of wanted) {
      if (this.extra.has(dir)) continue;
      try {
        const w = watch(dir, { persistent: false }, () => this.schedule());
        w.on('error', (err) => this.logger.warn({ err, dir }, 'certificate directory watch failed; SIGHUP still reloads'));
        this.extra.set(dir, w);
      } catch (err) {
        this.logger.warn({ err, dir }, 'cannot watch a certificate directory; SIGHUP still reloads');
      }
    }
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.run('watch');
    }, WATCH_SETTLE_MS);
    this.timer.unref();
  }

  private run(trigger: FileTrigger): void {
    // the outcome is logged and counted by the owner
    this.reload(trigger).catch(() => undefined);
  }

  stop(): void {
    process.off('SIGHUP', this.onSighup);
    this.watcher?.close();
    for (const w of this.extra.values()) w.close();
    this.extra.clear();
    if (this.timer) clearTimeout(this.timer);
  }
}
