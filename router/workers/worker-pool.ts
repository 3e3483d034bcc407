import { createServer, type AddressInfo } from 'node:net';
import { Worker } from 'node:worker_threads';
import { EdgeplaneError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { LoadedConfig } from '../config/load.js';
import type { FromWorker, ListenerName, ToWorker, WorkerStart } from './worker-messages.js';
import type { WorkerStatsSnapshot } from '../metrics/worker-stats.js';
import type { WorkerSecond } from '../metrics/worker-second.js';
import type { BoardDescription } from '../canary/board-layout.js';
import { createRateLimitMemory, type RateLimitMemory } from '../filters/rate-limit-table.js';
import type { RouterConfig } from '../config/schema.js';
import { isEntryWise, type DocumentDiff } from '../config/document-diff.js';
import { deltaOf } from '../routing/table-compiler.js';
import type { AcmeWorkerUpdate } from '../acme/acme-worker-state.js';

/** A worker could not bind a listener (a port picked for port 0 may have been taken meanwhile). */
const isListenFailure = (err: unknown): boolean => err instanceof EdgeplaneError && (err.code === 'E_LISTEN' || err.code === 'E_TLS_LISTEN');

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

const WORKER_FILE = new URL('./worker-entry.js', import.meta.url);
const APPLY_TIMEOUT_MS = 10000;
const STATS_TIMEOUT_MS = 2000;
const EXIT_TIMEOUT_MS = 3000;
const RESTART_BASE_MS = 100;
const RESTART_MAX_MS = 10000;
/** a worker that lived this long is considered healthy again: its restart delay starts over */
const HEALTHY_AFTER_MS = 30000;
/**
 * The young generation of a worker thread (V8 semi-spaces: a third of this each, the rest for
 * young large objects). V8's default grows to 16 MiB semi-spaces under load: 32 MiB of RSS per
 * worker for garbage that dies within a request. 4 MiB semi-spaces hold the requests in flight
 * many times over; scavenges get more frequent but each copies only what is live, so req/s and
 * p99 do not change (bench/PROFILE.md "Router memory"). A `--max-semi-space-size` node flag
 * still takes precedence.
 */
const WORKER_YOUNG_GENERATION_MB = 12;

/** How an apply went: every worker got the change only (`delta`), the whole document (`full`), or some each (`mixed`). */
export interface ApplyStats {
  readonly mode: 'delta' | 'full' | 'mixed';
  /** the slowest worker's compile time */
  readonly workerMs: number;
}

/** Some worker could not apply a config; every worker keeps the running one. */
export class ConfigApplyError extends EdgeplaneError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super('E_APPLY', `config not applied: ${problems.join('; ')}`);
    this.problems = Object.freeze([...problems]);
  }
}

type Answer = FromWorker | 'timeout' | 'exited' | 'not-ready';

interface Slot {
  readonly index: number;
  readonly worker: Worker;
  readonly startedAt: number;
  ready: boolean;
  exited: boolean;
  /** asked to stop (pool stop or recycle): its exit is expected */
  stopping: boolean;
  /** replace it when it exits although it was asked to stop (recycle) */
  replace: boolean;
  /** the config version the thread runs now */
  version: string;
  /** pending questions of this worker only, by key (`prepare:<seq>`, `apply:<version>`, `stats:<id>`) */
  readonly waiting: Map<string, (answer: Answer) => void>;
}

export interface WorkerPoolOptions {
  /** extra workerData for every thread (e.g. logStdout) */
  workerData?: Partial<WorkerStart>;
  /** called once per worker replaced after an unexpected exit */
  onRestart?: (index: number) => void;
  /** a worker's answer to collectSeconds() (the dashboard), however late it comes */
  onSecond?: (index: number, tick: number, second: WorkerSecond) => void;
  /** a worker's TLS handshake named a host it has no certificate for (ACME on demand) */
  onSniMiss?: (name: string) => void;
}

export interface WorkerStats {
  index: number;
  threadId: number;
  snapshot: WorkerStatsSnapshot;
}

/**
 * The router's worker threads: N uWS apps on the same ports (SO_REUSEPORT; port 0 in the config
 * is resolved here once, see pickPorts).
 *
 * Config: apply() is all or nothing, in two steps. Every worker prepares the new table (whole,
 * or only what a change touched); once each has, the pool stores the change's number in a
 * word of shared memory, where every worker's next request reads it (all switch at once;
 * table-switch.ts), and posts `commit`. Only then does it become `config` (what GET /config
 * shows and what a replacement starts with). If any worker refuses it or does not answer in
 * time, every worker drops it (`abort`) and apply() throws ConfigApplyError: no worker ever ran
 * it. A worker that starts (or answers late) with another version than `config` is sent
 * `config`.
 *
 * A worker that exits unexpectedly (crash) is replaced with the current config, after a delay
 * that doubles with each crash in a row (100 ms up to 10 s). Stopping a worker: `stop` (the
 * worker closes its listeners and drains), then `exit` (its shell closes every uWS app, then the
 * thread ends); terminate() only as a last resort.
 */
export class WorkerPool {
  private readonly slots: Slot[] = [];
  private current: LoadedConfig;
  private canary: BoardDescription;
  ports: Partial<Record<ListenerName, number>> = {};
  private stopping = false;
  private started = false;
  private nextId = 1;
  private applying = false;
  /** sequence number of the last change sent to the workers */
  private seq = 0;
  /** shared with every worker: the sequence number of the last committed change (table-switch.ts) */
  private readonly switchWord = new Int32Array(new SharedArrayBuffer(4));
  private readonly crashesInARow: number[] = [];
  /** test hook: the next apply sends this worker a config it cannot apply */
  private faultyApply = new Set<number>();
  /** workers replaced after a crash */
  restarts = 0;
  /**
   * the rate-limit buckets of the whole process: one shared table every worker (and every
   * replacement) gets in its start data, so a count is exact across workers and survives
   * reloads and worker restarts
   */
  readonly rateLimits: RateLimitMemory = createRateLimitMemory();
  /** the ACME state every worker holds, and every new one starts with (router/acme/) */
  private acme: AcmeWorkerUpdate = {};

  constructor(private readonly count: number, initial: LoadedConfig, private readonly describe: (l: LoadedConfig) => BoardDescription,
    private readonly logger: Logger, private readonly options: WorkerPoolOptions = {}) {
    this.current = initial;
    this.canary = describe(initial);
  }

  async start(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const picked = await this.pickPorts();
      try {
        await Promise.all(Array.from({ length: this.count }, (_, i) => this.spawn(i)));
        break;
      } catch (err) {
        // a port picked for port 0 can be taken by someone else before the workers bind it
        if (picked === 0 || attempt >= 3 || !isListenFailure(err)) throw err;
        this.logger.warn({ err: (err as Error).message, attempt }, 'a port picked for port 0 was taken meanwhile; picking again');
        await this.endAll();
      }
    }
    this.started = true;
  }

  /**
   * uWS sets SO_REUSEPORT only on a fixed port: port 0 is resolved here so that every worker,
   * every replacement and every TLS generation binds the same fixed port. One worker too: its
   * replacement must bind while the dead one's connections are in TIME_WAIT, which only
   * SO_REUSEPORT on both allows.
   */
  private async pickPorts(): Promise<number> {
    this.ports = {};
    const listen = this.current.config.listen;
    let picked = 0;
    for (const name of ['http', 'https', 'internal'] as const) {
      const spec = listen[name];
      if (spec && spec.port === 0) {
        this.ports[name] = await freePort(spec.host);
        picked++;
      }
    }
    return picked;
  }

  /** Ends every thread started so far (a failed start), waiting for each to exit. */
  private async endAll(): Promise<void> {
    await Promise.all(this.slots.splice(0).map((s) => new Promise<void>((resolve) => {
      if (!s || s.exited) return resolve();
      s.worker.once('exit', () => resolve());
      this.exit(s, 0);
    })));
  }

  /** The config every worker runs (the last one applied by all). */
  get config(): LoadedConfig {
    return this.current;
  }

  get size(): number {
    return this.count;
  }

  private spawn(index: number): Promise<void> {
    const start: WorkerStart = {
      ...this.options.workerData,
      index,
      config: this.current.config,
      version: this.current.version,
      baseDir: this.current.baseDir,
      ports: this.ports,
      canary: this.canary,
      rateLimits: this.rateLimits,
      switchWord: this.switchWord.buffer as SharedArrayBuffer,
      acme: this.acme,
    };
    const worker = new Worker(WORKER_FILE, { workerData: start, resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } });
    const slot: Slot = { index, worker, startedAt: Date.now(), ready: false, exited: false, stopping: false, replace: false, version: start.version, waiting: new Map() };
    this.slots[index] = slot;
    return new Promise((resolve, reject) => {
      worker.on('message', (msg: FromWorker) => {
        switch (msg.type) {
          case 'ready':
            slot.ready = true;
            this.ports = { ...msg.ports, ...this.ports };
            this.sync(slot);
            // ACME state that changed while the worker was starting
            if (this.acme !== start.acme) worker.postMessage({ type: 'acme', id: 0, update: this.acme } satisfies ToWorker);
            resolve();
            break;
          case 'fatal':
            this.logger.error({ worker: index, message: msg.message, code: msg.code }, 'router worker could not start');
            reject(msg.code === undefined ? new Error(msg.message) : new EdgeplaneError(msg.code, msg.message));
            // a replacement that cannot listen: end it, the exit handler tries again later
            if (this.started) {
              slot.replace = true;
              this.exit(slot, 1);
            }
            break;
          case 'crashed':
            this.logger.error({ worker: index, err: msg.message }, 'router worker crashed');
            break;
          case 'apply-failed':
            this.logger.error({ worker: index, version: msg.version, message: msg.message }, 'worker could not apply config');
            slot.waiting.get(msg.seq === undefined ? `apply:${msg.version}` : `prepare:${msg.seq}`)?.(msg);
            break;
          case 'prepared':
            slot.waiting.get(`prepare:${msg.seq}`)?.(msg);
            break;
          case 'applied':
            slot.version = msg.version;
            slot.waiting.get(`apply:${msg.version}`)?.(msg);
            break;
          case 'stats':
            slot.waiting.get(`stats:${msg.id}`)?.(msg);
            break;
          case 'second':
            this.options.onSecond?.(index, msg.tick, msg.second);
            break;
          case 'acme-set':
            slot.waiting.get(`acme:${msg.id}`)?.(msg);
            break;
          case 'sni-miss':
            this.options.onSniMiss?.(msg.name);
            break;
        }
      });
      worker.on('error', (err) => {
        this.logger.error({ err, worker: index }, 'router worker crashed');
        if (!slot.ready) reject(err);
      });
      worker.on('exit', (code) => {
        slot.exited = true;
        for (const cb of [...slot.waiting.values()]) cb('exited');
        if (!slot.ready) reject(new Error(`worker ${index} exited with ${code} before it was ready`));
        if (this.stopping || (slot.stopping && !slot.replace)) return;
        if (this.slots[index] !== slot) return;
        if (!slot.replace) {
          this.logger.error({ worker: index, code }, 'router worker exited; replacing it');
          this.restarts++;
          this.options.onRestart?.(index);
        }
        const healthy = Date.now() - slot.startedAt > HEALTHY_AFTER_MS;
        const n = healthy ? 0 : (this.crashesInARow[index] ?? 0);
        this.crashesInARow[index] = n + 1;
        setTimeout(() => {
          if (!this.stopping) this.spawn(index).catch((err: Error) => this.logger.error({ err: err.message, worker: index }, 'worker replacement failed'));
        }, Math.min(RESTART_BASE_MS * 2 ** n, RESTART_MAX_MS)).unref();
      });
    });
  }

  /** Asks one worker; resolves with its answer, or why there is none. */
  private ask(slot: Slot, key: string, msg: ToWorker, timeoutMs: number): Promise<Answer> {
    if (!slot.ready || slot.stopping) return Promise.resolve('not-ready');
    return new Promise((resolve) => {
      const t = setTimeout(() => done('timeout'), timeoutMs);
      const done = (answer: Answer): void => {
        clearTimeout(t);
        if (slot.waiting.get(key) === done) slot.waiting.delete(key);
        resolve(answer);
      };
      slot.waiting.set(key, done);
      slot.worker.postMessage(msg);
    });
  }

  private configMessage(loaded: LoadedConfig, canary: BoardDescription): Extract<ToWorker, { type: 'config' }> {
    return { type: 'config', config: loaded.config, version: loaded.version, baseDir: loaded.baseDir, canary };
  }

  /** A ready worker running another version than the current one is sent the current one. */
  private sync(slot: Slot): void {
    if (!slot.ready || slot.stopping || slot.version === this.current.version) return;
    this.logger.info({ worker: slot.index, from: slot.version, to: this.current.version }, 'worker brought to the current config');
    slot.worker.postMessage(this.configMessage(this.current, this.canary));
  }

  /**
   * Applies a validated config to every worker, all or nothing, all switching at once (see the
   * class comment). With `diff` (the change from the running document) workers that run the
   * running document get only the changed entries and recompile only what they touch; the
   * others, and any change that is not entry by entry, get the whole document. One apply at a
   * time: the ReloadOwner's queue calls it. Throws ConfigApplyError when a worker could not
   * prepare it (every worker keeps the running config).
   */
  async apply(loaded: LoadedConfig, diff: DocumentDiff | null = null): Promise<ApplyStats> {
    if (this.applying) throw new Error('WorkerPool.apply: one apply at a time');
    this.applying = true;
    try {
      return await this.applyNow(loaded, diff);
    } finally {
      this.applying = false;
    }
  }

  private async applyNow(loaded: LoadedConfig, diff: DocumentDiff | null): Promise<ApplyStats> {
    const previous = this.current;
    const faulty = this.faultyApply;
    this.faultyApply = new Set();
    const canary = this.describe(loaded);
    const seq = ++this.seq;
    const head = { type: 'prepare', seq, version: loaded.version, baseDir: loaded.baseDir, canary } as const;
    const delta = diff !== null && isEntryWise(diff) && loaded.baseDir === previous.baseDir ? deltaOf(diff, loaded.config) : null;
    const live = this.slots.filter((s) => s !== undefined);
    let deltas = 0;
    const answers = await Promise.all(live.map((s) => {
      let msg: ToWorker;
      if (faulty.has(s.index)) msg = { ...head, config: null as unknown as RouterConfig };
      else if (delta !== null && s.version === previous.version) {
        msg = { ...head, delta };
        deltas++;
      } else msg = { ...head, config: loaded.config };
      return this.ask(s, `prepare:${seq}`, msg, APPLY_TIMEOUT_MS);
    }));
    const problems: string[] = [];
    let workerMs = 0;
    answers.forEach((a, i) => {
      // a worker that exited or is starting is not a failure: it (re)starts with the current config
      if (a === 'timeout') problems.push(`worker ${live[i].index}: no answer in ${APPLY_TIMEOUT_MS} ms`);
      else if (a !== 'exited' && a !== 'not-ready' && a.type === 'apply-failed') problems.push(`worker ${live[i].index}: ${a.message}`);
      else if (a !== 'exited' && a !== 'not-ready' && a.type === 'prepared') workerMs = Math.max(workerMs, a.ms);
    });
    const prepared = live.filter((_s, i) => typeof answers[i] === 'object' && (answers[i] as FromWorker).type === 'prepared');
    if (problems.length > 0) {
      for (const s of live) if (!s.exited) s.worker.postMessage({ type: 'abort', seq } satisfies ToWorker);
      // a worker that did not answer may be stuck: it drains and a new one starts with the running config
      live.forEach((s, i) => {
        if (answers[i] !== 'timeout' || s.stopping) return;
        this.logger.error({ worker: s.index, version: previous.version }, 'worker did not answer a config change; replacing it');
        this.recycle(s);
      });
      // the board goes back to the running config's canaries (those the failed one changed restart their counts)
      this.canary = this.describe(previous);
      throw new ConfigApplyError(problems);
    }
    // every worker switches at this store: its next request reads the new table
    Atomics.store(this.switchWord, 0, seq);
    for (const s of prepared) {
      s.version = loaded.version;
      s.worker.postMessage({ type: 'commit', seq } satisfies ToWorker);
    }
    this.current = loaded;
    this.canary = canary;
    for (const s of this.slots) if (s) this.sync(s);
    return { mode: delta === null ? 'full' : deltas === live.length ? 'delta' : 'mixed', workerMs: Math.round(workerMs * 10) / 10 };
  }

  /**
   * ACME: issued certificates, http-01 answers, on-demand reporting (router/acme/). Kept for
   * workers that start later; resolves once every ready worker has it (a worker that does not
   * answer in time is not waited for).
   */
  async setAcme(update: AcmeWorkerUpdate): Promise<void> {
    this.acme = { ...this.acme, ...update };
    const id = this.nextId++;
    const live = this.slots.filter((s) => s !== undefined);
    await Promise.all(live.map((s) => this.ask(s, `acme:${id}`, { type: 'acme', id, update }, APPLY_TIMEOUT_MS)));
  }

  /** Every live worker's request counters, with its index and thread id. */
  async stats(): Promise<WorkerStats[]> {
    const id = this.nextId++;
    const live = this.slots.filter((s) => s !== undefined);
    const answers = await Promise.all(live.map((s) => this.ask(s, `stats:${id}`, { type: 'stats', id }, STATS_TIMEOUT_MS)));
    const out: WorkerStats[] = [];
    answers.forEach((a, i) => {
      if (typeof a === 'object' && a.type === 'stats') out.push({ index: live[i].index, threadId: live[i].worker.threadId, snapshot: a.snapshot });
    });
    return out;
  }

  /**
   * Asks every ready worker for its counts since the last time (the dashboard's second); each
   * answers through `onSecond`. Returns how many were asked.
   */
  collectSeconds(tick: number): number {
    let asked = 0;
    for (const s of this.slots) {
      if (!s?.ready || s.stopping || s.exited) continue;
      s.worker.postMessage({ type: 'second', tick } satisfies ToWorker);
      asked++;
    }
    return asked;
  }

  /** Test hook: makes worker `index` throw an uncaught exception. False when there is no such live worker. */
  crash(index: number): boolean {
    const slot = this.slots[index];
    if (!slot?.ready || slot.stopping) return false;
    slot.worker.postMessage({ type: 'test-crash' } satisfies ToWorker);
    return true;
  }

  /** Test hook: the next apply() sends worker `index` a config it fails to apply. */
  failNextApply(index: number): boolean {
    if (!this.slots[index]) return false;
    this.faultyApply.add(index);
    return true;
  }

  /** Ends a worker's thread: its shell closes every uWS app first; terminate() if it does not. */
  private exit(slot: Slot, code: number): void {
    slot.stopping = true;
    slot.worker.postMessage({ type: 'exit', code } satisfies ToWorker);
    const t = setTimeout(() => void slot.worker.terminate(), EXIT_TIMEOUT_MS);
    t.unref();
    slot.worker.once('exit', () => clearTimeout(t));
  }

  /** Replaces a worker gracefully: it drains like on stop, a new one starts with the current config. */
  private recycle(slot: Slot): void {
    slot.replace = true;
    slot.stopping = true;
    const deadlineMs = this.current.config.shutdownMs ?? 25000;
    slot.worker.on('message', (m: FromWorker) => { if (m.type === 'stopped' && !slot.exited) this.exit(slot, 0); });
    slot.worker.postMessage({ type: 'stop', deadlineMs } satisfies ToWorker);
  }

  /** Graceful stop of every worker: listeners closed, in-flight requests finish within the deadline. */
  async stop(deadlineMs: number): Promise<void> {
    this.stopping = true;
    await Promise.all(this.slots.map((s) => new Promise<void>((resolve) => {
      if (!s) return resolve();
      s.stopping = true;
      if (s.exited) return resolve(); // crashed, its replacement not started yet
      s.worker.once('exit', () => resolve());
      let asked = false;
      const end = (): void => {
        if (asked) return;
        asked = true;
        this.exit(s, 0);
      };
      s.worker.on('message', (m: FromWorker) => { if (m.type === 'stopped') end(); });
      s.worker.postMessage({ type: 'stop', deadlineMs } satisfies ToWorker);
      setTimeout(end, deadlineMs + 3000).unref();
    })));
  }
}
