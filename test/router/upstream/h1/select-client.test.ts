// EDGEPLANE_UPSTREAM_CLIENT: lean by default, undici selectable, anything else refused; both
// clients answer the same dispatch contract (router/upstream/exchange.ts is their handler).
import t from 'tap';
import { createUpstreamPool, upstreamClientKind } from '../../../../router/upstream/h1/select-client.js';
import { H1Pool } from '../../../../router/upstream/h1/h1-pool.js';
import { collect } from './support/collect.js';
import { ok, scriptedDyno } from './support/scripted-dyno.js';

t.test('the variable picks the client', async (t) => {
  t.equal(upstreamClientKind({}), 'lean', 'unset: lean');
  t.equal(upstreamClientKind({ EDGEPLANE_UPSTREAM_CLIENT: '' }), 'lean', 'empty: lean');
  t.equal(upstreamClientKind({ EDGEPLANE_UPSTREAM_CLIENT: 'undici' }), 'undici');
  t.equal(upstreamClientKind({ EDGEPLANE_UPSTREAM_CLIENT: 'lean' }), 'lean');
  t.throws(() => upstreamClientKind({ EDGEPLANE_UPSTREAM_CLIENT: 'fast' }), /must be lean or undici/, 'a typo is an error');
  const lean = createUpstreamPool('127.0.0.1:1', {}, 'lean');
  t.ok(lean instanceof H1Pool, 'lean: the node:net pool');
  const undici = createUpstreamPool('127.0.0.1:1', {}, 'undici');
  t.notOk(undici instanceof H1Pool, 'undici: its Pool');
  await Promise.all([lean.close(), undici.close()]);
});

t.test('both clients: the same handler calls for the same dyno bytes', async (t) => {
  const dyno = await scriptedDyno((req) => {
    if (req.head.startsWith('GET /chunked')) req.sock.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n');
    else if (req.head.startsWith('GET /garbage')) req.sock.write('HTTP/1.1 2000 OK\r\n\r\n');
    else req.sock.write(ok('hello', 'x-a: b\r\n'));
  });
  const seen: Record<string, string[]> = {};
  for (const kind of ['lean', 'undici'] as const) {
    const pool = createUpstreamPool(dyno.address, { connect: { timeout: 5000 }, keepAliveTimeout: 4000, keepAliveMaxTimeout: 60000, pipelining: 1 }, kind);
    const out: string[] = [];
    for (const path of ['/', '/chunked', '/garbage']) {
      const o = await collect(pool, { path });
      out.push(`${path} ${o.status} ${o.body.toString()} ${o.events.map((e) => e.replace(/^error .*/, 'error')).join(',')}`);
    }
    seen[kind] = out;
    await pool.destroy();
  }
  t.same(seen.lean, seen.undici, 'lean and undici alike');
  t.same(seen.lean, ['/ 200 hello connect,headers 200,data,complete', '/chunked 200 ok connect,headers 200,data,complete', '/garbage 0  connect,error']);
  await dyno.close();
});
