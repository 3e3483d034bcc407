import t from 'tap';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { baseConfig, until } from '../../support/router-harness.js';
import { recordingDyno, startEdgeRouter } from '../filters/support/edge-rig.js';

// The request front reads every request's headers into one reused array and its facts into one
// reused object (router/front/request-front.ts). A request whose app has filters may be answered
// in a later turn (here: an openapi filter waiting for the body it validates), while the front
// reads other requests into the same array: that request must still reach its dyno with its own
// headers, Host, X-Forwarded-* and framing, and be logged with its own facts.

t.setTimeout(300_000);

const SPEC = `
openapi: 3.0.3
info: { title: test, version: '1' }
paths:
  /users:
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema: { type: object, required: [name], properties: { name: { type: string } } }
      responses: { '200': { description: ok } }
`;

/** Opens a connection to the router and writes `bytes`; the caller reads the reply. */
async function open(port: number, bytes: string): Promise<{ sock: Socket; reply: () => string }> {
  const sock = connect(port, '127.0.0.1');
  await once(sock, 'connect');
  let text = '';
  sock.setEncoding('latin1');
  sock.on('data', (d: string) => (text += d));
  sock.on('error', () => undefined);
  sock.write(bytes);
  return { sock, reply: () => text };
}

t.test('a request held by a filter keeps its own headers while others are read', async (t) => {
  const dyno = await recordingDyno();
  t.teardown(() => dyno.close());
  const router = await startEdgeRouter(baseConfig({
    workers: 1, // one worker thread: both requests go through the same front (the same arrays)
    apps: {
      api: { dynos: [dyno.address], filters: [{ filter: 'schema' }] },
      plain: { dynos: [dyno.address] },
    },
    filters: { schema: { type: 'openapi', spec: 'spec.yaml', validate_body: true } },
  }), { 'spec.yaml': SPEC });
  t.teardown(() => router.stop());
  const port = router.ports.http;

  const body = '{"name":"first"}';
  // A: the head and half the body; the filter waits for the rest
  const a = await open(port, [
    'POST /users?a=1 HTTP/1.1', 'Host: api.example.io', 'Content-Type: application/json', `Content-Length: ${body.length}`,
    'X-Probe: first', 'X-Forwarded-For: 198.51.100.1', 'Via: 1.0 first-proxy', 'X-Request-Id: first-request', '', body.slice(0, 5),
  ].join('\r\n'));
  t.teardown(() => a.sock.destroy());

  // B, meanwhile, on another connection: more headers, another host, no body
  const b = await open(port, [
    'GET /other?b=2 HTTP/1.1', 'Host: plain.example.io', 'X-Probe: second', 'X-Forwarded-For: 203.0.113.2', 'Via: 1.0 second-proxy',
    'X-Request-Id: second-request', 'X-Extra-1: one', 'X-Extra-2: two', 'X-Extra-3: three', 'Connection: close', '', '',
  ].join('\r\n'));
  t.teardown(() => b.sock.destroy());
  await until(() => dyno.seen.some((s) => s.url === '/other?b=2') && b.reply().includes('\r\n2\r\nok\r\n0\r\n\r\n'), 60_000, 'B answered');
  t.notOk(dyno.seen.some((s) => s.url === '/users?a=1'), 'A is still waiting for its body');

  a.sock.write(body.slice(5));
  await until(() => a.reply().includes('\r\n2\r\nok\r\n0\r\n\r\n'), 60_000, 'A answered');
  t.match(a.reply(), /^HTTP\/1\.1 200 OK\r\n/);
  t.match(a.reply(), /\r\nx-request-id: first-request\r\n/i);

  const seenA = dyno.seen.find((s) => s.url === '/users?a=1');
  t.ok(seenA, 'A reached the dyno');
  const h = seenA!.headers;
  t.equal(seenA!.method, 'POST');
  t.equal(seenA!.body.toString(), body, 'its body, whole');
  t.equal(h['x-probe'], 'first', 'its own header');
  t.equal(h['content-type'], 'application/json');
  t.equal(h['content-length'], String(body.length), 'its own framing');
  t.equal(h['x-extra-1'], undefined, 'none of the other request\'s headers');
  t.equal(h.host, 'api.example.io', 'its own Host');
  t.equal(h['x-forwarded-host'], 'api.example.io');
  t.equal(h['x-forwarded-for'], '198.51.100.1, 127.0.0.1', 'its own X-Forwarded-For chain');
  t.equal(h.via, '1.0 first-proxy, 1.1 edgeplane', 'its own Via');
  t.equal(h['x-request-id'], 'first-request');

  const seenB = dyno.seen.find((s) => s.url === '/other?b=2')!;
  t.equal(seenB.headers['x-probe'], 'second');
  t.equal(seenB.headers['x-forwarded-for'], '203.0.113.2, 127.0.0.1');

  const lineA = await router.waitForLine((l) => l.includes('request_id=first-request'), 60_000);
  t.match(lineA, /^at=info method=POST path=\/users\?a=1 host=api\.example\.io request_id=first-request fwd="198\.51\.100\.1, 127\.0\.0\.1" dyno=\S+ connect=\d+ms service=\d+ms total=\d+ms status=200 bytes=2 protocol=http$/);
});

t.test('requests with fewer, then more headers than the one before reach the dyno with exactly theirs', async (t) => {
  const dyno = await recordingDyno();
  t.teardown(() => dyno.close());
  const router = await startEdgeRouter(baseConfig({ workers: 1, apps: { plain: { dynos: [dyno.address] } } }));
  t.teardown(() => router.stop());
  const counts = [12, 1, 30, 0, 3, 40, 2];
  // one kept-alive connection: the front's array shrinks and grows between requests
  const { sock, reply } = await open(router.ports.http, '');
  t.teardown(() => sock.destroy());
  for (let i = 0; i < counts.length; i++) {
    const extra: string[] = [];
    for (let j = 0; j < counts[i]; j++) extra.push(`X-H${j}: r${i}-${j}`);
    sock.write([`GET /n${i} HTTP/1.1`, 'Host: plain.example.io', ...extra, '', ''].join('\r\n'));
    await until(() => dyno.seen.some((s) => s.url === `/n${i}`) && reply().split('\r\n2\r\nok\r\n0\r\n\r\n').length - 1 === i + 1, 60_000, `reply ${i}`);
    const seen = dyno.seen.find((s) => s.url === `/n${i}`)!;
    const own = Object.keys(seen.headers).filter((k) => k.startsWith('x-h')).sort();
    t.equal(own.length, counts[i], `request ${i}: its ${counts[i]} headers, no more`);
    for (let j = 0; j < counts[i]; j++) t.equal(seen.headers[`x-h${j}`], `r${i}-${j}`);
  }
});

t.test('synchronous filter chains reuse the request context: each response and each dyno request is exactly its own', async (t) => {
  const dyno = await recordingDyno();
  t.teardown(() => dyno.close());
  const sha = createHash('sha256').update('key-1', 'utf8').digest('hex');
  const router = await startEdgeRouter(baseConfig({
    workers: 1, // one worker thread: one pool of request contexts for every app
    apps: {
      keyed: { dynos: [dyno.address], filters: [{ filter: 'keys' }, { filter: 'limit' }] },
      plain: { dynos: [dyno.address] },
    },
    filters: {
      keys: { type: 'keyauth', locations: [{ header: 'x-api-key' }], keys: [{ id: 'one', sha256: sha }], hide_credentials: true },
      limit: { type: 'ratelimit', limit: 1000, window_ms: 3_600_000 },
    },
  }));
  t.teardown(() => router.stop());
  // one kept-alive connection: passed, refused and unfiltered requests one after another, with
  // varying header counts, each on a context the one before it may have used
  const plan: { app: 'keyed' | 'plain'; key?: string; extra: number }[] = [
    { app: 'keyed', key: 'key-1', extra: 5 }, { app: 'plain', extra: 1 }, { app: 'keyed', key: 'wrong', extra: 0 },
    { app: 'plain', extra: 8 }, { app: 'keyed', key: 'key-1', extra: 2 }, { app: 'keyed', key: 'key-1', extra: 0 }, { app: 'plain', extra: 0 },
  ];
  const { sock, reply } = await open(router.ports.http, '');
  t.teardown(() => sock.destroy());
  let passed = 0;
  let from = 0;
  for (let i = 0; i < plan.length; i++) {
    const p = plan[i];
    const extra: string[] = [];
    for (let j = 0; j < p.extra; j++) extra.push(`X-H${j}: r${i}-${j}`);
    const key = p.key === undefined ? [] : [`X-Api-Key: ${p.key}`];
    sock.write([`GET /s${i} HTTP/1.1`, `Host: ${p.app}.example.io`, `X-Request-Id: sync-${i}`, ...key, ...extra, '', ''].join('\r\n'));
    const refused = p.key === 'wrong';
    // a response ends with its chunked body's last chunk (the dyno's) or the problem document's end
    await until(() => {
      const rest = reply().slice(from);
      return refused ? /\r\n\r\n\{[^]*\}\n?$/.test(rest) || rest.includes('}') : rest.includes('\r\n2\r\nok\r\n0\r\n\r\n');
    }, 60_000, `reply ${i}`);
    const text = reply().slice(from);
    from = reply().length;
    t.match(text, new RegExp(`\\r\\nx-request-id: sync-${i}\\r\\n`, 'i'), `response ${i}: its own request id`);
    if (p.app === 'plain') {
      t.match(text, /^HTTP\/1\.1 200 OK\r\n/, `response ${i}: 200`);
      t.notMatch(text, /\r\nratelimit(-policy)?:/i, `response ${i} (no filter): no rate-limit headers left by an earlier request`);
    } else if (refused) {
      t.match(text, /^HTTP\/1\.1 401 /, `response ${i}: 401 for a wrong key`);
    } else {
      passed++;
      t.match(text, /^HTTP\/1\.1 200 OK\r\n/, `response ${i}: 200`);
      // (a request keyauth refused took no token)
      t.match(text, new RegExp(`\\r\\nratelimit: "limit";r=${1000 - passed};t=\\d+\\r\\n`, 'i'), `response ${i}: its own bucket state`);
    }
    if (refused) {
      t.notOk(dyno.seen.some((s) => s.url === `/s${i}`), `request ${i} never reached the dyno`);
      continue;
    }
    const seen = dyno.seen.find((s) => s.url === `/s${i}`);
    t.ok(seen, `request ${i} reached the dyno`);
    const own = Object.keys(seen!.headers).filter((k) => k.startsWith('x-h')).sort();
    t.equal(own.length, p.extra, `request ${i}: its ${p.extra} headers, no more`);
    for (let j = 0; j < p.extra; j++) t.equal(seen!.headers[`x-h${j}`], `r${i}-${j}`);
    t.equal(seen!.headers.host, `${p.app}.example.io`, `request ${i}: its own Host`);
    t.equal(seen!.headers['x-request-id'], `sync-${i}`);
    t.equal(seen!.headers['x-api-key'], undefined, `request ${i}: no key reaches the dyno`);
  }
});
