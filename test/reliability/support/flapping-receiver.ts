import net from 'node:net';
import { privateLoopbackHost } from '../../support/router-harness.js';

/**
 * How the receiver goes down: `graceful` sends FIN and keeps reading what the sender had already
 * written until the sender closes (a receiver restarting cleanly); `abrupt` resets the
 * connections at once (a receiver that crashes), so bytes in flight are lost.
 */
export type FlapMode = 'graceful' | 'abrupt';

/**
 * A syslog-over-TCP receiver (octet-counted frames, RFC 6587 §3.4.1) on a fixed port of a
 * loopback address of this process's own (privateLoopbackHost: nothing else can take the port
 * while it is down) that can flap: up for `upMs`, then it stops listening and closes its
 * connections, then it listens again on the same address `downMs` later (or once `holdDown`
 * says so).
 */
export class FlappingReceiver {
  /** every complete message received, in order, as UTF-8 */
  readonly messages: string[] = [];
  connections = 0;
  flaps = 0;
  /** bytes of incomplete frames left when a connection closed */
  truncatedBytes = 0;
  port = 0;
  readonly host = privateLoopbackHost();
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  private flapping: Promise<void> | null = null;
  private stopFlag = false;

  async listen(): Promise<void> {
    const server = net.createServer((s) => this.accept(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  private accept(socket: net.Socket): void {
    this.connections++;
    this.sockets.add(socket);
    let buf: Buffer = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
      let off = 0;
      for (;;) {
        const sp = buf.indexOf(0x20, off);
        if (sp < 0) break;
        const len = Number(buf.toString('latin1', off, sp));
        if (!Number.isInteger(len) || len < 1) {
          socket.destroy(new Error(`bad octet count at ${off}`));
          return;
        }
        if (sp + 1 + len > buf.length) break;
        this.messages.push(buf.toString('utf8', sp + 1, sp + 1 + len));
        off = sp + 1 + len;
      }
      buf = buf.subarray(off);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.truncatedBytes += buf.length;
      this.sockets.delete(socket);
    });
  }

  /** Goes down once: stops listening, closes every connection (as `mode` says). */
  async down(mode: FlapMode): Promise<void> {
    const server = this.server;
    this.server = null;
    // the listening socket closes at once; close()'s callback would wait for the connections
    server?.close();
    for (const s of this.sockets) {
      if (mode === 'graceful') s.end();
      // A socket whose FIN is under way (our end(), or Node's answer to the sender's FIN) cannot
      // be reset: libuv refuses (EINVAL) while the shutdown is pending, and Node then marks the
      // handle closing without closing it, so the process never exits (it spins at exit in
      // Environment::CleanupHandles). Such a socket is destroyed instead: it is closing anyway.
      else if (s.writableEnded) s.destroy();
      else s.resetAndDestroy();
    }
  }

  /**
   * Flaps until stopFlapping(): up `upMs`, down `downMs`, again and again; with `holdDown`, each
   * down period lasts at least `downMs` and until it resolves true (asked every 50 ms).
   */
  startFlapping(mode: FlapMode, upMs: number, downMs: number, holdDown?: () => Promise<boolean>): void {
    this.stopFlag = false;
    this.flapping = (async () => {
      while (!this.stopFlag) {
        await new Promise((r) => setTimeout(r, upMs));
        if (this.stopFlag) break;
        await this.down(mode);
        this.flaps++;
        await new Promise((r) => setTimeout(r, downMs));
        while (holdDown !== undefined && !this.stopFlag && !(await holdDown().catch(() => false))) {
          await new Promise((r) => setTimeout(r, 50));
        }
        await this.listen();
      }
    })();
  }

  /** Ends the flapping with the receiver up. */
  async stopFlapping(): Promise<void> {
    this.stopFlag = true;
    await this.flapping;
    if (!this.server) await this.listen();
  }

  /** Stops flapping and listening, resets every connection and waits until each has closed. */
  async close(): Promise<void> {
    this.stopFlag = true;
    await this.flapping?.catch(() => undefined);
    const closed = [...this.sockets].map((s) => new Promise<void>((r) => (s.closed ? r() : s.once('close', () => r()))));
    await this.down('abrupt');
    await Promise.all(closed);
  }
}
