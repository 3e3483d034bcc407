// Real loopback receivers for the drain tests: octet-counted syslog over TCP/TLS, UDP, HTTPS.
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';
import { Registry } from 'prom-client';
import type { LogRecord } from '../../../shared/log-record.js';
import { DrainManager, type DrainManagerOptions } from '../../../logshuttle/drains/drain-manager.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/drains/', import.meta.url));
export const fixture = (name: string): Buffer => readFileSync(FIXTURES + name);

export interface Syslog {
  pri: number;
  timestamp: string;
  hostname: string;
  appName: string;
  procid: string;
  msgid: string;
  sd: string;
  msg: string;
}

/** Parses `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG`; throws when it does not match. */
export function parseSyslog(text: string): Syslog {
  const m = /^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) ([\s\S]*)$/.exec(text);
  if (!m) throw new Error(`not RFC5424: ${JSON.stringify(text.slice(0, 200))}`);
  return { pri: Number(m[1]), timestamp: m[2], hostname: m[3], appName: m[4], procid: m[5], msgid: m[6], sd: m[7], msg: m[8] };
}

/** Splits an octet-counted stream (`LEN SP MSG`…); returns the messages and the unparsed rest. */
export function splitOctetCounted(buf: Buffer): { messages: Buffer[]; rest: Buffer } {
  const messages: Buffer[] = [];
  let off = 0;
  for (;;) {
    const sp = buf.indexOf(0x20, off);
    if (sp < 0) break;
    const lenText = buf.toString('latin1', off, sp);
    if (!/^[1-9]\d{0,8}$/.test(lenText)) throw new Error(`bad octet count ${JSON.stringify(lenText)} at ${off}`);
    const len = Number(lenText);
    if (sp + 1 + len > buf.length) break;
    messages.push(buf.subarray(sp + 1, sp + 1 + len));
    off = sp + 1 + len;
  }
  return { messages, rest: buf.subarray(off) };
}

export interface StreamReceiver {
  port: number;
  /** every message received, decoded as UTF-8, in order */
  messages: string[];
  /** raw message bytes */
  raw: Buffer[];
  errors: string[];
  connections: number;
  sockets: Set<net.Socket>;
  /** starts reading on a stalled receiver */
  resume(): void;
  close(): Promise<void>;
}

/** A syslog receiver over TCP (or TLS when `tlsOptions` given) that parses octet counting. */
export async function startStreamReceiver(opts: { tls?: tls.TlsOptions; port?: number; host?: string; stall?: boolean } = {}): Promise<StreamReceiver> {
  let stalled = opts.stall === true;
  const r: StreamReceiver = {
    port: 0, messages: [], raw: [], errors: [], connections: 0, sockets: new Set(), close: async () => {},
    resume: () => {
      stalled = false;
      for (const s of r.sockets) s.resume();
    },
  };
  const onSocket = (socket: net.Socket) => {
    r.connections++;
    r.sockets.add(socket);
    socket.on('close', () => r.sockets.delete(socket));
    socket.on('error', () => {});
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      try {
        const { messages, rest } = splitOctetCounted(pending);
        for (const m of messages) {
          r.raw.push(Buffer.from(m));
          r.messages.push(m.toString('utf8'));
        }
        pending = Buffer.from(rest);
      } catch (err) {
        r.errors.push((err as Error).message);
        socket.destroy();
      }
    });
    if (stalled) socket.pause();
  };
  const server: net.Server = opts.tls ? tls.createServer(opts.tls, onSocket) : net.createServer(onSocket);
  if (opts.tls) server.on('tlsClientError', (err) => r.errors.push(`tlsClientError: ${err.message}`));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  r.port = (server.address() as net.AddressInfo).port;
  r.close = () => new Promise<void>((resolve) => {
    for (const s of r.sockets) s.destroy();
    server.close(() => resolve());
  });
  return r;
}

export interface UdpReceiver {
  port: number;
  datagrams: Buffer[];
  close(): Promise<void>;
}

export async function startUdpReceiver(): Promise<UdpReceiver> {
  const socket = dgram.createSocket('udp4');
  const r: UdpReceiver = { port: 0, datagrams: [], close: () => new Promise<void>((resolve) => socket.close(() => resolve())) };
  socket.on('message', (msg) => r.datagrams.push(Buffer.from(msg)));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  r.port = socket.address().port;
  return r;
}

export interface HttpRequestSeen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  status: number;
}

export interface HttpReceiver {
  port: number;
  requests: HttpRequestSeen[];
  /** answers the next request; default 200 */
  respond: (req: HttpRequestSeen, n: number) => number;
  close(): Promise<void>;
}

/** An HTTPS (or HTTP) receiver recording each request; its status comes from `respond`. */
export async function startHttpReceiver(opts: { tls?: https.ServerOptions } = {}): Promise<HttpReceiver> {
  const r: HttpReceiver = { port: 0, requests: [], respond: () => 200, close: async () => {} };
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seen: HttpRequestSeen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks), status: 0 };
      seen.status = r.respond(seen, r.requests.length);
      r.requests.push(seen);
      res.writeHead(seen.status, { 'content-type': 'text/plain' });
      res.end('ok');
    });
  };
  const server = opts.tls ? https.createServer(opts.tls, handler) : http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  r.port = (server.address() as net.AddressInfo).port;
  r.close = () => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return r;
}

/** Polls `cond` every 10 ms until true; rejects with `what` after `ms` (generous: the machine is loaded). */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface Harness {
  manager: DrainManager;
  registry: Registry;
  platformLines: LogRecord[];
  logs: Array<Record<string, unknown>>;
  logger: Logger;
}

/** A DrainManager with a capturing logger and a fresh registry; short backoff for tests. */
export function makeManager(opts: Partial<DrainManagerOptions> = {}): Harness {
  const logs: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => { logs.push(JSON.parse(s)); } });
  const registry = new Registry();
  const platformLines: LogRecord[] = [];
  const manager = new DrainManager({
    drainBuffer: 1024,
    logger,
    registry,
    emitPlatformLine: (rec) => platformLines.push(rec),
    ...opts,
    tuning: { backoff: { baseMs: 20, maxMs: 200 }, tls: { ca: fixture('ca.pem') }, ...opts.tuning },
  });
  return { manager, registry, platformLines, logs, logger };
}

let seq = 0;
export function line(app: string, message: string, over: Partial<LogRecord> = {}): LogRecord {
  return { app, source: 'app', process: 'web.1', stream: 'stdout', time: Date.UTC(2026, 10, 25, 10, 0, 0, 123) + seq++, message, ...over };
}
