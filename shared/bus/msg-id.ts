import { hostname } from 'node:os';
import { threadId } from 'node:worker_threads';

/**
 * JetStream message ids (DESIGN.md "Log bus"): `<producer id>-<producer start ms>-<sequence>`.
 * The server drops a second message with an id it stored within the stream's duplicate window
 * (2 min), so a message resent after a lost ack is stored once. The sequence starts at 1 and
 * counts every message the producer numbered (dropped ones included, so a gap in the
 * sequence is a loss the producer counted). The start time makes ids unique across restarts of
 * a producer with the same id.
 */
export class MsgIdSource {
  private seq = 0;
  readonly prefix: string;

  constructor(readonly producerId: string, readonly startMs: number = Date.now()) {
    this.prefix = `${producerId}-${startMs}-`;
  }

  /** the next id */
  next(): string {
    return this.prefix + ++this.seq;
  }

  /** the sequence of the last id given (0 before the first) */
  get sequence(): number {
    return this.seq;
  }
}

/**
 * A producer id unique per process and thread on a host: `<role>.<hostname>.<pid>.<thread>`
 * (in Kubernetes the hostname is the pod name). Dots and dashes in the hostname are kept; the
 * id is parsed from the right (`parseMsgId`).
 */
export function defaultProducerId(role: string): string {
  return `${role}.${hostname()}.${process.pid}.${threadId}`;
}

/** Splits an id into its parts (from the right: the producer id may contain dashes); null when malformed. */
export function parseMsgId(id: string): { producerId: string; startMs: number; sequence: number } | null {
  const b = id.lastIndexOf('-');
  const a = b > 0 ? id.lastIndexOf('-', b - 1) : -1;
  if (a <= 0) return null;
  const startMs = Number(id.slice(a + 1, b));
  const sequence = Number(id.slice(b + 1));
  if (!Number.isSafeInteger(startMs) || !Number.isSafeInteger(sequence) || sequence < 1) return null;
  return { producerId: id.slice(0, a), startMs, sequence };
}
