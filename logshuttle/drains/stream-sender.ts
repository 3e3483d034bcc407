import net from 'node:net';
import tls from 'node:tls';
import type { FrameBatch } from './frame-queue.js';
import { SocketSender } from './socket-sender.js';
import { isCertificateError } from './tls-errors.js';

const MAX_LINES_PER_WRITE = 8192;
const MIN_WRITE_BYTES = 16 * 1024;
/** a batch of at most this many chunks is written gathered (writev), a longer one concatenated */
const MAX_GATHER = 16;
const WARN_EVERY_MS = 30_000;

function noop(): void {}

/**
 * syslog+tcp and syslog+tls drains: one connection, octet-counted frames written coalesced
 * (one write per loop turn of everything that fits under `socketHighWaterBytes` of
 * `writableLength`); the rest waits in the drain's bounded queue, so a stalled peer costs that
 * queue and nothing else. Reconnects with jittered backoff (socket-sender.ts); detects a peer
 * that closed (FIN or reset); recycles connections older than `recycleMs`. Batches whose write
 * did not complete when the connection died go back to the front of the queue.
 */
export class StreamSender extends SocketSender {
  private socket: net.Socket | null = null;
  private recycling = false;
  private waitingDrain = false;
  private connectedAt = 0;
  /** written batches whose write callback has not reported success yet, oldest first */
  private inflight: FrameBatch[] = [];

  protected opening(): boolean {
    return this.socket !== null;
  }

  protected inFlight(): number {
    return this.inflight.length;
  }

  protected closeSocket(): Promise<void> {
    const s = this.socket;
    if (!s) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const force = setTimeout(() => s.destroy(), 1000);
      s.once('close', () => {
        clearTimeout(force);
        resolve();
      });
      if (this.ready) s.end(() => s.destroy());
      else s.destroy();
    });
  }

  protected open(): void {
    const { target, tuning } = this.ctx;
    const isTls = target.scheme === 'syslog+tls';
    const socket = isTls
      ? tls.connect({
          host: target.host,
          port: target.port,
          ...(target.hostIsIp ? {} : { servername: target.host }),
          minVersion: 'TLSv1.2',
          rejectUnauthorized: true,
          ...(tuning.tls.ca !== undefined ? { ca: tuning.tls.ca } : {}),
        })
      : net.connect({ host: target.host, port: target.port });
    this.socket = socket;
    let failed: Error | null = null;
    socket.setTimeout(tuning.connectTimeoutMs, () => socket.destroy(new Error(`connect timeout after ${tuning.connectTimeoutMs} ms`)));
    socket.once(isTls ? 'secureConnect' : 'connect', () => this.onReady(socket));
    socket.on('data', noop); // nothing is expected; reading lets us see the peer's FIN
    socket.on('end', () => socket.destroy()); // the peer closed: reconnect
    socket.on('error', (err) => {
      failed = err;
      if (!this.ready && isCertificateError(err)) this.ctx.tlsVerifyFailed(err);
    });
    socket.on('close', () => this.onClose(socket, failed));
  }

  private onReady(socket: net.Socket): void {
    if (socket !== this.socket) return;
    const { logger, target } = this.ctx;
    socket.setTimeout(0);
    socket.setKeepAlive(true, 30_000);
    socket.setNoDelay(true);
    const after = this.connected();
    if (after > 0) logger.info({ drain: this.ctx.id, app: this.ctx.app, url: target.redacted, after }, 'drain reconnected');
    this.connectedAt = Date.now();
    if (this.closing) return;
    this.pump();
  }

  private onClose(socket: net.Socket, err: Error | null): void {
    if (socket !== this.socket) return;
    const { stats, queue, logger, target } = this.ctx;
    const wasReady = this.ready;
    this.socket = null;
    this.ready = false;
    this.waitingDrain = false;
    stats.connected = false;
    for (let i = this.inflight.length - 1; i >= 0; i--) queue.requeue(this.inflight[i]);
    this.inflight = [];
    if (this.closing) return;
    if (this.recycling) {
      this.recycling = false;
      this.open();
      return;
    }
    this.failed(!wasReady || err !== null);
    if (!isCertificateError(err) && this.warnDue(WARN_EVERY_MS)) {
      logger.warn({ drain: this.ctx.id, app: this.ctx.app, url: target.redacted, err: err?.message, failures: this.failures },
        wasReady ? 'drain connection closed' : 'drain unreachable');
    }
    this.retryLater(wasReady && err === null ? 1 : this.failures); // a clean close: reconnect soon
  }

  protected pump(): void {
    const s = this.socket;
    if (!s || !this.ready || this.recycling) return;
    const { queue, tuning } = this.ctx;
    if (queue.pending && Date.now() - this.connectedAt > tuning.recycleMs) {
      this.recycling = true;
      s.end(() => s.destroy()); // everything written reaches the kernel, then a fresh connection
      return;
    }
    const hw = tuning.socketHighWaterBytes;
    let corked = false;
    while (queue.pending && s.writableLength < hw) {
      const batch = queue.take(MAX_LINES_PER_WRITE, Math.max(hw - s.writableLength, MIN_WRITE_BYTES));
      if (!batch) break;
      this.inflight.push(batch);
      const frames = batch.frames;
      const cb = (err: Error | null | undefined): void => this.onWritten(batch, err);
      if (frames.length === 1) {
        s.write(frames[0], cb);
      } else if (frames.length <= MAX_GATHER) {
        // a few chunks (runs of frames, the L10 frame): one gathered write, nothing copied
        if (!corked) {
          corked = true;
          s.cork();
        }
        for (let i = 0; i < frames.length - 1; i++) s.write(frames[i]);
        s.write(frames[frames.length - 1], cb);
      } else {
        s.write(Buffer.concat(frames, batch.bytes), cb);
      }
    }
    if (corked) s.uncork();
    if (queue.pending && !this.waitingDrain) {
      this.waitingDrain = true;
      s.once('drain', () => {
        this.waitingDrain = false;
        if (s === this.socket) this.pump();
      });
    }
  }

  private onWritten(batch: FrameBatch, err: Error | null | undefined): void {
    if (err) return; // the close handler puts it back in the queue
    const i = this.inflight[0] === batch ? 0 : this.inflight.indexOf(batch);
    if (i < 0) return; // already requeued by a close
    this.inflight.splice(i, 1);
    this.ctx.stats.delivered += batch.lines;
    this.ctx.queue.done(batch);
  }
}
