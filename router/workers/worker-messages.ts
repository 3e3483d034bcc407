import type { ErrorCode } from '../../shared/codes.js';
import type { RouterConfig } from '../config/schema.js';
import type { WorkerStatsSnapshot } from '../metrics/worker-stats.js';
import type { WorkerSecond } from '../metrics/worker-second.js';
import type { BoardDescription } from '../canary/board-layout.js';
import type { RateLimitMemory } from '../filters/rate-limit-table.js';
import type { ConfigDelta } from '../routing/table-compiler.js';
import type { AcmeWorkerUpdate } from '../acme/acme-worker-state.js';

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
  /** the shared canary board as of this config */
  canary: BoardDescription;
  /** ROUTER_TEST_HOOKS=1: the thread honours `test-crash` (README, Test hooks) */
  testHooks?: boolean;
  /** the process's rate-limit buckets, shared by every worker (created once by the pool) */
  rateLimits?: RateLimitMemory;
  /** one Int32 shared by the pool and every worker: the sequence number of the last committed change (table-switch.ts) */
  switchWord?: SharedArrayBuffer;
  /** issued ACME certificates and http-01 answers as of now (router/acme/) */
  acme?: AcmeWorkerUpdate;
}

export type ToWorker =
  /** one step: compile and swap at once (a worker brought to the running config) */
  | { type: 'config'; config: RouterConfig; version: string; baseDir: string; canary: BoardDescription }
  /** a change, first step: compile the next table, whole (`config`) or from the running one (`delta`), and answer `prepared` */
  | { type: 'prepare'; seq: number; version: string; baseDir: string; canary: BoardDescription; config?: RouterConfig; delta?: ConfigDelta }
  /** second step: every worker prepared, the shared word holds `seq`: swap (if no request did) and clean up */
  | { type: 'commit'; seq: number }
  /** some worker could not prepare: drop the prepared table */
  | { type: 'abort'; seq: number }
  | { type: 'stop'; deadlineMs: number }
  | { type: 'stats'; id: number }
  /** the dashboard's once-a-second collection: answer `second` with the counts since the last one */
  | { type: 'second'; tick: number }
  /** handled by the thread's shell (worker-entry): close every uWS app, then end the thread */
  | { type: 'exit'; code: number }
  /** test hook (only with ROUTER_TEST_HOOKS=1): throw an uncaught exception in the thread */
  | { type: 'test-crash' }
  /** ACME: issued certificates, http-01 answers (router/acme/); answered `acme-set` */
  | { type: 'acme'; id: number; update: AcmeWorkerUpdate };

export type FromWorker =
  | { type: 'ready'; ports: Partial<Record<ListenerName, number>> }
  /** the thread could not start; `code`: the error's registry code (E_LISTEN, E_TLS_LISTEN, ...) if it had one */
  | { type: 'fatal'; message: string; code?: ErrorCode }
  | { type: 'applied'; version: string }
  | { type: 'apply-failed'; version: string; message: string; seq?: number }
  /** the next table is compiled (in `ms`), waiting for commit */
  | { type: 'prepared'; seq: number; version: string; ms: number }
  | { type: 'stopped' }
  | { type: 'stats'; id: number; snapshot: WorkerStatsSnapshot }
  | { type: 'second'; tick: number; second: WorkerSecond }
  /** the thread's shell caught an uncaught exception; it closes its sockets and exits with 1 */
  | { type: 'crashed'; message: string }
  | { type: 'acme-set'; id: number }
  /** a TLS handshake named a host the listener has no certificate for (ACME on demand) */
  | { type: 'sni-miss'; name: string };
