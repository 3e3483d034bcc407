import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** Largest admin request body read (a config document of 10,000 sites is about 3 MiB). */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;

/**
 * After a refused body (413), how long and how much more of it is read and thrown away before
 * the connection closes: nginx's lingering close. Closing a socket with unread data sends a
 * reset, and a client still sending its body would see the reset instead of the answer.
 */
export const LINGER = Object.freeze({ totalMs: 30_000, idleMs: 5_000, bytes: 64 * 1024 * 1024 });

/** The body, or 'too-large' as soon as it is known to exceed `limit` (its rest is not buffered). */
export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer | 'too-large'> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.resolve('too-large');
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size > limit) {
        chunks.length = 0;
        req.off('data', onData);
        req.off('end', onEnd);
        resolve('too-large');
        return;
      }
      chunks.push(c);
    };
    const onEnd = (): void => resolve(Buffer.concat(chunks));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', reject);
  });
}

/**
 * Answers at once, then keeps reading the request's body and throwing it away, up to LINGER's
 * bounds, before closing: the client sees the answer even while it is still sending. Node's
 * server closes a `Connection: close` response's socket with destroySoon() once the answer is
 * written; on this socket that becomes: end our side (FIN after the answer), discard what still
 * comes, destroy when the body ends or a bound is reached.
 */
export function answerThenLinger(req: IncomingMessage, res: ServerResponse, answer: () => void, limits = LINGER): void {
  const socket = req.socket as Socket & { destroySoon?: () => void };
  let discarded = 0;
  let total: NodeJS.Timeout | null = null;
  let idle: NodeJS.Timeout | null = null;
  const close = (): void => {
    if (total) clearTimeout(total);
    if (idle) clearTimeout(idle);
    socket.destroy();
  };
  const poke = (): void => {
    if (idle) clearTimeout(idle);
    idle = setTimeout(close, limits.idleMs);
  };
  req.on('data', (c: Buffer) => {
    discarded += c.length;
    if (discarded > limits.bytes) close();
    else if (idle) poke();
  });
  req.on('end', () => { if (total) close(); });
  socket.once('close', () => {
    if (total) clearTimeout(total);
    if (idle) clearTimeout(idle);
  });
  socket.destroySoon = () => {
    socket.end();
    if (req.complete) return close();
    total = setTimeout(close, limits.totalMs);
    poke();
  };
  res.shouldKeepAlive = false;
  res.setHeader('connection', 'close');
  answer();
}
