/**
 * Sinks for the relay benches: a syslog TCP receiver (any number of connections) and a logplex
 * HTTPS receiver, both parsing octet-counted frames and marking each frame's `seq=<n>` in a
 * bitmap, so a run passes only when every line arrived exactly once (nothing lost, nothing
 * doubled). They run in the bench process (the load CPU), with the generator.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import net from 'node:net';

/** Counts frames and their sequence numbers; shared by both sinks. */
export class FrameCounter {
  count = 0;
  dupes = 0;
  lastAt = 0;
  private seen = new Uint8Array(0);
  private expect = 0;
  private done: (() => void) | null = null;

  reset(expect: number): void {
    this.expect = expect;
    this.count = 0;
    this.dupes = 0;
    this.seen = new Uint8Array(expect);
  }

  /** Parses frames from buf; returns the unparsed tail (a partial frame) or null. */
  take(buf: Buffer): Buffer | null {
    let off = 0;
    for (;;) {
      let n = 0;
      let i = off;
      while (i < buf.length && buf[i] >= 0x30 && buf[i] <= 0x39) n = n * 10 + buf[i++] - 0x30;
      if (i >= buf.length) break;
      if (buf[i] !== 0x20 || i === off) throw new Error('sink: bad octet-counted framing');
      const end = i + 1 + n;
      if (end > buf.length) break;
      this.mark(buf, end);
      off = end;
    }
    this.lastAt = performance.now();
    if (this.count >= this.expect && this.done) this.done();
    return off < buf.length ? Buffer.from(buf.subarray(off)) : null;
  }

  /** The digits before `end` (the message ends with seq=<n>, maybe a trailing LF). */
  private mark(buf: Buffer, end: number): void {
    let j = end - 1;
    while (j > 0 && (buf[j] === 0x0a || buf[j] === 0x20)) j--;
    let seq = 0;
    let mul = 1;
    while (j > 0 && buf[j] >= 0x30 && buf[j] <= 0x39) { seq += (buf[j--] - 0x30) * mul; mul *= 10; }
    this.count++;
    if (mul === 1 || buf[j] !== 0x3d /* = */ || seq >= this.seen.length) return; // not a bench line (an L10 notice)
    if (this.seen[seq]) this.dupes++;
    this.seen[seq] = 1;
  }

  /** Lines with no arrival (0 when all arrived). */
  missing(): number {
    let m = 0;
    for (let i = 0; i < this.seen.length; i++) if (!this.seen[i]) m++;
    return m;
  }

  wait(timeoutMs: number): Promise<boolean> {
    if (this.count >= this.expect) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.done = null; resolve(false); }, timeoutMs);
      this.done = () => { clearTimeout(timer); this.done = null; resolve(true); };
    });
  }
}

export interface FrameSink {
  readonly frames: FrameCounter;
  port: number;
  listen(): Promise<void>;
  close(): Promise<void>;
}

/** syslog TCP receiver of octet-counted frames. */
export class TcpFrameSink implements FrameSink {
  readonly frames = new FrameCounter();
  port = 0;
  private readonly server = net.createServer((s) => {
    let pending: Buffer | null = null;
    s.on('error', () => {});
    s.on('data', (chunk: Buffer) => {
      pending = this.frames.take(pending ? Buffer.concat([pending, chunk]) : chunk);
    });
  });

  async listen(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

/**
 * logplex HTTPS drain receiver: POST bodies of octet-counted frames, 200 for each (requests
 * pipelined on a connection are answered in order, as node:http does). Without `tls`: plain
 * HTTP (to tell the cost of TLS apart when profiling).
 */
export class HttpsFrameSink implements FrameSink {
  readonly frames = new FrameCounter();
  port = 0;
  posts = 0;
  private readonly server: HttpServer;

  constructor(tls: { cert: Buffer; key: Buffer } | null) {
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.posts++;
        const rest = this.frames.take(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
        res.writeHead(rest ? 400 : 200).end();
      });
    };
    this.server = tls ? createHttpsServer({ ...tls, keepAliveTimeout: 60_000 }, handler) : createHttpServer({ keepAliveTimeout: 60_000 }, handler);
  }

  async listen(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}
