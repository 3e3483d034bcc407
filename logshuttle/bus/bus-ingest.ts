import type { LogRecord } from '../../shared/log-record.js';
import { encodeLogRecord } from '../../shared/msgpack-record.js';
import { subjectFor, type BusPublisher, type ExtraHeaders } from '../../shared/bus/index.js';
import type { IngestName } from '../ingest/bad-input.js';
import { splitMessage } from '../ingest/split-message.js';

/** Lines published by ingest, and lost because the outbox was full or the bus refused them. */
export interface BusIngestCounts {
  published: Record<IngestName, number>;
  lost: number;
}

/** subjects of recent apps (an app's subject costs a hash and an escape) */
const SUBJECT_CACHE = 10_000;

/**
 * Ingest in bus mode: every accepted record goes to the bus instead of the core, on its app's
 * subject (`logs.<p>.<app>`), split into lines of at most 10,000 bytes first (so every message
 * stays far below the server's max_payload, and the owner's core gets what it would split
 * anyway). The publisher never blocks: TCP ingest pauses its sockets while the outbox is deeper
 * than `highWater` (the sender's own buffers take the rest), UDP has nothing to pause and loses
 * lines only when the outbox overflows (counted), HTTP waits for the acks (`publishAcked`).
 */
export class BusIngest {
  readonly counts: BusIngestCounts = { published: { msgpack: 0, syslog_tcp: 0, syslog_udp: 0, http: 0 }, lost: 0 };
  private readonly subjects = new Map<string, string>();
  private waiters: Array<() => void> = [];
  private poll: NodeJS.Timeout | null = null;

  constructor(private readonly publisher: BusPublisher, private readonly partitions: number, private readonly highWater: number) {}

  /**
   * Publishes the record's lines; `done` is called once, when the last of them is stored or
   * failed. `ingest` null: the shuttle's own line (an L10, an L14), not counted as ingest.
   * `headers`: more message headers (see platform-line.ts).
   */
  publish(record: LogRecord, ingest: IngestName | null, done?: (err: Error | null) => void, headers?: ExtraHeaders): void {
    const pieces = splitMessage(record.message);
    const subject = this.subjectOf(record.app);
    let left = pieces.length;
    let failure: Error | null = null;
    for (const message of pieces) {
      const r = pieces.length === 1 ? record : { ...record, message };
      if (ingest !== null) this.counts.published[ingest]++;
      this.publisher.publish(record.app, subject, encodeLogRecord(r), (err) => {
        if (err) {
          this.counts.lost++;
          failure ??= err;
        }
        if (--left === 0) done?.(failure);
      }, headers);
    }
  }

  /** The same, as a promise that resolves once the bus stored every line of the record. */
  publishAcked(record: LogRecord, ingest: IngestName): Promise<void> {
    return new Promise((resolve, reject) => this.publish(record, ingest, (err) => (err ? reject(err) : resolve())));
  }

  /** The outbox is deeper than its high-water mark: TCP readers should pause. */
  get congested(): boolean {
    return this.publisher.depth > this.highWater;
  }

  /** Resolves once the outbox is back under half its high-water mark. */
  whenRelieved(): Promise<void> {
    if (this.publisher.depth <= this.highWater / 2) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.poll ??= setInterval(() => {
        if (this.publisher.depth > this.highWater / 2) return;
        clearInterval(this.poll!);
        this.poll = null;
        const w = this.waiters;
        this.waiters = [];
        for (const f of w) f();
      }, 10);
    });
  }

  private subjectOf(app: string): string {
    let s = this.subjects.get(app);
    if (s === undefined) {
      if (this.subjects.size >= SUBJECT_CACHE) this.subjects.clear();
      s = subjectFor(app, this.partitions);
      this.subjects.set(app, s);
    }
    return s;
  }
}
