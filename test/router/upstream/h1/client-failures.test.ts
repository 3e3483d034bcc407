// The lean upstream client's failures as the router classifies them (router/upstream/upstream-errors.ts):
// malformed responses H17, closed connections H13, refused H10, connect timeout H19, first-byte
// timeout H12, body idle timeout H15; and the stale keep-alive connection sent again transparently.
import { Readable } from 'node:stream';
import t from 'tap';
import { H1Pool } from '../../../../router/upstream/h1/h1-pool.js';
import { classifyUpstreamError } from '../../../../router/upstream/upstream-errors.js';
import { blackholeAddress, deadAddress, until } from '../../../support/router-harness.js';
import { collect, type Outcome } from './support/collect.js';
import { ok, scriptedDyno } from './support/scripted-dyno.js';

const pools: H1Pool[] = [];
function pool(address: string, connectMs = 5000): H1Pool {
  const p = new H1Pool(address, { connect: { timeout: connectMs } });
  pools.push(p);
  return p;
}
t.teardown(async () => {
  await Promise.all(pools.map((p) => p.destroy()));
});

const code = (o: Outcome): string => (o.error === null ? 'none' : classifyUpstreamError(o.error));

t.test('malformed responses: H17, the socket closed, the pool still serves', async (t) => {
  const garbage = [
    '\x00\x01\x02 this is not HTTP\r\n\r\n',
    'HTTP/1.1 2000 OK\r\ncontent-length: 2\r\n\r\nok',
    'HTTP/1.1 200 OK\r\ncontent-length: twelve\r\n\r\nhello',
    'HTTP/1.1 200 OK\r\nno colon in this header\r\ncontent-length: 2\r\n\r\nok',
    'HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok!',
  ];
  let closed = 0;
  const dyno = await scriptedDyno((req) => {
    req.sock.once('close', () => closed++);
    const path = req.head.split(' ')[1];
    req.sock.write(path === '/good' ? ok('fine') : garbage[Number(path.slice(1))], 'latin1');
  });
  const p = pool(dyno.address);
  for (let i = 0; i < garbage.length; i++) {
    const o = await collect(p, { path: `/${i}` });
    t.equal(code(o), 'H17', `${JSON.stringify(garbage[i].slice(0, 30))}: H17`);
    t.same(o.events, ['connect', `error ${(o.error as NodeJS.ErrnoException).code}`], 'no onHeaders before the error');
  }
  await until(() => closed === garbage.length, 10000, 'every garbage connection closed');
  t.equal(closed, garbage.length, 'the client closed each connection');
  t.equal((await collect(p, { path: '/good' })).body.toString(), 'fine', 'a good answer after all that');
  t.equal(dyno.connections, garbage.length + 1, 'no garbage connection was reused');
  await dyno.close();
});

t.test('malformed after a valid head: onHeaders, then an H17 error', async (t) => {
  const dyno = await scriptedDyno((req) => req.sock.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\nzz\r\nnot a chunk\r\n'));
  const o = await collect(pool(dyno.address), {});
  t.same(o.events, ['connect', 'headers 200', 'data', 'error HPE_INVALID_CHUNK_SIZE']);
  t.equal(code(o), 'H17');
  await dyno.close();
});

t.test('the dyno closes without a response: H13 (UND_ERR_SOCKET), on a fresh connection no retry', async (t) => {
  const dyno = await scriptedDyno((req) => req.sock.destroy());
  const o = await collect(pool(dyno.address), {});
  t.equal(code(o), 'H13');
  t.equal((o.error as NodeJS.ErrnoException).code, 'UND_ERR_SOCKET');
  t.equal(dyno.requests.length, 1, 'sent once');
  await dyno.close();
});

t.test('the dyno closes in the middle of the body: an error after onHeaders (H13)', async (t) => {
  const dyno = await scriptedDyno((req) => req.sock.end('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly some'));
  const o = await collect(pool(dyno.address), {});
  t.same(o.events, ['connect', 'headers 200', 'data', 'error UND_ERR_SOCKET']);
  t.equal(code(o), 'H13');
  t.equal(o.body.toString(), 'only some');
  const chunked = await scriptedDyno((req) => req.sock.end('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\nsome'));
  const c = await collect(pool(chunked.address), {});
  t.same(c.events, ['connect', 'headers 200', 'data', 'error UND_ERR_SOCKET']);
  await dyno.close();
  await chunked.close();
});

t.test('connection refused: ECONNREFUSED (H10), no onConnect', async (t) => {
  const o = await collect(pool(await deadAddress()), {});
  t.equal((o.error as NodeJS.ErrnoException).code, 'ECONNREFUSED');
  t.equal(code(o), 'H10');
  t.same(o.events, ['error ECONNREFUSED']);
});

t.test('connect timeout: UND_ERR_CONNECT_TIMEOUT (H19)', async (t) => {
  const hole = await blackholeAddress();
  t.teardown(() => hole.close());
  const o = await collect(pool(hole.address, 300), {});
  t.equal((o.error as NodeJS.ErrnoException | null)?.code, 'UND_ERR_CONNECT_TIMEOUT');
  t.equal(code(o), 'H19');
  t.same(o.events, ['error UND_ERR_CONNECT_TIMEOUT']);
});

t.test('no response head in time: UND_ERR_HEADERS_TIMEOUT (H12), the socket closed', async (t) => {
  let closed = false;
  const dyno = await scriptedDyno((req) => {
    req.sock.write('HTTP/1.1 200 OK\r\nx-partial: yes\r\n'); // a head never finished
    req.sock.once('close', () => (closed = true));
  });
  const o = await collect(pool(dyno.address), { headersTimeout: 300 });
  t.equal((o.error as NodeJS.ErrnoException | null)?.code, 'UND_ERR_HEADERS_TIMEOUT');
  t.equal(code(o), 'H12');
  await until(() => closed, 10000, 'the dyno sees the connection closed');
  t.ok(closed);
  await dyno.close();
});

t.test('a body that stalls: UND_ERR_BODY_TIMEOUT (H15) after the head', async (t) => {
  const dyno = await scriptedDyno((req) => req.sock.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc'));
  const o = await collect(pool(dyno.address), { bodyTimeout: 300 });
  t.same(o.events, ['connect', 'headers 200', 'data', 'error UND_ERR_BODY_TIMEOUT']);
  t.equal(code(o), 'H15');
  await dyno.close();
});

t.test('a paused handler is not a stalled dyno: no body timeout while paused', async (t) => {
  const dyno = await scriptedDyno((req) => req.sock.write('HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nabcdef'));
  const o = await collect(pool(dyno.address), { bodyTimeout: 200 }, {
    onData(_chunk, resume) {
      setTimeout(resume, 1000);
      return false;
    },
  });
  t.same([o.error, o.body.toString()], [null, 'abcdef']);
  await dyno.close();
});

/** A dyno whose kept-alive connections die as the next request arrives (the stale-connection race). */
async function staleDyno(killEveryRequestAfter = Infinity) {
  let answered = 0;
  return scriptedDyno((req) => {
    if (req.seq > 0 || answered >= killEveryRequestAfter) {
      req.sock.destroy(); // closed "while idle": the request finds it dead, no response byte
      return;
    }
    answered++;
    req.sock.write(ok(`conn ${req.conn}`));
  });
}

t.test('stale keep-alive connection: an idempotent bodyless request is sent again on a fresh connection', async (t) => {
  const dyno = await staleDyno();
  const p = pool(dyno.address);
  t.equal((await collect(p, {})).body.toString(), 'conn 0');
  for (const method of ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']) {
    const before = dyno.requests.length;
    const o = await collect(p, { method });
    t.same([o.error, o.status], [null, 200], `${method}: answered`);
    t.equal(dyno.requests.length - before, 2, `${method}: the dead connection got it, then a fresh one`);
    t.equal(dyno.requests.at(-1)!.seq, 0, `${method}: the answer came from a new connection`);
    if (method === 'HEAD') await collect(p, {}); // HEAD closed its connection: make one to reuse
  }
  await dyno.close();
});

t.test('stale keep-alive connection: not sent again when it has a body or is not idempotent', async (t) => {
  const dyno = await staleDyno();
  const p = pool(dyno.address);
  await collect(p, {});
  const post = await collect(p, { method: 'POST' });
  t.equal(code(post), 'H13', 'bodyless POST: H13');
  await collect(p, {});
  const put = await collect(p, { method: 'PUT', headers: ['content-length', '3'], body: Readable.from([Buffer.from('abc')]) });
  t.equal(code(put), 'H13', 'PUT with a body: H13');
  t.equal(dyno.requests.filter((r) => r.head.startsWith('PUT')).length, 1, 'the PUT was sent once');
  await dyno.close();
});

t.test('stale keep-alive connection: sent again at most once', async (t) => {
  const dyno = await staleDyno(1);
  const p = pool(dyno.address);
  await collect(p, {});
  const o = await collect(p, {});
  t.equal(code(o), 'H13', 'the fresh connection failed too: H13');
  t.equal(dyno.requests.length, 3, 'the first request, then twice the second');
  await dyno.close();
});

t.test('a connection the dyno closed while idle is dropped, not used', async (t) => {
  const dyno = await scriptedDyno((req) => {
    req.sock.write(ok());
    setTimeout(() => req.sock.end(), 20); // a short keep-alive of its own
  });
  const p = pool(dyno.address);
  await collect(p, {});
  await until(() => p.stats.connections === 0, 10000, 'the closed connection leaves the pool');
  const o = await collect(p, {});
  t.equal(o.error, null);
  t.equal(dyno.requests.length, 2, 'no request was lost on the closed connection');
  t.equal(dyno.connections, 2);
  await dyno.close();
});
