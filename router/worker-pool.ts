import { createServer, type AddressInfo } from 'node:net';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../shared/logger.js';
import type { LoadedConfig } from './config/load.js';
import type { FromWorker, ListenerName, ToWorker, WorkerStart } from './server/worker-messages.js';
import type { WorkerStatsSnapshot } from './metrics/worker-stats.js';
import type { BoardDescription } from './canary/board-layout.js';

/** A port the OS considers free on `host` right now. */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

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
  private canary: BoardDescription;
  ports: Partial<Record<ListenerName, number>> = {};
  private stopping = false;
  private nextId = 1;
  private readonly waiting = new Map<string, (msg: FromWorker) => void>();
  /** workers replaced after a crash */
  restarts = 0;

  constructor(private readonly count: number, initial: LoadedConfig, canary: BoardDescription, private readonly logger: Logger,
    private readonly extraWorkerData: Record<string, unknown> = {}) {
    this.current = initial;
    this.canary = canary;
  }

  async start(): Promise<void> {
    // uWS sets SO_REUSEPORT only on a fixed port: resolve port 0 here so that every worker
    // binds the same fixed port
    const listen = this.current.config.listen;
    for (const name of ['http', 'https', 'internal'] as const) {
      const spec = listen[name];
      if (spec && spec.port === 0 && this.count > 1) this.ports[name] = await freePort(spec.host);
    }
    for (let i = 0; i < this.count; i++) await this.spawn(i);
  }

  private spawn(index: number): Promise<void> {
    const start: WorkerStart = {
      index,
      config: this.current.config,
      version: this.current.version,
      baseDir: this.current.baseDir,
      ports: this.ports,
      canary: this.canary,
      ...this.extraWorkerData,
    };
    const worker = new Worker(WORKER_FILE, { workerData: start });
    const slot: Slot = { worker, ready: false, stopping: false };
    this.slots[index] = slot;
    return new Promise((resolve, reject) => {
      worker.on('message', (msg: FromWorker) => {
        switch (msg.type) {
          case 'ready':
            slot.ready = true;
            this.ports = { ...msg.ports, ...this.ports };
            resolve();
            break;
          case 'fatal':
            reject(new Error(msg.message));
            break;
          case 'apply-failed':
            this.logger.error({ worker: index, version: msg.version, message: msg.message }, 'worker could not apply config');
            this.waiting.get(`apply:${index}:${msg.version}`)?.(msg);
            break;
          case 'applied':
            this.waiting.get(`apply:${index}:${msg.version}`)?.(msg);
            break;
          case 'stats':
            this.waiting.get(`stats:${msg.id}:${index}`)?.(msg);
            break;
        }
      });
      worker.on('error', (err) => {
        this.logger.error({ err, worker: index }, 'router worker crashed');
        if (!slot.ready) reject(err);
      });
      worker.on('exit', (code) => {
        for (const [key, cb] of this.waiting) if (key.includes(`:${index}`)) cb({ type: 'stopped' });
        if (this.stopping || slot.stopping) return;
        this.logger.error({ worker: index, code }, 'router worker exited; replacing it');
        this.restarts++;
        setTimeout(() => {
          if (!this.stopping) this.spawn(index).catch((err) => this.logger.error({ err }, 'worker replacement failed'));
        }, 100).unref();
      });
    });
  }

  private ask(key: string, index: number, msg: ToWorker, timeoutMs: number): Promise<FromWorker | null> {
    const slot = this.slots[index];
    if (!slot?.ready) return Promise.resolve(null);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waiting.delete(key);
        resolve(null);
      }, timeoutMs);
      this.waiting.set(key, (m) => {
        clearTimeout(t);
        this.waiting.delete(key);
        resolve(m);
      });
      slot.worker.postMessage(msg);
    });
  }

  /** Sends a validated config to every worker; resolves once each has swapped its table. */
  async apply(loaded: LoadedConfig, canary: BoardDescription): Promise<void> {
    this.current = loaded;
    this.canary = canary;
    const msg: ToWorker = { type: 'config', config: loaded.config, version: loaded.version, baseDir: loaded.baseDir, canary };
    const answers = await Promise.all(this.slots.map((_, i) => this.ask(`apply:${i}:${loaded.version}`, i, msg, 10000)));
    const failed = answers.find((a) => a?.type === 'apply-failed');
    if (failed && failed.type === 'apply-failed') throw new Error(failed.message);
  }

  /** Every live worker's request counters. */
  async stats(): Promise<WorkerStatsSnapshot[]> {
    const id = this.nextId++;
    const answers = await Promise.all(this.slots.map((_, i) => this.ask(`stats:${id}:${i}`, i, { type: 'stats', id }, 2000)));
    return answers.flatMap((a) => (a?.type === 'stats' ? [a.snapshot] : []));
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
