import dgram from 'node:dgram';
import dns from 'node:dns';
import net from 'node:net';
import { datagramOf, UDP_MAX_BYTES } from './rfc5424.js';
import { SocketSender } from './socket-sender.js';
import { frameEnd } from './frame-queue.js';

const MAX_OUTSTANDING = 128;

/**
 * syslog+udp drains: one RFC5424 message per datagram (no octet count), at most 2,048 bytes;
 * longer messages are cut on a UTF-8 boundary and counted (`truncated`). A connected UDP
 * socket per drain; at most MAX_OUTSTANDING sends in the kernel's hands at once, the rest
 * waits in the bounded queue. A send that fails is counted as dropped (reported by L10).
 * Opening (name lookup, connect) is retried with backoff (socket-sender.ts); warned once a row.
 */
export class UdpSender extends SocketSender {
  private socket: dgram.Socket | null = null;
  private attempting = false;
  private outstanding = 0;

  protected opening(): boolean {
    return this.attempting;
  }

  protected inFlight(): number {
    return this.outstanding;
  }

  protected closeSocket(): Promise<void> {
    const s = this.socket;
    this.socket = null;
    this.ready = false;
    this.ctx.stats.connected = false;
    if (!s) return Promise.resolve();
    return new Promise<void>((resolve) => s.close(() => resolve()));
  }

  protected open(): void {
    this.attempting = true;
    const { host } = this.ctx.target;
    const family = net.isIP(host);
    if (family !== 0) {
      this.bind(host, family);
      return;
    }
    dns.lookup(host, (err, address, fam) => {
      if (this.closing) return;
      if (err) this.attemptFailed(err);
      else this.bind(address, fam);
    });
  }

  private bind(address: string, family: number): void {
    const socket = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
    socket.on('error', (err) => {
      if (socket === this.socket && !this.ready) this.attemptFailed(err);
    });
    socket.connect(this.ctx.target.port, address, () => {
      if (this.closing) {
        socket.close();
        return;
      }
      this.attempting = false;
      this.connected();
      this.pump();
    });
    this.socket = socket;
  }

  private attemptFailed(err: Error): void {
    this.attempting = false;
    this.failed(true);
    if (this.socket) {
      this.socket.close();
      this.socket = null;
    }
    if (this.warnDue(Infinity)) this.ctx.logger.warn({ drain: this.ctx.id, app: this.ctx.app, url: this.ctx.target.redacted, err: err.message }, 'drain unreachable');
    this.retryLater();
  }

  protected pump(): void {
    const s = this.socket;
    if (!s || !this.ready) return;
    const { queue, stats } = this.ctx;
    while (this.outstanding < MAX_OUTSTANDING && queue.pending) {
      const batch = queue.take(MAX_OUTSTANDING - this.outstanding, Infinity);
      if (!batch) break;
      for (let i = 0; i < batch.frames.length; i++) {
        const chunk = batch.frames[i];
        const isL10 = i === 0 && batch.l10 !== null;
        const lines = isL10 ? 1 : batch.counts !== undefined ? batch.counts[i] : 1;
        // a chunk of several frames: one datagram per frame (frames carry their own length)
        for (let at = 0, k = 0; k < lines; k++) {
          const next = lines === 1 ? chunk.length : frameEnd(chunk, at);
          const { datagram, truncated } = datagramOf(lines === 1 ? chunk : chunk.subarray(at, next), UDP_MAX_BYTES);
          at = next;
          if (truncated) stats.truncated++;
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
}
