import { watch, type FSWatcher } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Logger } from '../../shared/logger.js';
import { loadRouterConfigFile, type LoadedConfig } from './load.js';

/**
 * Re-reads the config file on SIGHUP and when it changes. The directory is watched, not the
 * file, so Kubernetes-style symlink swaps (`..data` -> new timestamped dir) are seen too. A bad
 * file is logged with every problem and the running config stays.
 */
export class ConfigReloader {
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly file: string;
  private running: Promise<void> = Promise.resolve();

  constructor(file: string, private readonly currentVersion: () => string,
    private readonly apply: (loaded: LoadedConfig, reason: string) => Promise<void>, private readonly logger: Logger) {
    this.file = resolve(file);
  }

  start(): void {
    process.on('SIGHUP', () => this.schedule('SIGHUP', 0));
    try {
      // a symlink swap changes a sibling (`..data`), not the file: any change in the directory
      // is re-read, and an unchanged document (same version) is ignored
      this.watcher = watch(dirname(this.file), { persistent: false }, () => this.schedule('file change', 100));
      this.watcher.on('error', (err) => this.logger.warn({ err }, 'config watch failed; SIGHUP still reloads'));
    } catch (err) {
      this.logger.warn({ err }, 'cannot watch the config directory; SIGHUP still reloads');
    }
  }

  private schedule(reason: string, delayMs: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.running.then(() => this.reload(reason));
    }, delayMs);
    this.timer.unref();
  }

  private async reload(reason: string): Promise<void> {
    let loaded: LoadedConfig;
    try {
      loaded = loadRouterConfigFile(this.file);
    } catch (err) {
      this.logger.error({ reason, problems: (err as { problems?: string[] }).problems, err: (err as Error).message }, 'config reload refused; keeping the running config');
      return;
    }
    if (loaded.version === this.currentVersion()) return;
    try {
      await this.apply(loaded, reason);
    } catch (err) {
      this.logger.error({ err, reason }, 'config reload failed');
    }
  }

  stop(): void {
    this.watcher?.close();
    if (this.timer) clearTimeout(this.timer);
  }
}
