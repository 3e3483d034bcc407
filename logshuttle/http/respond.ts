import type { HttpResponse } from 'uWebSockets.js';

/** Sends a whole response (corked: safe from any callback). */
export function respond(res: HttpResponse, status: string, body: string | Buffer, contentType = 'text/plain; charset=utf-8', headers: Record<string, string> = {}): void {
  if (res.done) return;
  res.done = true;
  res.cork(() => {
    res.writeStatus(status).writeHeader('Content-Type', contentType);
    for (const [k, v] of Object.entries(headers)) res.writeHeader(k, v);
    res.end(body);
  });
}

export function respondJson(res: HttpResponse, status: string, value: unknown): void {
  respond(res, status, JSON.stringify(value) + '\n', 'application/json');
}

/** Answers an error as JSON `{error, code}`. */
export function respondError(res: HttpResponse, status: string, code: string, message: string): void {
  respondJson(res, status, { error: message, code });
}

/**
 * Reads a request body of at most `limit` bytes; `done(null)` when it is too long (the
 * response is then already 413). When the client goes away first, `aborted` is called instead.
 */
export function readBody(res: HttpResponse, limit: number, done: (body: Buffer | null) => void, aborted?: () => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let over = false;
  res.onAborted(() => {
    res.done = true;
    res.aborted = true;
    if (!over) aborted?.();
  });
  res.onData((ab: ArrayBuffer, isLast: boolean) => {
    if (over || res.aborted) return;
    size += ab.byteLength;
    if (size > limit) {
      over = true;
      respondError(res, '413 Payload Too Large', 'E_TOO_LARGE', `body larger than ${limit} bytes`);
      done(null);
      return;
    }
    chunks.push(Buffer.from(ab.slice(0)));
    if (isLast) done(Buffer.concat(chunks, size));
  });
}
