import { randomBytes, createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { connect } from 'node:net';
import t from 'tap';
import { request } from 'undici';
import {
  baseConfig, blackholeAddress, deadAddress, echoDyno, hashDyno, rawExchange, parseRawResponse, startDyno, startRawDyno, startRouter,
  until, writeConfig, type Dyno, type RawDyno, type RunningRouter,
} from '../../support/router-harness.js';

let router: RunningRouter;
const dynos: (Dyno | RawDyno)[] = [];
let blackhole: { address: string; close(): Promise<void> };

async function track<T extends Dyno | RawDyno>(p: Promise<T>): Promise<T> {
  const d = await p;
  dynos.push(d);
  return d;
}

const held: ServerResponse[] = [];
let silent: Dyno, closer: Dyno, staller: Dyno, garbage: RawDyno, slow: Dyno, maint: Dyno;
let headStaller: Dyno, badChunk: RawDyno;
let closerGet: Dyno, goodGet: Dyno, closerPost: Dyno, goodPost: Dyno, goodAfterDead: Dyno, goodAfterBlackhole: Dyno;
let closerOne: Dyno, closerTwo: Dyno, goodThird: Dyno, closerTrace: Dyno, goodTrace: Dyno;
let slowClosed = false;

t.before(async () => {
  silent = await track(startDyno((_req, res) => held.push(res))); // never answers
  closer = await track(startDyno((req) => req.socket.destroy()));
  staller = await track(startDyno((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1000' });
    res.write('x'.repeat(100)); // then nothing, ever
    held.push(res);
  }));
  garbage = await track(startRawDyno((sock) => sock.once('data', () => sock.end('this is not http at all\r\n\r\n'))));
  headStaller = await track(startDyno((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1000' });
    res.flushHeaders(); // the head, then never a body byte
    held.push(res);
  }));
  badChunk = await track(startRawDyno((sock) => sock.once('data', () => sock.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n'))));
  slow = await track(startDyno((_req, res) => {
    res.on('close', () => (slowClosed = !res.writableEnded));
    held.push(res);
  }));
  maint = await track(echoDyno('maint'));
  closerGet = await track(startDyno((req) => req.socket.destroy()));
  goodGet = await track(echoDyno('good-get'));
  closerPost = await track(startDyno((req) => req.socket.destroy()));
  goodPost = await track(echoDyno('good-post'));
  goodAfterDead = await track(hashDyno('after-dead'));
  goodAfterBlackhole = await track(echoDyno('after-blackhole'));
  closerOne = await track(startDyno((req) => req.socket.destroy()));
  closerTwo = await track(startDyno((req) => req.socket.destroy()));
  goodThird = await track(echoDyno('good-third'));
  closerTrace = await track(startDyno((req) => req.socket.destroy()));
  goodTrace = await track(echoDyno('good-trace'));
  blackhole = await blackholeAddress();
  router = await startRouter(writeConfig(baseConfig({
    timeouts: { connectMs: 300, firstByteMs: 500, idleMs: 500 },
    apps: {
      h12: { dynos: [silent.address] },
      h13: { dynos: [closer.address] },
      h15: { dynos: [staller.address] },
      h17: { dynos: [garbage.address] },
      'h15-head': { dynos: [headStaller.address] },
      'h17-chunk': { dynos: [badChunk.address] },
      h19: { dynos: [blackhole.address] },
      'h19-next': { dynos: [blackhole.address, goodAfterBlackhole.address] },
      h27: { dynos: [slow.address] },
      h80: { dynos: [maint.address], maintenance: true },
      'retry-get': { dynos: [closerGet.address, goodGet.address] },
      'retry-post': { dynos: [closerPost.address, goodPost.address] },
      'post-dead-first': { dynos: [await deadAddress(), goodAfterDead.address] },
      'retry-twice': { dynos: [closerOne.address, closerTwo.address, goodThird.address] },
      'retry-trace': { dynos: [closerTrace.address, goodTrace.address] },
    },
  })));
});
t.teardown(async () => {
  await router?.stop();
  for (const r of held) r.destroy();
  await Promise.all(dynos.map((x) => x.close()));
  await blackhole?.close();
});

let seq = 0;
interface Got { status: number; body: string; requestId: string; headers: Record<string, unknown> }
async function send(app: string, opts: { method?: string; path?: string; body?: string | Buffer } = {}): Promise<Got> {
  const requestId = `fail-${++seq}`;
  const res = await request(router.url(opts.path ?? '/'), {
    method: (opts.method ?? 'GET') as 'GET',
    headers: { host: `${app}.example.io`, 'x-request-id': requestId },
    body: opts.body,
  });
  return { status: res.statusCode, body: await res.body.text(), requestId, headers: res.headers };
}
const lineOf = (rid: string): Promise<string> => router.waitForLine((l) => l.includes(`request_id=${rid} `));

t.test('H12: the dyno never answers within firstByteMs', async (t) => {
  const r = await send('h12', { path: '/wait' });
  t.equal(r.status, 503);
  t.equal(r.body, 'Request timeout (H12)\n');
  t.equal(r.headers['x-request-id'], r.requestId);
  t.match(await lineOf(r.requestId), new RegExp(`^at=error code=H12 desc="Request timeout" method=GET path=/wait host=h12\\.example\\.io .* dyno=${silent.address} .* status=503 bytes=0 protocol=http$`));
  t.equal(silent.hits, 1, 'not retried');
});

t.test('H13: the dyno closes the connection without a response', async (t) => {
  const r = await send('h13', { path: '/close' });
  t.equal(r.status, 503);
  t.equal(r.body, 'Connection closed without response (H13)\n');
  t.match(await lineOf(r.requestId), new RegExp(`^at=error code=H13 desc="Connection closed without response" method=GET path=/close .* dyno=${closer.address} .* status=503 bytes=0 `));
  t.equal(closer.hits, 1, 'the only dyno is not tried twice');
});

t.test('H15: the response stalls mid-body: the client connection is cut', async (t) => {
  const rid = 'fail-h15';
  const got = await rawExchange(router.ports.http, `GET /stall HTTP/1.1\r\nHost: h15.example.io\r\nX-Request-Id: ${rid}\r\n\r\n`, 10000);
  t.ok(got.closed, 'the router closed the connection');
  const res = parseRawResponse(got.text);
  t.equal(res.status, 200, 'the status line and headers had been sent');
  t.same(res.headers.find((h) => h[0] === 'content-length'), ['content-length', '1000']);
  t.equal(res.body, 'x'.repeat(100), 'only the bytes the dyno sent, then the cut');
  t.match(await lineOf(rid), /^at=error code=H15 desc="Idle connection" method=GET path=\/stall .* status=200 bytes=100 protocol=http$/);
});

t.test('H17: the dyno answers garbage', async (t) => {
  const r = await send('h17', { path: '/garbage' });
  t.equal(r.status, 503);
  t.equal(r.body, 'Poorly formatted HTTP response (H17)\n');
  t.match(await lineOf(r.requestId), new RegExp(`^at=error code=H17 desc="Poorly formatted HTTP response" method=GET path=/garbage .* dyno=${garbage.address} .* status=503 `));
  t.equal(garbage.connections, 1, 'not retried');
});

t.test('H15 after a head but before any body byte: nothing reached the client, so it gets a 503', async (t) => {
  const r = await send('h15-head', { path: '/head-then-nothing' });
  t.equal(r.status, 503, 'not the dyno\'s 200: its head was held back for the first body byte');
  t.equal(r.body, 'Idle connection (H15)\n');
  t.match(await lineOf(r.requestId), new RegExp(`^at=error code=H15 desc="Idle connection" method=GET path=/head-then-nothing .* dyno=${headStaller.address} .* status=503 bytes=0 protocol=http$`));
});

t.test('H17 after a valid head (a bad chunk size): 503, not a cut connection logged with the dyno\'s 200', async (t) => {
  const r = await send('h17-chunk', { path: '/bad-chunk' });
  t.equal(r.status, 503);
  t.equal(r.body, 'Poorly formatted HTTP response (H17)\n');
  t.equal(r.headers['x-request-id'], r.requestId);
  t.match(await lineOf(r.requestId), new RegExp(`^at=error code=H17 desc="Poorly formatted HTTP response" method=GET path=/bad-chunk .* dyno=${badChunk.address} .* status=503 bytes=0 protocol=http$`));
  t.equal(badChunk.connections, 1, 'not retried (the dyno received the request)');
});

t.test('H19: connect takes longer than connectMs (SYNs to a full accept queue are dropped)', async (t) => {
  const r = await send('h19', { path: '/hole' });
  t.equal(r.status, 503);
  t.equal(r.body, 'Backend connection timeout (H19)\n');
  t.match(await lineOf(r.requestId), new RegExp(`^at=error code=H19 desc="Backend connection timeout" method=GET path=/hole .* dyno=${blackhole.address} .* status=503 bytes=0 `));
});

t.test('H19 on the first dyno: the never-sent request goes to the next dyno', async (t) => {
  const r = await send('h19-next', { path: '/next' });
  t.equal(r.status, 200);
  t.equal((JSON.parse(r.body) as { dyno: string }).dyno, 'after-blackhole');
  t.match(await lineOf(r.requestId), new RegExp(`^at=info .* dyno=${goodAfterBlackhole.address} .* status=200 `));
});

t.test('H27: the client goes away before the response (499 in the log, the dyno request aborted)', async (t) => {
  const rid = 'fail-h27';
  const sock = connect(router.ports.http, '127.0.0.1');
  sock.on('error', () => undefined);
  sock.write(`GET /slow HTTP/1.1\r\nHost: h27.example.io\r\nX-Request-Id: ${rid}\r\n\r\n`);
  await until(() => slow.hits === 1, 10000, 'the dyno to get the request');
  sock.destroy();
  t.match(await lineOf(rid), new RegExp(`^at=error code=H27 desc="Client Request Interrupted" method=GET path=/slow .* dyno=${slow.address} .* status=499 bytes=0 protocol=http$`));
  await until(() => slowClosed, 10000, 'the dyno to see its request aborted');
  t.ok(slowClosed, 'the dyno saw the request go away before it answered');
});

t.test('H80: an app in maintenance answers 503 without touching its dyno', async (t) => {
  const r = await send('h80', { path: '/m' });
  t.equal(r.status, 503);
  t.equal(r.body, 'Maintenance mode (H80)\n');
  t.match(await lineOf(r.requestId), /^at=error code=H80 desc="Maintenance mode" method=GET path=\/m host=h80\.example\.io .* status=503 bytes=0 protocol=http$/);
  t.equal(maint.hits, 0);
});

t.test('retry: a GET whose dyno closed without a response is retried once on another dyno', async (t) => {
  const r = await send('retry-get', { path: '/again' });
  t.equal(r.status, 200);
  t.equal((JSON.parse(r.body) as { dyno: string }).dyno, 'good-get');
  t.equal(closerGet.hits, 1, 'the closing dyno was hit once');
  t.equal(goodGet.hits, 1, 'the other dyno once');
  t.match(await lineOf(r.requestId), new RegExp(`^at=info method=GET path=/again .* dyno=${goodGet.address} .* status=200 `));
});

t.test('no retry: a POST with a body whose dyno closed gets 503 H13', async (t) => {
  const r = await send('retry-post', { method: 'POST', path: '/once', body: 'payload that must not be sent twice' });
  t.equal(r.status, 503);
  t.equal(r.body, 'Connection closed without response (H13)\n');
  t.equal(closerPost.hits, 1, 'one dyno hit');
  t.equal(goodPost.hits, 0, 'never sent to a second dyno');
  t.match(await lineOf(r.requestId), new RegExp(`^at=error code=H13 .* method=POST path=/once .* dyno=${closerPost.address} .* status=503 `));
});

t.test('a never-sent POST (first dyno refused) goes to the next dyno with its body intact', async (t) => {
  for (const size of [37, 300 * 1024]) {
    // each round starts on the refused dyno: wait out its ejection first
    const body = randomBytes(size);
    const sha = createHash('sha256').update(body).digest('hex');
    const r = await send('post-dead-first', { method: 'POST', path: `/upload-${size}`, body });
    t.equal(r.status, 200, `${size} bytes: answered`);
    const j = JSON.parse(r.body) as { dyno: string; bytes: number; sha256: string };
    t.same({ dyno: j.dyno, bytes: j.bytes, sha256: j.sha256 }, { dyno: 'after-dead', bytes: size, sha256: sha }, `${size} bytes: intact`);
    await new Promise((res) => setTimeout(res, 1200));
  }
  t.equal(goodAfterDead.hits, 2);
});

t.test('a retry happens at most once: a second dyno closing without a response is not retried again', async (t) => {
  // round robin starts at the first dyno: closes, retried on the second: closes, and that is all
  const r = await send('retry-twice', { path: '/twice' });
  t.equal(r.status, 503);
  t.equal(r.body, 'Connection closed without response (H13)\n');
  t.equal(closerOne.hits, 1, 'first attempt');
  t.equal(closerTwo.hits, 1, 'the one retry');
  t.equal(goodThird.hits, 0, 'no second retry, even with a good dyno left');
  t.match(await lineOf(r.requestId), new RegExp(`^at=error code=H13 .* method=GET path=/twice .* dyno=${closerTwo.address} .* status=503 `));
});

t.test('TRACE is not retried (DESIGN.md: GET, HEAD, OPTIONS, PUT, DELETE)', async (t) => {
  const r = await send('retry-trace', { method: 'TRACE', path: '/trace' });
  t.equal(r.status, 503);
  t.equal(closerTrace.hits, 1);
  t.equal(goodTrace.hits, 0, 'never sent to a second dyno');
  t.match(await lineOf(r.requestId), /^at=error code=H13 .* method=TRACE path=\/trace .* status=503 /);
});
