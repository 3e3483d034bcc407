import { connect, type Socket } from 'node:net';

/** What came back on one raw connection. */
export interface RawAnswer {
  /** status of the first response, 0 when none */
  status: number;
  /** everything received, latin1 */
  text: string;
  /** the router closed (or reset) the connection */
  closed: boolean;
  /** ms from connect to the end of the exchange (reported in comments, never asserted) */
  ms: number;
}

function statusOf(text: string): number {
  const m = /^HTTP\/1\.1 (\d{3}) /.exec(text);
  return m === null ? 0 : Number(m[1]);
}

/** true once `text` holds one whole response (by Content-Length or chunked framing) */
function complete(text: string): boolean {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return false;
  const head = text.slice(0, end).toLowerCase();
  const cl = /\r\ncontent-length: *(\d+)/.exec(head);
  if (cl !== null) return text.length >= end + 4 + Number(cl[1]);
  return /\r\ntransfer-encoding: *chunked/.test(head) && text.endsWith('\r\n0\r\n\r\n');
}

/**
 * Opens a connection, writes `parts` (with `gapMs` between them when given; each part goes out
 * as its own segment), and resolves at the first whole response, at the close, or at the
 * timeout. `untilClose` waits for the close even after a whole response.
 */
export function rawSend(port: number, parts: (string | Buffer)[] | string | Buffer,
  opts: { gapMs?: number; timeoutMs?: number; untilClose?: boolean } = {}): Promise<RawAnswer> {
  const list = Array.isArray(parts) ? parts : [parts];
  return new Promise((resolve) => {
    const t0 = Date.now();
    const sock: Socket = connect(port, '127.0.0.1');
    sock.setNoDelay(true);
    let text = '';
    let settled = false;
    let gapTimer: NodeJS.Timeout | undefined;
    const done = (closed: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(gapTimer);
      sock.destroy();
      resolve({ status: statusOf(text), text, closed, ms: Date.now() - t0 });
    };
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      text += d;
      if (!opts.untilClose && complete(text)) done(false);
    });
    sock.on('error', () => undefined);
    sock.on('close', () => done(true));
    sock.on('connect', () => {
      let i = 0;
      const next = (): void => {
        if (settled || sock.destroyed) return;
        sock.write(list[i++]);
        if (i < list.length) gapTimer = setTimeout(next, opts.gapMs ?? 0);
      };
      next();
    });
    const timer = setTimeout(() => done(false), opts.timeoutMs ?? 40000);
  });
}

/** `text` cut into pieces of `size` characters. */
export function pieces(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}
