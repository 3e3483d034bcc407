import t from 'tap';
import type { HttpResponse } from 'uWebSockets.js';
import type { ClientHeaderFacts } from '../../../router/front/head-checks.js';
import type { UpstreamDispatchOptions, UpstreamHandler, UpstreamPool } from '../../../router/upstream/h1/dispatch-contract.js';
import type { Dyno } from '../../../router/upstream/dyno.js';
import type { AppRoute, RouteTable } from '../../../router/routing/route-table.js';
import { Exchange } from '../../../router/upstream/exchange.js';
import { InFlight } from '../../../router/upstream/in-flight.js';
import { RoundRobin } from '../../../router/upstream/round-robin.js';
import { until } from '../../support/router-harness.js';

/*
 * The HTTP exchange's retry decisions (router/upstream/exchange.ts) against a fake pool: each
 * fake dyno's pool plays a script through the dispatch contract (the calls the lean client and
 * undici make, with their real error codes). What is asserted is what the client gets (status,
 * body), the access line, which dynos were tried in which order and which were ejected.
 * dyno-attempts.test.ts covers the policy's decisions on their own; this covers the exchange's
 * part: the error classification, a request body already handed to an attempt, a failure after
 * the response head and after the first body byte, a request undici refuses to send.
 */

type Step = 'refused' | 'connect-timeout' | 'closed' | 'head-timeout' | 'garbage' | 'ok' | 'head-then-closed' | 'data-then-closed'
  | 'invalid-request' | 'read-body-then-refused';

const err = (code: string, message: string): Error => Object.assign(new Error(message), { code });

/** A dyno whose pool plays `script` (one step per request it gets; the last step repeats). */
class ScriptedDyno {
  readonly pool: UpstreamPool;
  ejectedUntil = 0;
  fails = 0;
  successes = 0;
  calls = 0;
  constructor(readonly address: string, readonly script: Step[], readonly tried: string[]) {
    this.pool = {
      dispatch: (opts, handler) => {
        this.tried.push(address);
        const step = script[Math.min(this.calls++, script.length - 1)];
        setImmediate(() => play(step, opts, handler));
        return true;
      },
      close: async () => undefined,
      destroy: async () => undefined,
    };
  }
  isEjected(now: number): boolean {
    return this.ejectedUntil > now;
  }
  fail(now: number): void {
    this.fails++;
    this.ejectedUntil = now + 60_000;
  }
  succeed(): void {
    this.successes++;
    this.ejectedUntil = 0;
  }
}

function play(step: Step, opts: UpstreamDispatchOptions, h: UpstreamHandler): void {
  const head = (length: number): boolean => h.onHeaders!(200, [Buffer.from('content-length'), Buffer.from(String(length))], () => undefined, 'OK');
  switch (step) {
    case 'refused': return h.onError!(err('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1'));
    case 'connect-timeout': return h.onError!(err('UND_ERR_CONNECT_TIMEOUT', 'Connect Timeout Error'));
    case 'invalid-request': return h.onError!(err('UND_ERR_INVALID_ARG', 'invalid header'));
    case 'read-body-then-refused':
      opts.body!.once('data', () => h.onError!(err('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1')));
      return;
  }
  h.onConnect!(() => undefined);
  switch (step) {
    case 'closed': return h.onError!(err('UND_ERR_SOCKET', 'other side closed'));
    case 'head-timeout': return h.onError!(err('UND_ERR_HEADERS_TIMEOUT', 'Headers Timeout Error'));
    case 'garbage': return h.onError!(err('HPE_INVALID_CONSTANT', 'Expected HTTP/'));
    case 'ok':
      head(2);
      h.onData!(Buffer.from('ok'));
      return h.onComplete!(null);
    case 'head-then-closed':
      head(10);
      return h.onError!(err('UND_ERR_SOCKET', 'other side closed'));
    case 'data-then-closed':
      head(10);
      h.onData!(Buffer.from('part'));
      return h.onError!(err('UND_ERR_SOCKET', 'other side closed'));
  }
}

/** The client's side of the exchange: what uWS would have written to the socket. */
class ClientResponse {
  status = '';
  headers: [string, string][] = [];
  body = '';
  ended = false;
  closed = false;
  private onDataCb: ((ab: ArrayBuffer, isLast: boolean) => void) | null = null;
  cork(cb: () => void): this { cb(); return this; }
  writeStatus(s: string): this { this.status = s; return this; }
  writeHeader(k: string, v: string): this { this.headers.push([k, v]); return this; }
  write(chunk: Buffer): boolean { this.body += chunk.toString(); return true; }
  end(body: string | Buffer = '', _close = false): this { this.body += body.toString(); this.ended = true; return this; }
  endWithoutBody(): this { this.ended = true; return this; }
  tryEnd(chunk: Buffer, total: number): [boolean, boolean] {
    this.body += chunk.toString();
    if (Buffer.byteLength(this.body) >= total) this.ended = true;
    return [true, this.ended];
  }
  getWriteOffset(): number { return Buffer.byteLength(this.body); }
  onWritable(): this { return this; }
  onAborted(): this { return this; }
  onData(cb: (ab: ArrayBuffer, isLast: boolean) => void): this { this.onDataCb = cb; return this; }
  close(): this { this.closed = true; return this; }
  /** the client sends its request body, whole */
  send(body: string): void {
    const b = Buffer.from(body);
    this.onDataCb!(b.buffer.slice(b.byteOffset, b.byteOffset + b.length), true);
  }
}

/** One request through a real Exchange to an app whose dynos play `scripts`. */
async function request(scripts: Step[][], opts: { method?: string; body?: string } = {}): Promise<{
  res: ClientResponse; line: string; tried: string[]; dynos: ScriptedDyno[];
}> {
  const tried: string[] = [];
  const dynos = scripts.map((s, i) => new ScriptedDyno(`10.0.0.${i + 1}:5000`, s, tried));
  const app: AppRoute = {
    name: 'api', balancer: new RoundRobin(dynos as unknown as Dyno[]), filters: [], maintenance: false, internal: false, canary: null,
  };
  const table: RouteTable = {
    version: '1', hosts: new Map(), apps: new Map([['api', app]]), timeouts: { connectMs: 5000, firstByteMs: 30000, idleMs: 55000 },
    maxBodyBytes: 1 << 20, dynos: new Set(dynos as unknown as Dyno[]),
  };
  const lines: string[] = [];
  const host = { table, inFlight: new InFlight(), accessLog: { write: (_app: string, line: string) => void lines.push(line) } };
  const res = new ClientResponse();
  const method = opts.method ?? 'GET';
  const ex = new Exchange(res as unknown as HttpResponse, host, table, method, '/x', 'api.example.com', 'rid-1', '192.0.2.1', 'http', performance.now());
  ex.app = app;
  ex.upstreamPath = '/x';
  const length = opts.body === undefined ? -1 : Buffer.byteLength(opts.body);
  const facts: ClientHeaderFacts = {
    host: 'api.example.com', contentLength: length, contentLengths: length < 0 ? 0 : 1, chunked: false, transferEncoding: false,
    requestId: '', xff: '', via: '', connection: '',
  };
  if (ex.admit(facts)) {
    if (opts.body !== undefined) res.send(opts.body);
    ex.proceed();
  }
  await until(() => lines.length > 0, 20000, 'the access line');
  return { res, line: lines[0], tried, dynos };
}

const code = (line: string): string => /code=(\S+)/.exec(line)?.[1] ?? 'none';
const dynoOf = (line: string): string => /dyno=(\S*)/.exec(line)![1];

t.test('refused: the next dyno serves the request; the refusing dyno is ejected', async (t) => {
  const r = await request([['refused'], ['ok']]);
  t.equal(r.res.status, '200 OK');
  t.equal(r.res.body, 'ok');
  t.same(r.tried, ['10.0.0.1:5000', '10.0.0.2:5000']);
  t.equal(code(r.line), 'none', 'logged as a success');
  t.equal(dynoOf(r.line), '10.0.0.2:5000', 'the dyno that answered');
  t.same(r.dynos.map((d) => [d.fails, d.successes]), [[1, 0], [0, 1]]);
});

t.test('every dyno refuses or times out the connection: 503, H19 once a connect timeout was seen', async (t) => {
  const refused = await request([['refused'], ['refused']]);
  t.equal(refused.res.status, '503 Service Unavailable');
  t.equal(code(refused.line), 'H10');
  t.equal(refused.tried.length, 2, 'each dyno once');
  const timedOut = await request([['connect-timeout'], ['refused'], ['refused']]);
  t.equal(code(timedOut.line), 'H19');
  t.equal(timedOut.tried.length, 3);
});

t.test('closed before a response: a GET is tried once more on another dyno, a POST is not', async (t) => {
  const get = await request([['closed'], ['ok']]);
  t.equal(get.res.status, '200 OK');
  t.same(get.tried, ['10.0.0.1:5000', '10.0.0.2:5000']);
  t.equal(get.dynos[0].fails, 1, 'the closing dyno is ejected');
  const twice = await request([['closed'], ['closed'], ['ok']]);
  t.equal(twice.res.status, '503 Service Unavailable', 'one retry only');
  t.equal(code(twice.line), 'H13');
  t.equal(twice.tried.length, 2);
  const post = await request([['closed'], ['ok']], { method: 'POST' });
  t.equal(code(post.line), 'H13');
  t.equal(post.tried.length, 1, 'POST: not retried');
  const put = await request([['closed'], ['ok']], { method: 'PUT', body: 'hello' });
  t.equal(code(put.line), 'H13', 'a request with a body: not retried');
  t.equal(put.tried.length, 1);
});

t.test('a request body not yet handed to a dyno goes to the next one; one already read is never sent again', async (t) => {
  const untouched = await request([['refused'], ['ok']], { method: 'POST', body: 'hello' });
  t.equal(untouched.res.status, '200 OK');
  t.equal(untouched.tried.length, 2);
  const touched = await request([['read-body-then-refused'], ['ok']], { method: 'POST', body: 'hello' });
  t.equal(touched.res.status, '503 Service Unavailable');
  t.equal(touched.tried.length, 1, 'not sent to another dyno');
  t.equal(code(touched.line), 'H10');
  t.equal(touched.dynos[0].fails, 0, 'not blamed on the dyno');
});

t.test('a timeout waiting for the response (H12) or a malformed one (H17): answered at once', async (t) => {
  const slow = await request([['head-timeout'], ['ok']]);
  t.equal(code(slow.line), 'H12');
  t.equal(slow.tried.length, 1);
  t.equal(slow.dynos[0].fails, 0, 'a slow dyno is not ejected');
  const garbage = await request([['garbage'], ['ok']]);
  t.equal(code(garbage.line), 'H17');
  t.equal(garbage.tried.length, 1);
  t.equal(garbage.dynos[0].fails, 1, 'a dyno answering garbage is ejected');
});

t.test('after the response head: never retried', async (t) => {
  const head = await request([['head-then-closed'], ['ok']]);
  t.equal(head.res.status, '503 Service Unavailable', 'nothing reached the client yet: a 503');
  t.equal(code(head.line), 'H13');
  t.equal(head.tried.length, 1);
  t.equal(head.dynos[0].fails, 1);
  t.equal(head.dynos[0].successes, 0, 'a head followed by a failure is no success');
  const data = await request([['data-then-closed'], ['ok']]);
  t.equal(data.res.status, '200 OK');
  t.equal(data.res.body, 'part');
  t.ok(data.res.closed, 'the client connection is cut');
  t.match(data.line, /code=H13 .* status=200 /, 'logged with the status sent and the code');
  t.equal(data.tried.length, 1);
});

t.test('a request undici refuses to send: 400, the dyno neither blamed nor retried', async (t) => {
  const r = await request([['invalid-request'], ['ok']]);
  t.equal(r.res.status, '400 Bad Request');
  t.equal(r.tried.length, 1);
  t.equal(r.dynos[0].fails, 0);
});
