import type { RouterConfig } from '../config/schema.js';
import type { WorkerStatsSnapshot } from '../metrics/worker-stats.js';

export type ListenerName = 'http' | 'https' | 'internal';

/** workerData of a router worker thread. */
export interface WorkerStart {
  index: number;
  config: RouterConfig;
  version: string;
  baseDir: string;
  /** actual ports when the config asked for port 0 (the first worker picks, the others share) */
  ports: Partial<Record<ListenerName, number>>;
  /** --log-stdout: access lines on stdout as well as to the shuttle */
  logStdout?: boolean;
}

export type ToWorker =
  | { type: 'config'; config: RouterConfig; version: string; baseDir: string }
  | { type: 'stop'; deadlineMs: number }
  | { type: 'stats'; id: number };

export type FromWorker =
  | { type: 'ready'; ports: Partial<Record<ListenerName, number>> }
  | { type: 'fatal'; message: string }
  | { type: 'applied'; version: string }
  | { type: 'apply-failed'; version: string; message: string }
  | { type: 'stopped' }
  | { type: 'stats'; id: number; snapshot: WorkerStatsSnapshot };
