import { connect, type Socket } from 'node:net';
import type { Logger } from '../../shared/logger.js';
import { encodeLogRecord } from '../../shared/msgpack-record.js';
import type { AccessLogSink } from './access-log-sink.js';

/** lines held per worker while the shuttle is away (ROUTER_SHIP_BUFFER overrides) */
const MAX_QUEUED = Number(process.env.ROUTER_SHIP_BUFFER) > 0 ? Number(process.env.ROUTER_SHIP_BUFFER) : 20000;
const HIGH_WATER = 1024 * 1024;
const BACKOFF_BASE_MS = 100;
const BACKOFF_MAX_MS = 10000;

/**
 * Ships router lines to the log shuttle's ingest as msgpack records (source `router`, process
 * `router`). Never blocks a request: lines wait in a bounded queue (oldest dropped and counted
 * per app), are written coalesced once per loop turn while the socket keeps up, and the
 * connection comes back with jittered exponential backoff capped at 10 s. Once it is back, each
 * app that lost lines gets a platform line `Error L10 (output buffer overflow): N messages
 * dropped since <ISO time>`.
 */
export class ShuttleShipper implements AccessLogSink {
  private queue: Buffer[] = [];
  /** the app of each queued record, to count drops per app */
  private apps: string[] = [];
  private head = 0;
  private socket: Socket | null = null;
  private connected = false;
  private attempt = 0;
  private scheduled = false;
  private closed = false;
  private readonly dropped = new Map<string, { count: number; since: number }>();
  delivered = 0;

  constructor(private readonly target: string, private readonly logger: Logger) {
    this.connect();
  }

  write(app: string, line: string, time: number): void {
    if (this.closed) return;
    const isError = line.startsWith('at=error');
    if (this.queue.length - this.head >= MAX_QUEUED) {
      const lost = this.apps[this.head++];
      const d = this.dropped.get(lost);
      if (d) d.count++;
      else this.dropped.set(lost, { count: 1, since: time });
      this.compact();
    }
    this.apps.push(app);
    this.queue.push(encodeLogRecord({ app, source: 'router', process: 'router', stream: isError ? 'stderr' : 'stdout', time, message: line }));
    this.schedule();
  }

  private compact(): void {
    if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.apps = this.apps.slice(this.head);
      this.head = 0;
    }
  }

  private schedule(): void {
    if (!this.scheduled && this.connected) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const s = this.socket;
    if (!s || !this.connected) return;
    if (this.dropped.size > 0) {
      const now = Date.now();
      for (const [app, d] of this.dropped) {
        s.write(encodeLogRecord({ app, source: 'platform', process: 'router', stream: 'stderr', time: now,
          message: `Error L10 (output buffer overflow): ${d.count} messages dropped since ${new Date(d.since).toISOString()}` }));
      }
      this.dropped.clear();
    }
    if (s.writableLength > HIGH_WATER) return; // 'drain' schedules the next flush
    const n = this.queue.length - this.head;
    if (n === 0) return;
    const batch = this.head === 0 ? this.queue : this.queue.slice(this.head);
    this.queue = [];
    this.apps = [];
    this.head = 0;
    this.delivered += n;
    s.write(batch.length === 1 ? batch[0] : Buffer.concat(batch));
  };

  private connect(): void {
    if (this.closed) return;
    const s = this.target.startsWith('unix:') ? connect(this.target.slice(5)) : (() => {
      const u = new URL(this.target);
      return connect(Number(u.port), u.hostname.replace(/^\[|\]$/g, ''));
    })();
    this.socket = s;
    s.setNoDelay(true);
    s.on('connect', () => {
      this.connected = true;
      this.attempt = 0;
      this.logger.info({ target: this.target }, 'connected to the log shuttle');
      this.schedule();
    });
    s.on('drain', () => this.schedule());
    s.on('data', () => undefined);
    s.on('error', (err) => {
      if (this.attempt === 0) this.logger.warn({ target: this.target, err: err.message }, 'log shuttle connection failed');
    });
    s.on('close', () => {
      this.connected = false;
      this.socket = null;
      if (this.closed) return;
      const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** this.attempt++) * (0.5 + Math.random() / 2);
      setTimeout(() => this.connect(), delay).unref();
    });
  }

  async close(): Promise<void> {
    if (this.connected) this.flush();
    this.closed = true;
    const s = this.socket;
    if (!s) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => { s.destroy(); resolve(); }, 2000);
      s.end(() => { clearTimeout(t); resolve(); });
    });
  }
}
