import { connect } from 'node:net';

/** What an uploading client saw. */
export interface UploadResult {
  /** status of the response, 0 when none arrived */
  status: number;
  /** everything received, latin1 */
  text: string;
  /** body bytes written before the end (all of them, or fewer when the connection went first) */
  written: number;
  /** the socket error that ended it (ECONNRESET, EPIPE: a reset), null for a clean close (or the deadline) */
  error: string | null;
  /** the connection closed before the deadline */
  closed: boolean;
}

export interface UploadOptions {
  /** body bytes to send (after the head) */
  bytes: number;
  /** send the body as chunked framing (the head must say `Transfer-Encoding: chunked`) */
  chunked?: boolean;
  /** stop writing after this many body bytes and keep the connection open, silent */
  stopAfter?: number;
  /** bytes per write (64 KiB) */
  piece?: number;
  /** the whole exchange's deadline (only bounds a hang) */
  timeoutMs?: number;
}

/**
 * A client that writes a request head and then its body as fast as the connection takes it
 * (respecting backpressure), reading whatever comes back meanwhile, as curl does, until the
 * router closes the connection. It never half-closes its side.
 */
export function rawUpload(port: number, head: string, opts: UploadOptions): Promise<UploadResult> {
  const piece = Buffer.alloc(opts.piece ?? 64 * 1024, 0x61);
  const limit = Math.min(opts.bytes, opts.stopAfter ?? Infinity);
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let text = '';
    let written = 0;
    let error: string | null = null;
    let settled = false;
    const done = (closed: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      const m = /^HTTP\/1\.1 (\d{3}) /.exec(text);
      resolve({ status: m === null ? 0 : Number(m[1]), text, written, error, closed });
    };
    // one piece per turn of the event loop, as curl's loop does: a socket whose kernel buffer
    // takes every write at once would otherwise write megabytes in one synchronous loop, never
    // reading the answer that came meanwhile, and lose it to the reset that ends the upload
    const pump = (): void => {
      if (sock.destroyed || written >= limit) return;
      const n = Math.min(piece.length, limit - written);
      const data = n === piece.length ? piece : piece.subarray(0, n);
      written += n;
      const last = written === opts.bytes;
      const ok = opts.chunked === true
        ? sock.write(Buffer.concat([Buffer.from(`${n.toString(16)}\r\n`), data, Buffer.from(last ? '\r\n0\r\n\r\n' : '\r\n')]))
        : sock.write(data);
      if (ok) setImmediate(pump);
      else sock.once('drain', pump);
    };
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => (text += d));
    sock.on('error', (e: NodeJS.ErrnoException) => (error ??= e.code ?? e.message));
    sock.on('close', () => done(true));
    sock.on('connect', () => {
      sock.write(head);
      pump();
    });
    const timer = setTimeout(() => done(false), opts.timeoutMs ?? 60000);
  });
}
