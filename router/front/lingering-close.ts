import type { HttpResponse } from 'uWebSockets.js';

/**
 * A refusal sent while the client is still sending its body (413, a 400 of the head checks, a
 * filter's 401/403/429, a 404) is read by the client only if the connection is not reset under
 * it: closing a socket with unread bytes makes the kernel send RST, and a client still writing
 * then gets a broken pipe instead of the status (curl: 4 of 12 uploads of 10 MB saw no status).
 * nginx's answer is the lingering close: answer, then read and discard what keeps coming, and
 * close once the client stops sending (`lingering_timeout`, 5 s without a byte), or at the latest
 * after `lingering_time` (30 s). The same bounds here, and a bound on the bytes read for nothing.
 */
export const LINGERING_TIME_MS = 30_000;
export const LINGERING_TIMEOUT_MS = 5_000;
export const LINGERING_MAX_BYTES = 16 * 1024 * 1024;

/**
 * What uWebSockets.js 20.30 allows: once a response has ended, uWS hands no more body bytes to
 * JavaScript and the response object is dead (`close()` throws), while uWS itself goes on
 * reading the body for as long as the client sends it (at 16 KiB/s or more) and `end(…, true)`
 * closes at once (shutdown, then close: RST when bytes are unread). So the refusal is written
 * whole while the response stays pending: status line, headers, `Connection: close`, then
 * `Content-Length` whose value also carries the blank line and the body (uWS writes every
 * header as `name: value\r\n`, so the body's last line ends in CRLF). The response never
 * "ends" for uWS: the body keeps arriving here (onData) to be counted and dropped, a request
 * pipelined behind it still aborts the connection (uWS's rule while a response is pending, the
 * router's defence against smuggling), and `close()` stays available for the end of the linger.
 */
export class LingeringClose {
  private discarded = 0;
  private bodyEnded: boolean;
  private answered = false;
  private closed = false;
  private lastDataAt = 0;
  private deadline = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;

  /**
   * `bodyEnded`: the whole body has already arrived (nothing left to linger for). The owner of
   * the response's onData either calls listen() or forwards the body's bytes to `take`.
   */
  constructor(private readonly res: HttpResponse, bodyEnded = false) {
    this.bodyEnded = bodyEnded;
    // the abort handler is ours from now on: nothing else is to be done with the request
    res.onAborted(this.onAborted);
  }

  /** Takes the request body's bytes from uWS itself (no other onData handler on this response). */
  listen(): this {
    this.res.onData((chunk, isLast) => this.take(chunk.byteLength, isLast));
    return this;
  }

  /** the client went away (or the connection closed) */
  get isClosed(): boolean {
    return this.closed;
  }

  /** A piece of the body (dropped): the end, or too many bytes, closes the connection once answered. */
  readonly take = (bytes: number, isLast: boolean): void => {
    if (this.closed) return;
    this.discarded += bytes;
    this.lastDataAt = performance.now();
    if (isLast) this.bodyEnded = true;
    // not at once: uWS hands the body over while the socket is corked, with the answer possibly
    // still in the cork buffer (a small body that came with the head), and close() would drop it
    if (this.answered && (isLast || this.discarded > LINGERING_MAX_BYTES)) setImmediate(this.closeNow);
  };

  private readonly closeNow = (): void => this.close();

  /**
   * Writes the answer: `writeHead` writes the status line and headers (neither Connection nor
   * Content-Length); `body` is the text. With the body all here, an ordinary answer and close;
   * else the whole answer at once, and the connection lingers.
   */
  answer(writeHead: (res: HttpResponse) => void, body: string, headOnly: boolean): void {
    if (this.closed) return;
    const res = this.res;
    if (this.bodyEnded) {
      this.closed = true;
      res.cork(() => {
        writeHead(res);
        if (headOnly) res.endWithoutBody(Buffer.byteLength(body), true);
        else res.end(body, true);
      });
      return;
    }
    // the last line break of the body is the CRLF uWS writes after the header value
    const text = body.endsWith('\r\n') ? body.slice(0, -2) : body.endsWith('\n') ? body.slice(0, -1) : body;
    const length = Buffer.byteLength(text) + 2;
    res.cork(() => {
      writeHead(res);
      res.writeHeader('connection', 'close');
      res.writeHeader('content-length', headOnly ? `${length}\r\n` : `${length}\r\n\r\n${text}`);
    });
    this.answered = true;
    const now = performance.now();
    this.lastDataAt = now;
    this.deadline = now + LINGERING_TIME_MS;
    this.arm(LINGERING_TIMEOUT_MS);
  }

  private arm(ms: number): void {
    this.timer = setTimeout(this.check, Math.max(1, ms));
    this.timer.unref();
  }

  /** Closes when the client has sent nothing for LINGERING_TIMEOUT_MS, or LINGERING_TIME_MS after the answer. */
  private readonly check = (): void => {
    this.timer = null;
    if (this.closed) return;
    const now = performance.now();
    const idleUntil = this.lastDataAt + LINGERING_TIMEOUT_MS;
    if (now >= this.deadline || now >= idleUntil) this.close();
    else this.arm(Math.min(this.deadline, idleUntil) - now);
  };

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.clear();
    this.res.close();
  }

  private readonly onAborted = (): void => {
    this.closed = true;
    this.clear();
  };

  private clear(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }
}
