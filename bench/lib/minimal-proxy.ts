/**
 * The minimal-proxy ceiling row (bench only, never product code): the smallest correct keep-alive
 * HTTP/1.1 proxy on the router's own stack, so every proxy row can say how far it is from what
 * uWS + node:net can do. It forwards what the router forwards (the client's end-to-end headers,
 * then X-Forwarded-For/-Proto/-Port/-Host/-Path, X-Request-Id, X-Request-Start, Via), answers with
 * the dyno's status and end-to-end headers plus X-Request-Id and Via, and writes one access line
 * per request (batched to stdout, like the router's). Request bodies are forwarded with their
 * Content-Length; responses must be framed by Content-Length (the bench backend's are). What it
 * leaves out is what the router adds on top: routing, filters, retries, ejection, timeouts,
 * metrics, chunked framing, WebSockets.
 *
 *   node dist/bench/lib/minimal-proxy.js --upstream 127.0.0.1:PORT     prints `port N` on stderr
 *
 * With `--cert FILE --key FILE` it terminates TLS (uWS.SSLApp, the router's HTTPS front) and says
 * `x-forwarded-proto: https`: the HTTPS ceiling row (bench/https-rows.ts). Without them it is the
 * plain proxy above, unchanged.
 */
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { HttpResponse, us_socket } from 'uWebSockets.js';

const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host',
  'content-length', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-port', 'x-forwarded-host', 'x-forwarded-path',
  'x-request-id', 'x-request-start', 'via']);
const RESPONSE_SKIP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'date']);

interface Pending { res: HttpResponse; aborted: boolean; start: number; id: string; line: string }

/** One keep-alive connection to the upstream, one request at a time. */
class Upstream {
  private buf: Buffer = Buffer.alloc(0);
  pending: Pending | null = null;
  readonly sock: Socket;

  constructor(host: string, port: number, private readonly idle: Upstream[], private readonly done: (p: Pending, status: number, bytes: number) => void) {
    this.sock = connect(port, host);
    this.sock.setNoDelay(true);
    this.sock.on('data', (d: Buffer) => this.onData(d));
    this.sock.on('error', () => undefined);
    this.sock.on('close', () => {
      const i = this.idle.indexOf(this);
      if (i >= 0) this.idle.splice(i, 1);
      const p = this.pending;
      this.pending = null;
      if (p && !p.aborted) p.res.cork(() => p.res.writeStatus('502 Bad Gateway').end('Bad gateway\n'));
    });
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0 || this.pending === null) return;
    const head = this.buf.toString('latin1', 0, end);
    const lines = head.split('\r\n');
    let length = 0;
    const headers: [string, string][] = [];
    for (let i = 1; i < lines.length; i++) {
      const c = lines[i].indexOf(':');
      const name = lines[i].slice(0, c).toLowerCase();
      const value = lines[i].slice(c + 1).trim();
      if (name === 'content-length') length = Number(value);
      if (!RESPONSE_SKIP.has(name)) headers.push([name, value]);
    }
    if (this.buf.length < end + 4 + length) return;
    const body = this.buf.subarray(end + 4, end + 4 + length);
    this.buf = this.buf.subarray(end + 4 + length);
    const p = this.pending;
    this.pending = null;
    const statusLine = lines[0].slice(9);
    if (!p.aborted) {
      p.res.cork(() => {
        p.res.writeStatus(statusLine);
        for (const [k, v] of headers) p.res.writeHeader(k, v);
        p.res.writeHeader('x-request-id', p.id);
        p.res.writeHeader('via', '1.1 minimal');
        p.res.end(body);
      });
    }
    this.idle.push(this);
    this.done(p, Number(statusLine.slice(0, 3)), length);
  }
}

async function serve(upstream: string, tls?: { cert: string; key: string }): Promise<void> {
  const { default: uWS } = await import('uWebSockets.js');
  const [uHost, uPort] = [upstream.slice(0, upstream.lastIndexOf(':')), Number(upstream.slice(upstream.lastIndexOf(':') + 1))];
  const idle: Upstream[] = [];
  let lines: string[] = [];
  const flush = (): void => {
    process.stdout.write(lines.join(''));
    lines = [];
  };
  const done = (p: Pending, status: number, bytes: number): void => {
    if (lines.length === 0) setImmediate(flush);
    lines.push(`at=info ${p.line} dyno=${upstream} service=${Math.round(performance.now() - p.start)}ms status=${status} bytes=${bytes}\n`);
  };
  const prefix = Math.random().toString(36).slice(2, 8);
  let seq = 0;
  let listenPort = 0;
  const proto = tls ? 'https' : 'http';
  const app = tls ? uWS.SSLApp({ cert_file_name: tls.cert, key_file_name: tls.key }) : uWS.App();
  app.any('/*', (res, req) => {
    const start = performance.now();
    const method = req.getCaseSensitiveMethod();
    const query = req.getQuery();
    const path = query ? `${req.getUrl()}?${query}` : req.getUrl();
    const host = req.getHeader('host');
    const id = `${prefix}-${++seq}`;
    const remote = Buffer.from(res.getRemoteAddressAsText()).toString();
    let head = `${method} ${path} HTTP/1.1\r\nhost: ${host}\r\n`;
    req.forEach((k, v) => {
      if (!HOP.has(k)) head += `${k}: ${v}\r\n`;
    });
    const length = Number(req.getHeader('content-length') || 0);
    head += `x-forwarded-for: ${remote}\r\nx-forwarded-proto: ${proto}\r\nx-forwarded-port: ${listenPort}\r\nx-forwarded-host: ${host}\r\n`
      + `x-forwarded-path: ${path}\r\nx-request-id: ${id}\r\nx-request-start: ${Date.now()}\r\nvia: 1.1 minimal\r\n`
      + `content-length: ${length}\r\n\r\n`;
    const p: Pending = { res, aborted: false, start, id, line: `method=${method} path=${path} host=${host} request_id=${id} fwd="${remote}"` };
    res.onAborted(() => { p.aborted = true; });
    const conn = idle.pop() ?? new Upstream(uHost, uPort, idle, done);
    conn.pending = p;
    conn.sock.write(head);
    if (length > 0) res.onData((chunk) => conn.sock.write(Buffer.from(chunk)));
  }).listen('127.0.0.1', 0, (socket) => {
    if (!socket) process.exit(1);
    listenPort = uWS.us_socket_local_port(socket as unknown as us_socket);
    process.stderr.write(`port ${listenPort}\n`);
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { upstream: { type: 'string' }, cert: { type: 'string' }, key: { type: 'string' } } });
  if (!values.upstream) throw new Error('--upstream HOST:PORT is required');
  // an exit, not a death by signal: --cpu-prof writes its profile at exit (bench/request-budget.ts)
  process.on('SIGTERM', () => process.exit(0));
  void serve(values.upstream, values.cert && values.key ? { cert: values.cert, key: values.key } : undefined);
}
