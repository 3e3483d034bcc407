import type { LogRecord, LogSource } from '../shared/log-record.js';
import type { DrainSet } from './drains/types.js';
import { AppRings } from './buffer/app-rings.js';
import { TailHub } from './tail/tail-hub.js';
import { formatTailLine } from './tail/format-line.js';
import { tailLineBytes, writeTailLine } from './tail/frame-line.js';
import { splitMessage } from './ingest/split-message.js';
import { INGEST_NAMES, type IngestName } from './ingest/bad-input.js';
import { DEFAULT_APP_IDLE_MS } from './config/schema.js';
import type { CanonicalFrame } from './ingest/canonical-frame.js';

const SOURCES: readonly LogSource[] = ['app', 'router', 'build', 'platform'];
const SOURCE_INDEX: Record<LogSource, number> = { app: 0, router: 1, build: 2, platform: 3 };
const INGEST_INDEX: Record<IngestName | 'internal', number> = { msgpack: 0, syslog_tcp: 1, syslog_udp: 2, http: 3, internal: 4 };
/** a live tail's line built from a canonical frame: at most 24 + 255 + 134 + 10,000 bytes and separators */
let lineScratch = Buffer.allocUnsafeSlow(16 * 1024);


/** digits of the octet count `n` as the drains write it (no leading zeros) */
function octetCountDigits(n: number): number {
  return n < 10 ? 1 : n < 100 ? 2 : n < 1000 ? 3 : n < 10000 ? 4 : n < 100000 ? 5 : String(n).length;
}

export interface ShuttleCoreOptions {
  history: number;
  /** an app with no line for this long (and no tail) is forgotten by `evictIdle` */
  idleMs?: number;
  /** bounds of the ring memory (AppRings) */
  maxApps?: number;
  maxRingBytes?: number;
}

/**
 * The path of every accepted line: split at 10,000 bytes, then the app's ring buffer, then its
 * live tails, then its drains.
 */
export class ShuttleCore {
  readonly rings: AppRings;
  readonly tails = new TailHub();
  private drains: DrainSet | null = null;
  /** canonical frames of one app back to back in one received buffer, not yet in the ring nor handed to the drains */
  private runBuf: Buffer | null = null;
  private runApp = '';
  private runFrom = 0;
  private runTo = 0;
  private runLines = 0;
  /** lines in by [ingest * 4 + source] */
  readonly linesIn = new Float64Array(5 * 4);

  constructor(options: ShuttleCoreOptions) {
    this.rings = new AppRings({
      history: options.history,
      idleMs: options.idleMs ?? DEFAULT_APP_IDLE_MS,
      ...(options.maxApps !== undefined ? { maxApps: options.maxApps } : {}),
      ...(options.maxRingBytes !== undefined ? { maxBytes: options.maxRingBytes } : {}),
    });
  }

  setDrains(drains: DrainSet): void {
    this.flushRun();
    this.drains = drains;
  }

  /**
   * Takes one valid record (checked by the ingest); never throws for a valid record. `raw`:
   * the RFC 5424 message the record was parsed from (syslog and logplex ingest), which the
   * drains may pass through unchanged (DrainSet.deliverRaw) when the line is not split.
   */
  accept(record: LogRecord, ingest: IngestName, raw?: Buffer): void {
    const pieces = splitMessage(record.message);
    const now = Date.now();
    this.linesIn[INGEST_INDEX[ingest] * 4 + SOURCE_INDEX[record.source]] += pieces.length;
    if (pieces.length === 1) {
      this.one(record, now, true, raw);
      return;
    }
    for (const message of pieces) this.one({ ...record, message }, now);
  }

  /**
   * The fast path of the syslog ingest: a frame in the drains' own form (readCanonicalFrame),
   * taken on its bytes. The ring keeps the frame as received (`LEN SP MSG`) and a tail reading
   * it gets the same tail line, the live tails the same text and the drains the same frame as
   * `accept` would give them for the record parsed from it. When `buf[head, f.end)` is the
   * frame with its octet count as the drains write it, consecutive frames of one app make one
   * run, kept here until `flushRun`: one copy into the ring, one hand-over to the drains.
   */
  acceptCanonical(f: CanonicalFrame, ingest: IngestName, buf: Buffer, head = -1): void {
    this.linesIn[INGEST_INDEX[ingest] * 4 + SOURCE_INDEX[f.source]]++;
    const app = f.app;
    if (this.tails.hasTails(app)) {
      // `<ISO time> <app> <tag>: <message>` and LF, as formatTailLine writes it
      const n = tailLineBytes(f);
      if (n > lineScratch.length) lineScratch = Buffer.allocUnsafeSlow(n * 2);
      writeTailLine(f, buf, lineScratch, 0);
      this.tails.publish(app, lineScratch.toString('utf8', 0, n), Date.now());
    }
    // the message from PRI on (no octet count): `LEN SP` and these bytes is the drains' frame
    const drains = this.drains;
    const from = f.tsStart - 6;
    if (head >= 0 && from - head === octetCountDigits(f.end - from) + 1) {
      // `buf[head, f.end)` is the frame as it is kept and sent: frames of one app back to back make one run
      if (this.runBuf === buf && this.runTo === head && this.runApp === app) {
        this.runTo = f.end;
        this.runLines++;
      } else {
        if (this.runLines > 0) this.flushRun();
        this.runBuf = buf;
        this.runApp = app;
        this.runFrom = head;
        this.runTo = f.end;
        this.runLines = 1;
      }
      // (drains that take no runs get the frame now; the ring gets the run at `flushRun`)
      if (drains !== null && drains.deliverCanonicalRun === undefined) drains.deliverCanonical(app, buf, from, f.end);
      return;
    }
    if (this.runLines > 0) this.flushRun();
    this.rings.appendFrame(app, buf, from, f.end, Date.now());
    drains?.deliverCanonical(app, buf, from, f.end);
  }

  /**
   * Hands the run of frames `acceptCanonical` gathered to the ring (one copy) and the drains.
   * The ingest calls it once the frames of a received chunk are all taken (before the chunk's
   * bytes may change); the core calls it before any other line goes to a ring or the drains,
   * so their order is kept.
   */
  flushRun(): void {
    const n = this.runLines;
    if (n === 0) return;
    const buf = this.runBuf!;
    this.runLines = 0;
    this.runBuf = null;
    this.rings.appendFrames(this.runApp, buf, this.runFrom, this.runTo, n, Date.now());
    this.drains?.deliverCanonicalRun?.(this.runApp, buf, this.runFrom, this.runTo, n);
  }

  /**
   * A platform line about the app's drains (L10/L14): into its ring and tails only, never back
   * into the drains.
   */
  acceptPlatformLine(record: LogRecord): void {
    this.linesIn[INGEST_INDEX.internal * 4 + SOURCE_INDEX[record.source]]++;
    this.one(record, Date.now(), false);
  }

  private one(record: LogRecord, now: number, toDrains = true, raw?: Buffer): void {
    if (this.runLines > 0) this.flushRun();
    const line = formatTailLine(record);
    this.rings.append(record.app, line, now);
    this.tails.publish(record.app, line, now);
    const drains = this.drains;
    if (!toDrains || drains === null) return;
    if (raw !== undefined && drains.deliverRaw !== undefined) drains.deliverRaw(record, raw);
    else drains.deliver(record);
  }

  /** Forgets apps idle too long that nobody tails. */
  evictIdle(now = Date.now()): number {
    return this.rings.evictIdle(now, (app) => this.tails.hasTails(app));
  }

  /** Lines in, by ingest and source, for metrics. */
  linesInEntries(): Array<{ ingest: string; source: LogSource; count: number }> {
    const out: Array<{ ingest: string; source: LogSource; count: number }> = [];
    const names = [...INGEST_NAMES, 'internal'];
    for (let i = 0; i < names.length; i++) {
      for (let s = 0; s < 4; s++) {
        const count = this.linesIn[i * 4 + s];
        if (count > 0) out.push({ ingest: names[i], source: SOURCES[s], count });
      }
    }
    return out;
  }
}
