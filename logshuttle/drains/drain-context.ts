import type { Logger } from 'pino';
import type { BackoffOptions } from './backoff.js';
import type { DrainUrl } from './drain-url.js';
import type { FrameQueue } from './frame-queue.js';

/** Knobs of the senders; defaults in drain-manager.ts (tests shorten them). */
export interface DrainTuning {
  backoff: BackoffOptions;
  /** give up a connection attempt (TCP + TLS handshake) after this long */
  connectTimeoutMs: number;
  /** a syslog connection older than this is closed gracefully and reopened */
  recycleMs: number;
  /** frames move from the queue to a socket only while its writableLength is below this */
  socketHighWaterBytes: number;
  /** HTTPS batches: at most this many lines / bytes, sent when full or this old */
  httpBatchLines: number;
  httpBatchBytes: number;
  httpBatchAgeMs: number;
  /** HTTPS batches in flight at once per drain, pipelined on one connection (1: one at a time) */
  httpInFlight: number;
  /** HTTPS request timeout (headers and body) */
  httpTimeoutMs: number;
  /** extra TLS options for syslog+tls and https drains (tests pass `ca`); default: system CAs + NODE_EXTRA_CA_CERTS */
  tls: { ca?: string | Buffer | Array<string | Buffer> };
}

/** Per-drain counters, read by the metrics collector. */
export interface DrainStats {
  /** app lines handed to the peer (written to the kernel for syslog, 2xx for HTTPS) */
  delivered: number;
  /** app lines the HTTPS peer refused with a 4xx (not 429) */
  rejected: number;
  /** UDP lines cut to 2,048 bytes */
  truncated: number;
  /** reconnects and HTTPS retries */
  retries: number;
  connected: boolean;
}

/** What a sender gets from the manager: its drain, queue, counters and where to report. */
export interface DrainContext {
  readonly id: string;
  readonly app: string;
  readonly target: DrainUrl;
  /** `Logplex-Drain-Token` */
  readonly token: string;
  readonly queue: FrameQueue;
  readonly stats: DrainStats;
  readonly logger: Logger;
  readonly tuning: DrainTuning;
  /** the drain's certificate did not verify: program log + `Error L14` line in the app's tail */
  tlsVerifyFailed(err: Error): void;
}

/** One drain's transport (UDP, TCP/TLS stream, HTTPS). */
export interface DrainSender {
  /** the queue has new lines: send what the transport can take now, never blocking */
  kick(): void;
  /** nothing queued and nothing in flight */
  idle(): boolean;
  /** not connected and the last attempt failed: a flush on close does not wait for it */
  unreachable(): boolean;
  /** ends the connection (queued lines not yet written are left) and stops all timers */
  close(): Promise<void>;
}
