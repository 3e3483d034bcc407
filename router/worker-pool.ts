import { Worker } from 'node:worker_threads';
import type { Logger } from '../shared/logger.js';
import type { LoadedConfig } from './config/load.js';
import type { FromWorker, ListenerName, ToWorker, WorkerStart } from './server/worker-messages.js';

const WORKER_FILE = new URL('./server/router-worker.js', import.meta.url);

interface Slot {
  worker: Worker;
  ready: boolean;
  stopping: boolean;
}

/**
 * The router's worker threads: N uWS apps on the same ports. Port 0 in the config is resolved
 * by the first worker and shared with the others. Every config reaches every worker; a worker
 * that dies is replaced with the current config.
 */
export class WorkerPool {
  private readonly slots: Slot[] = [];
  private current: LoadedConfig;
  ports: Partial<Record<ListenerName, number>> = {};
  private stopping = false;

  constructor(private readonly count: number, initial: LoadedConfig, private readonly logger: Logger) {
    this.current = initial;
  }

  async start(): Promise<void> {
    for (let i = 0; i < this.count; i++) await this.spawn(i);
  }

  private spawn(index: number): Promise<void> {
    const start: WorkerStart = {
      index,
      config: this.current.config,
      version: this.current.version,
      baseDir: this.current.baseDir,
      ports: this.ports,
    };
    const worker = new Worker(WORKER_FILE, { workerData: start });
    const slot: Slot = { worker, ready: false, stopping: false };
    this.slots[index] = slot;
    return new Promise((resolve, reject) => {
      worker.on('message', (msg: FromWorker) => {
        if (msg.type === 'ready') {
          slot.ready = true;
          if (index === 0 || Object.keys(this.ports).length === 0) this.ports = { ...msg.ports };
          resolve();
        } else if (msg.type === 'fatal') {
          reject(new Error(msg.message));
        } else if (msg.type === 'apply-failed') {
          this.logger.error({ worker: index, version: msg.version, message: msg.message }, 'worker could not apply config');
        }
      });
      worker.on('error', (err) => {
        this.logger.error({ err, worker: index }, 'router worker crashed');
        if (!slot.ready) reject(err);
      });
      worker.on('exit', (code) => {
        if (this.stopping || slot.stopping) return;
        this.logger.error({ worker: index, code }, 'router worker exited; replacing it');
        setTimeout(() => {
          if (!this.stopping) this.spawn(index).catch((err) => this.logger.error({ err }, 'worker replacement failed'));
        }, 100).unref();
      });
    });
  }

  /** Sends a validated config to every worker. */
  apply(loaded: LoadedConfig): void {
    this.current = loaded;
    const msg: ToWorker = { type: 'config', config: loaded.config, version: loaded.version, baseDir: loaded.baseDir };
    for (const s of this.slots) s?.worker.postMessage(msg);
  }

  get version(): string {
    return this.current.version;
  }

  get config(): LoadedConfig {
    return this.current;
  }

  /** Graceful stop of every worker: listeners closed, in-flight requests finish within the deadline. */
  async stop(deadlineMs: number): Promise<void> {
    this.stopping = true;
    await Promise.all(this.slots.map((s) => new Promise<void>((resolve) => {
      if (!s) return resolve();
      s.stopping = true;
      const done = (): void => {
        void s.worker.terminate().then(() => resolve(), () => resolve());
      };
      s.worker.on('message', (m: FromWorker) => { if (m.type === 'stopped') done(); });
      s.worker.once('exit', () => resolve());
      s.worker.postMessage({ type: 'stop', deadlineMs } satisfies ToWorker);
      setTimeout(done, deadlineMs + 3000).unref();
    })));
  }
}
