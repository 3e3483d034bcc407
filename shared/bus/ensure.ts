import { nanos, type NatsConnection } from '@nats-io/transport-node';
import {
  DiscardPolicy, JetStreamApiError, RetentionPolicy, StorageType, jetstream, jetstreamManager,
  type StreamConfig, type StreamInfo,
} from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { BusConfig } from './bus-config.js';
import { BusError } from './bus-errors.js';
import { LOG_SUBJECTS } from './partition.js';

/** the stream's deduplication window (DESIGN.md: ids deduplicated within 2 minutes) */
export const DUPLICATE_WINDOW_MS = 120000;

export interface RetryOptions {
  /** stops retrying: the promise rejects with E_BUS_CLOSED */
  signal?: AbortSignal;
  /** called before each wait, for logging */
  onRetry?: (err: unknown, attempt: number, waitMs: number) => void;
  /** first wait (default 250 ms), doubled up to maxWaitMs (default 5000 ms), jittered */
  minWaitMs?: number;
  maxWaitMs?: number;
  /** timeout of each management call (default 10000 ms) */
  callTimeoutMs?: number;
}

const STREAM_NAME_IN_USE = 10058;
/**
 * API errors only an operator can fix, never retried: invalid stream config (10052), subjects
 * overlapping another stream's (10065), replicas > 1 on a server that is not clustered (10074).
 */
const SETUP_ERRORS = new Set([10052, 10065, 10074]);

/** an API error that retrying cannot fix becomes E_BUS_SETUP */
function setupError(err: unknown, what: string): unknown {
  if (err instanceof JetStreamApiError && SETUP_ERRORS.has(err.code)) {
    return new BusError('E_BUS_SETUP', `${what}: ${err.message}`, { cause: err });
  }
  return err;
}

/**
 * Runs `fn` until it succeeds. Management calls fail while a cluster elects its leaders and
 * time out for a few seconds after a node restart (the API request reached a server whose
 * meta layer is not current yet); all of that is transient, so every error is retried with a
 * jittered exponential backoff, except E_BUS_SETUP (a configuration only an operator can fix:
 * see SETUP_ERRORS).
 */
export async function withRetry<T>(fn: () => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const min = opts.minWaitMs ?? 250;
  const max = opts.maxWaitMs ?? 5000;
  for (let attempt = 1; ; attempt++) {
    if (opts.signal?.aborted) throw new BusError('E_BUS_CLOSED', 'gave up', { cause: opts.signal.reason });
    try {
      return await fn();
    } catch (err) {
      if (err instanceof BusError && err.code === 'E_BUS_SETUP') throw err;
      if (opts.signal?.aborted) throw new BusError('E_BUS_CLOSED', 'gave up', { cause: err });
      const wait = Math.round(Math.min(max, min * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2));
      opts.onRetry?.(err, attempt, wait);
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, wait);
        function done(): void {
          clearTimeout(t);
          opts.signal?.removeEventListener('abort', done);
          resolve();
        }
        opts.signal?.addEventListener('abort', done, { once: true });
      });
    }
  }
}

/** The log stream's configuration from the `bus` section. */
export function logStreamConfig(bus: BusConfig): Partial<StreamConfig> & { name: string; subjects: string[] } {
  return {
    name: bus.stream,
    subjects: [LOG_SUBJECTS],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    num_replicas: bus.replicas,
    max_age: nanos(bus.max_age_s * 1000),
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
  };
}

function isNotFound(err: unknown): boolean {
  return err instanceof JetStreamApiError && err.code === 10059;
}

/**
 * Creates the stream if it does not exist; an existing one is left as it is (an operator's
 * change, e.g. more replicas, is never undone) but must capture every subject asked for, else
 * E_BUS_SETUP. Idempotent and safe under concurrent callers in any process: a create that
 * loses the race ("name already in use") reads the winner's stream instead. Retried (see
 * withRetry) until it succeeds.
 */
export function ensureStream(nc: NatsConnection, config: Partial<StreamConfig> & { name: string; subjects?: string[] }, opts: RetryOptions = {}): Promise<StreamInfo> {
  return withRetry(async () => {
    const jsm = await jetstreamManager(nc, { timeout: opts.callTimeoutMs ?? 10000, checkAPI: false });
    let info: StreamInfo;
    try {
      info = await jsm.streams.info(config.name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      try {
        info = await jsm.streams.add({ ...config });
      } catch (addErr) {
        if (!(addErr instanceof JetStreamApiError && addErr.code === STREAM_NAME_IN_USE)) throw setupError(addErr, `cannot create stream ${config.name}`);
        info = await jsm.streams.info(config.name);
      }
    }
    const have = new Set(info.config.subjects ?? []);
    const missing = (config.subjects ?? []).filter((s) => !have.has(s));
    if (missing.length > 0) {
      throw new BusError('E_BUS_SETUP', `stream ${config.name} exists without subjects ${missing.join(', ')} (it has ${[...have].join(', ') || 'none'})`);
    }
    return info;
  }, opts);
}

/** The log stream `<stream>` on `logs.*.*` (duplicate window 2 min, max_age, replicas from the section). */
export function ensureLogStream(nc: NatsConnection, bus: BusConfig, opts: RetryOptions = {}): Promise<StreamInfo> {
  return ensureStream(nc, logStreamConfig(bus), opts);
}

export interface KvBucketOptions {
  /** an entry expires this long after its last write (0 = never) */
  ttlMs?: number;
  replicas?: number;
  /** values kept per key (default 1) */
  history?: number;
}

/**
 * Creates the KV bucket if absent and opens it (an existing bucket is opened as it is).
 * Idempotent, concurrent-safe and retried like ensureStream.
 */
export function ensureKvBucket(nc: NatsConnection, name: string, bucket: KvBucketOptions = {}, opts: RetryOptions = {}): Promise<KV> {
  return withRetry(async () => {
    const js = jetstream(nc, { timeout: opts.callTimeoutMs ?? 10000 });
    const kvm = new Kvm(js);
    try {
      return await kvm.create(name, {
        history: bucket.history ?? 1,
        replicas: bucket.replicas ?? 1,
        ttl: bucket.ttlMs ?? 0,
        storage: StorageType.File,
      });
    } catch (err) {
      // another process created it between our look and our create: open theirs
      if (err instanceof JetStreamApiError && err.code === STREAM_NAME_IN_USE) return await kvm.open(name);
      throw setupError(err, `cannot create KV bucket ${name}`);
    }
  }, opts);
}
