import { InvalidArgumentError } from './errors.js';

/** How the request body is framed on the wire. */
export const NO_BODY = 0;
export const LENGTH_BODY = 1;
export const CHUNKED_BODY = 2;

/** A request head ready to write, and how its body follows. */
export interface RequestHead {
  /** request line, headers and the blank line: one latin1 string, one write */
  text: string;
  framing: typeof NO_BODY | typeof LENGTH_BODY | typeof CHUNKED_BODY;
  /** the body's Content-Length (LENGTH_BODY), else -1 */
  contentLength: number;
}

/** methods whose requests carry a body by definition: an empty one is sent as `content-length: 0` (like undici) */
const EXPECTS_PAYLOAD = new Set(['PUT', 'POST', 'PATCH', 'QUERY', 'PROPFIND', 'PROPPATCH']);
/** header names undici refuses to send (framing and connection management are the client's) */
const REFUSED = new Set(['transfer-encoding', 'keep-alive', 'upgrade', 'connection', 'expect']);
const REFUSED_LENGTH = new Uint8Array(32);
for (const n of REFUSED) REFUSED_LENGTH[n.length] = 1;
/** a request target undici would write: no control characters, spaces or characters past latin1 */
const INVALID_PATH = /[^\u0021-\u00ff]/;
const CONTENT_LENGTH_VALUE = /^\d{1,15}$/;

/** the reused pieces array (heads with more headers than fit get their own) */
const PARTS_MAX = 512;
const PARTS: string[] = ['', '', '', '', '', '']; // packed from the start (written from index 6 on first)

function countOf(s: string, c: string): number {
  let n = 0;
  for (let i = s.indexOf(c); i !== -1; i = s.indexOf(c, i + 1)) n++;
  return n;
}

/**
 * Builds the request head as one string from the flat header list Exchange hands over (see
 * router/front/forwarding-headers.ts buildUpstreamHeaders), the way undici writes it:
 * `METHOD path HTTP/1.1`, `host` (the list's, else the dyno's address), `connection: keep-alive`
 * (`close` for HEAD, as undici does: a dyno's stray HEAD body cannot poison the connection), the
 * headers in order, then the framing: the list's Content-Length for a body of known length,
 * `transfer-encoding: chunked` for one without, `content-length: 0` for a bodyless POST/PUT/PATCH.
 * Refuses (InvalidArgumentError, code UND_ERR_INVALID_ARG, as undici) a path or value that would
 * break the framing (CR, LF, NUL), a second Host or Content-Length, and headers undici refuses.
 */
export function buildRequestHead(method: string, path: string, headers: readonly string[] | null | undefined,
  hasBody: boolean, defaultHost: string): RequestHead {
  if (INVALID_PATH.test(path)) throw new InvalidArgumentError('invalid request path');
  let host = '';
  let count = 0;
  let contentLength = -1;
  // the head's pieces in one reused array, joined once: one flat string (`+=` made a cons
  // string per piece, flattened again by the socket write)
  const p: string[] = headers != null && headers.length * 2 + 12 > PARTS_MAX ? [] : PARTS;
  let n = 6; // the request line, host and connection come first, once the headers have been read
  if (headers != null) {
    for (let i = 0; i < headers.length; i += 2) {
      const k = headers[i];
      const v = headers[i + 1];
      if (k.length === 4 && k === 'host') {
        if (host !== '') throw new InvalidArgumentError('duplicate host header');
        host = v;
        continue;
      }
      if (k.length === 14 && k === 'content-length') {
        if (contentLength !== -1) throw new InvalidArgumentError('duplicate content-length header');
        if (!CONTENT_LENGTH_VALUE.test(v)) throw new InvalidArgumentError('invalid content-length header');
        contentLength = Number(v);
        continue;
      }
      if (k.length < 32 && REFUSED_LENGTH[k.length] === 1 && REFUSED.has(k.toLowerCase())) {
        throw new InvalidArgumentError(`invalid ${k} header`);
      }
      p[n++] = k;
      p[n++] = ': ';
      p[n++] = v;
      p[n++] = '\r\n';
      count++;
    }
  }
  p[0] = method;
  p[1] = ' ';
  p[2] = path;
  p[3] = ' HTTP/1.1\r\nhost: ';
  p[4] = host === '' ? defaultHost : host;
  p[5] = method === 'HEAD' ? '\r\nconnection: close\r\n' : '\r\nconnection: keep-alive\r\n';
  let framing: RequestHead['framing'] = NO_BODY;
  if (hasBody) {
    if (contentLength === -1) {
      p[n++] = 'transfer-encoding: chunked\r\n\r\n';
      framing = CHUNKED_BODY;
    } else {
      p[n++] = 'content-length: ';
      p[n++] = String(contentLength);
      p[n++] = '\r\n\r\n';
      framing = LENGTH_BODY;
    }
  } else {
    // undici: no Content-Length for an empty body unless the method expects one
    p[n++] = EXPECTS_PAYLOAD.has(method) ? 'content-length: 0\r\n\r\n' : '\r\n';
    contentLength = -1;
  }
  // what a longer head left in the reused array is blanked (the array never shrinks: no new backing store)
  for (let i = n; i < p.length; i++) if (p[i] !== '') p[i] = '';
  const text = p.join('');
  // every line ends with CRLF and nothing else breaks a line: one scan instead of a check per value
  const expected = count + 5 - (hasBody || EXPECTS_PAYLOAD.has(method) ? 0 : 1);
  if (countOf(text, '\n') !== expected || countOf(text, '\r') !== expected || text.includes('\0')) {
    throw new InvalidArgumentError('invalid header value (CR, LF or NUL)');
  }
  return { text, framing, contentLength };
}
