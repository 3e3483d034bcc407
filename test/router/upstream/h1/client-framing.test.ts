// The lean upstream client against raw TCP dynos on loopback: every response framing, reuse of
// keep-alive connections (and when not to), and the request head and body bytes the dyno reads.
import { Readable } from 'node:stream';
import t from 'tap';
import { H1Pool } from '../../../../router/upstream/h1/h1-pool.js';
import { isRequestRefused } from '../../../../router/upstream/upstream-errors.js';
import { collect, header } from './support/collect.js';
import { ok, scriptedDyno } from './support/scripted-dyno.js';

const pools: H1Pool[] = [];
function pool(address: string): H1Pool {
  const p = new H1Pool(address, { connect: { timeout: 5000 } });
  pools.push(p);
  return p;
}
t.teardown(async () => {
  await Promise.all(pools.map((p) => p.destroy()));
});

/** Responses by path: what the dyno writes for `GET /name`. */
const RESPONSES: Record<string, { raw: string; status: number; body: string; reuse: boolean; method?: string }> = {
  length: { raw: ok('hello'), status: 200, body: 'hello', reuse: true },
  chunked: {
    raw: 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n7 ; x="a b"\r\n, world\r\n0\r\nx-trailer: t\r\n\r\n',
    status: 200, body: 'hello, world', reuse: true,
  },
  interim: { raw: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </x>\r\n\r\n' + ok('final'), status: 200, body: 'final', reuse: true },
  'no-content': { raw: 'HTTP/1.1 204 No Content\r\n\r\n', status: 204, body: '', reuse: true },
  'not-modified': { raw: 'HTTP/1.1 304 Not Modified\r\ncontent-length: 99\r\netag: "e"\r\n\r\n', status: 304, body: '', reuse: true },
  'conn-close': { raw: ok('bye', 'connection: close\r\n'), status: 200, body: 'bye', reuse: false },
  'http10': { raw: 'HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\n10', status: 200, body: '10', reuse: false },
  'short-keep-alive': { raw: ok('k', 'keep-alive: timeout=2\r\n'), status: 200, body: 'k', reuse: false },
  stray: { raw: ok('x') + 'GARBAGE', status: 200, body: 'x', reuse: false },
};

t.test('each framing: status, headers, body; keep-alive reuse only when the response allows it', async (t) => {
  for (const [name, r] of Object.entries(RESPONSES)) {
    const dyno = await scriptedDyno((req) => {
      const path = req.head.split(' ')[1].slice(1);
      req.sock.write(RESPONSES[path]?.raw ?? ok('again'), 'latin1');
    });
    const p = pool(dyno.address);
    const first = await collect(p, { path: `/${name}` });
    t.equal(first.error, null, `${name}: no error`);
    t.equal(first.status, r.status, `${name}: status`);
    t.equal(first.body.toString('latin1'), r.body, `${name}: body`);
    t.same(first.events, ['connect', `headers ${r.status}`, ...(r.body ? ['data'] : []), 'complete'], `${name}: handler calls`);
    const second = await collect(p, { path: '/again' });
    t.equal(second.body.toString(), 'again', `${name}: a second request is served`);
    t.equal(dyno.connections, r.reuse ? 1 : 2, `${name}: ${r.reuse ? 'the connection was reused' : 'a new connection for the next request'}`);
    await dyno.close();
  }
});

t.test('a close-delimited body ends with the connection', async (t) => {
  const dyno = await scriptedDyno((req) => req.sock.end('HTTP/1.1 200 OK\r\nx-a: b\r\n\r\nuntil the end', 'latin1'));
  const p = pool(dyno.address);
  const o = await collect(p, {});
  t.same([o.error, o.status, o.body.toString(), header(o, 'x-a')], [null, 200, 'until the end', 'b']);
  t.equal((await collect(p, {})).body.toString(), 'until the end', 'next request on a new connection');
  t.equal(dyno.connections, 2);
  await dyno.close();
});

t.test('HEAD: no body read even with a Content-Length; the connection is not reused (connection: close sent)', async (t) => {
  const dyno = await scriptedDyno((req) => req.sock.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n', 'latin1'));
  const p = pool(dyno.address);
  const o = await collect(p, { method: 'HEAD' });
  t.same([o.error, o.status, o.body.length, header(o, 'content-length')], [null, 200, 0, '5']);
  t.match(dyno.requests[0].head, /^HEAD \/ HTTP\/1\.1\r\n[^]*connection: close\r\n/, 'HEAD asks the dyno to close');
  await collect(p, { method: 'HEAD' });
  t.equal(dyno.connections, 2);
  await dyno.close();
});

t.test('a response written byte by byte parses like one written at once', async (t) => {
  const raw = RESPONSES.chunked.raw;
  const dyno = await scriptedDyno((req) => {
    req.sock.setNoDelay(true);
    let i = 0;
    const step = (): void => {
      if (i < raw.length) {
        req.sock.write(raw[i++], 'latin1');
        setTimeout(step, 1);
      }
    };
    step();
  });
  const p = pool(dyno.address);
  const o = await collect(p, {});
  t.same([o.error, o.status, o.body.toString()], [null, 200, 'hello, world']);
  await dyno.close();
});

t.test('keep-alive: sequential requests share one connection', async (t) => {
  const dyno = await scriptedDyno((req) => req.sock.write(ok(`n${req.seq}`)));
  const p = pool(dyno.address);
  const bodies = [];
  for (let i = 0; i < 5; i++) bodies.push((await collect(p, {})).body.toString());
  t.same(bodies, ['n0', 'n1', 'n2', 'n3', 'n4']);
  t.equal(dyno.connections, 1);
  await dyno.close();
});

t.test('the request head as the dyno reads it', async (t) => {
  const dyno = await scriptedDyno((req) => req.sock.write(ok()));
  const p = pool(dyno.address);
  await collect(p, { method: 'GET', path: '/a/b?c=d', headers: ['host', 'app.example.io', 'x-one', '1', 'accept', '*/*'] });
  t.equal(dyno.requests[0].head, 'GET /a/b?c=d HTTP/1.1\r\nhost: app.example.io\r\nconnection: keep-alive\r\nx-one: 1\r\naccept: */*\r\n\r\n',
    'request line, the given host, keep-alive, headers in order');
  await collect(p, { method: 'GET', path: '/', headers: ['content-length', '0'] });
  t.equal(dyno.requests[1].head, `GET / HTTP/1.1\r\nhost: ${dyno.address}\r\nconnection: keep-alive\r\n\r\n`,
    'no host given: the dyno address; no content-length for an empty GET');
  await collect(p, { method: 'POST', path: '/p', headers: [] });
  t.equal(dyno.requests[2].head, `POST /p HTTP/1.1\r\nhost: ${dyno.address}\r\nconnection: keep-alive\r\ncontent-length: 0\r\n\r\n`,
    'an empty POST says content-length: 0');
  t.equal(dyno.connections, 1);
  await dyno.close();
});

t.test('request bodies: with a Content-Length as is, without one chunked', async (t) => {
  const dyno = await scriptedDyno((req) => req.sock.write(ok(`${req.body.length}:${req.body.toString()}`)));
  const p = pool(dyno.address);
  const withLength = await collect(p, { method: 'POST', headers: ['content-length', '11'], body: Readable.from([Buffer.from('hello'), Buffer.from(' world')]) });
  t.equal(withLength.body.toString(), '11:hello world');
  t.match(dyno.requests[0].head, /\r\ncontent-length: 11\r\n\r\n$/);
  t.notMatch(dyno.requests[0].head, /transfer-encoding/);
  const chunked = await collect(p, { method: 'PUT', headers: [], body: Readable.from([Buffer.from('abc'), Buffer.alloc(0), Buffer.from('defg')]) });
  t.equal(chunked.body.toString(), '7:abcdefg');
  t.match(dyno.requests[1].head, /\r\ntransfer-encoding: chunked\r\n\r\n$/);
  t.equal(dyno.connections, 1, 'both on one connection');
  await dyno.close();
});

t.test('a body longer or shorter than its Content-Length is refused (UND_ERR_REQ_CONTENT_LENGTH_MISMATCH)', async (t) => {
  const dyno = await scriptedDyno((req) => req.sock.write(ok()));
  const p = pool(dyno.address);
  const longer = await collect(p, { method: 'POST', headers: ['content-length', '3'], body: Readable.from([Buffer.from('toolong')]) });
  t.equal((longer.error as NodeJS.ErrnoException | null)?.code, 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH');
  t.ok(isRequestRefused(longer.error!), 'a refused request for the router (400), not a dyno failure');
  const shorter = await collect(p, { method: 'POST', headers: ['content-length', '30'], body: Readable.from([Buffer.from('short')]) });
  t.equal((shorter.error as NodeJS.ErrnoException | null)?.code, 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH');
  t.equal(dyno.requests.length, 0, 'the dyno never got a whole request');
  await dyno.close();
});

t.test('heads that would break the framing are refused before a byte is written (UND_ERR_INVALID_ARG)', async (t) => {
  const dyno = await scriptedDyno((req) => req.sock.write(ok()));
  const p = pool(dyno.address);
  const cases: [string, Parameters<typeof collect>[1]][] = [
    ['CRLF in a value', { headers: ['x-a', 'b\r\nx-injected: 1'] }],
    ['LF in a value', { headers: ['x-a', 'b\nc'] }],
    ['CR in a value', { headers: ['x-a', 'b\rc'] }],
    ['NUL in a value', { headers: ['x-a', 'b\0c'] }],
    ['CRLF in the host', { headers: ['host', 'a\r\nb: c'] }],
    ['a space in the path', { path: '/a b' }],
    ['a newline in the path', { path: '/a\nb' }],
    ['two hosts', { headers: ['host', 'a', 'host', 'b'] }],
    ['two content-lengths', { method: 'POST', headers: ['content-length', '1', 'content-length', '1'], body: Readable.from([Buffer.from('x')]) }],
    ['transfer-encoding given', { headers: ['transfer-encoding', 'chunked'] }],
    ['connection given', { headers: ['connection', 'close'] }],
    ['upgrade given', { headers: ['upgrade', 'websocket'] }],
  ];
  for (const [name, opts] of cases) {
    const o = await collect(p, opts);
    t.equal((o.error as NodeJS.ErrnoException | null)?.code, 'UND_ERR_INVALID_ARG', name);
    t.ok(o.error !== null && isRequestRefused(o.error), `${name}: refused (400), not a dyno failure`);
    t.same(o.events, ['error UND_ERR_INVALID_ARG'], `${name}: no onConnect, nothing sent`);
  }
  t.equal(dyno.connections, 0, 'no connection was even opened');
  await dyno.close();
});
