import dgram from 'node:dgram';
import dns from 'node:dns';
import net from 'node:net';
import { backoffDelay } from './backoff.js';
import type { DrainContext, DrainSender } from './drain-context.js';
import { datagramOf, UDP_MAX_BYTES } from './rfc5424.js';

const MAX_OUTSTANDING = 128;

/**
 * syslog+udp drains: one RFC5424 message per datagram (no octet count), at most 2,048 bytes;
 * longer messages are cut on a UTF-8 boundary and counted (`truncated`). A connected UDP
 * socket per drain; at most MAX_OUTSTANDING sends in the kernel's hands at once, the rest
 * waits in the bounded queue. A send that fails is counted as dropped (reported by L10).
 */
export class UdpSender implements DrainSender {
  private socket: dgram.Socket | null = null;
  private ready = false;
  private opening = false;
  private closing = false;
  private failures = 0;
  private outstanding = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private lastAttemptFailed = false;

  constructor(private readonly ctx: DrainContext) {}

  kick(): void {
    if (this.closing) return;
    if (this.ready) this.pump();
    else if (!this.opening && !this.retryTimer) this.open();
  }

  idle(): boolean {
    return !this.ctx.queue.pending && this.outstanding === 0;
  }

  unreachable(): boolean {
    return !this.ready && this.lastAttemptFailed;
  }

  close(): Promise<void> {
    this.closing = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const s = this.socket;
    this.socket = null;
    this.ready = false;
    this.ctx.stats.connected = false;
    if (!s) return Promise.resolve();
    return new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private open(): void {
    this.opening = true;
    const { host } = this.ctx.target;
    const family = net.isIP(host);
    if (family !== 0) {
      this.bind(host, family);
      return;
    }
    dns.lookup(host, (err, address, fam) => {
      if (this.closing) return;
      if (err) this.failed(err);
      else this.bind(address, fam);
    });
  }

  private bind(address: string, family: number): void {
    const socket = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
    socket.on('error', (err) => {
      if (socket === this.socket && !this.ready) this.failed(err);
    });
    socket.connect(this.ctx.target.port, address, () => {
      if (this.closing) {
        socket.close();
        return;
      }
      this.opening = false;
      this.ready = true;
      this.failures = 0;
      this.lastAttemptFailed = false;
      this.ctx.stats.connected = true;
      this.pump();
    });
    this.socket = socket;
  }

  private failed(err: Error): void {
    const { logger, tuning, stats } = this.ctx;
    this.opening = false;
    this.lastAttemptFailed = true;
    this.failures++;
    stats.retries++;
    if (this.socket) {
      this.socket.close();
      this.socket = null;
    }
    if (this.failures === 1) logger.warn({ drain: this.ctx.id, app: this.ctx.app, url: this.ctx.target.redacted, err: err.message }, 'drain unreachable');
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.closing && this.ctx.queue.pending) this.open();
    }, backoffDelay(this.failures, tuning.backoff));
  }

  private pump(): void {
    const s = this.socket;
    if (!s || !this.ready) return;
    const { queue, stats } = this.ctx;
    while (this.outstanding < MAX_OUTSTANDING && queue.pending) {
      const batch = queue.take(MAX_OUTSTANDING - this.outstanding, Infinity);
      if (!batch) break;
      for (let i = 0; i < batch.frames.length; i++) {
        const { datagram, truncated } = datagramOf(batch.frames[i], UDP_MAX_BYTES);
        if (truncated) stats.truncated++;
        const isL10 = i === 0 && batch.l10 !== null;
        this.outstanding++;
        s.send(datagram, (err) => {
          this.outstanding--;
          queue.doneAt(batch, i);
          if (err) {
            if (isL10 && batch.l10) queue.oweReport(batch.l10);
            else queue.noteDropped(1, Date.now());
          } else if (!isL10) {
            stats.delivered++;
          }
          if (this.ready && queue.pending && this.outstanding < MAX_OUTSTANDING / 2) this.pump();
        });
      }
    }
  }
}
