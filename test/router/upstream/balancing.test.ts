import t from 'tap';
import { request } from 'undici';
import { baseConfig, deadAddress, echoDyno, startDyno, startRouter, writeConfig, type Dyno, type RunningRouter } from '../../support/router-harness.js';

let router: RunningRouter;
const dynos: Dyno[] = [];
let dead: string[];

async function dyno(name: string, port = 0, host = '127.0.0.1'): Promise<Dyno> {
  const d = await echoDyno(name, port, host);
  dynos.push(d);
  return d;
}

let a: Dyno, b: Dyno, c: Dyno, d: Dyno, e: Dyno, flaky: Dyno, closer: Dyno;
let flakyCalls = 0;
let manyDead: string[];

t.before(async () => {
  [a, b, c, d, e] = await Promise.all([dyno('a'), dyno('b'), dyno('c'), dyno('d'), dyno('e')]);
  dead = await Promise.all([deadAddress(), deadAddress(), deadAddress(), deadAddress()]);
  manyDead = await Promise.all(Array.from({ length: 33 }, () => deadAddress()));
  // closes the connection on its first three requests, answers every later one
  flaky = await startDyno((req, res) => {
    if (flakyCalls++ < 3) {
      req.socket.destroy();
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ dyno: 'flaky' }));
  });
  dynos.push(flaky);
  // closes every connection without answering (a port nobody else can take over, unlike a dead one)
  closer = await startDyno((req) => req.socket.destroy());
  dynos.push(closer);
  router = await startRouter(writeConfig(baseConfig({
    timeouts: { connectMs: 1000, firstByteMs: 5000, idleMs: 5000 },
    apps: {
      rr: { dynos: [a.address, b.address] },
      'with-dead': { dynos: [c.address, dead[0], d.address] },
      'dead-first': { dynos: [dead[1], e.address] },
      'all-dead': { dynos: [dead[2], dead[3]] },
      none: { dynos: [] },
      'closer-and-flaky': { dynos: [closer.address, flaky.address] },
      'many-dead': { dynos: manyDead },
    },
  })));
});
t.teardown(async () => {
  await router?.stop();
  await Promise.all(dynos.map((x) => x.close()));
});

let seq = 0;
interface Got { status: number; body: string; dyno: string; requestId: string; headers: Record<string, unknown> }
async function get(app: string, path = '/'): Promise<Got> {
  const requestId = `bal-${++seq}`;
  const res = await request(router.url(path), { headers: { host: `${app}.example.io`, 'x-request-id': requestId } });
  const body = await res.body.text();
  let name = '';
  if (res.statusCode === 200) name = (JSON.parse(body) as { dyno: string }).dyno;
  return { status: res.statusCode, body, dyno: name, requestId, headers: res.headers };
}
const lineOf = (rid: string): Promise<string> => router.waitForLine((l) => l.includes(`request_id=${rid} `));

t.test('round robin alternates over two dynos', async (t) => {
  const seen: string[] = [];
  for (let i = 0; i < 6; i++) {
    const r = await get('rr');
    t.equal(r.status, 200);
    seen.push(r.dyno);
  }
  const [x, y] = seen[0] === 'a' ? ['a', 'b'] : ['b', 'a'];
  t.same(seen, [x, y, x, y, x, y], 'strict alternation a/b');
  t.equal(a.hits, 3);
  t.equal(b.hits, 3);
});

t.test('a dead dyno in the list: every request still succeeds on the live ones', async (t) => {
  const seen: string[] = [];
  for (let i = 0; i < 9; i++) {
    const r = await get('with-dead');
    t.equal(r.status, 200, `request ${i} succeeds`);
    seen.push(r.dyno);
    const line = await lineOf(r.requestId);
    t.match(line, /^at=info /, 'logged as a success');
    t.match(line, new RegExp(`dyno=${r.dyno === 'c' ? c.address : d.address} `), 'dyno= names the dyno that answered');
  }
  t.same([...new Set(seen)].sort(), ['c', 'd'], 'both live dynos serve');
  t.equal(c.hits + d.hits, 9, 'every request reached exactly one live dyno once');
});

t.test('a refused dyno is ejected for a while, then comes back into rotation', async (t) => {
  const [deadHost, deadPort] = dead[1].split(':');
  const t0 = Date.now();
  // round robin starts at index 0: the dead dyno is tried first, refused, and the request moves on
  const first = await get('dead-first');
  t.equal(first.status, 200);
  t.equal(first.dyno, 'e', 'the never-sent request went to the next dyno');
  t.match(await lineOf(first.requestId), new RegExp(`^at=info .* dyno=${e.address} .* status=200 `));
  // now something listens at the dead address again; while the dyno is ejected, nothing goes there
  const revived = await dyno('revived', Number(deadPort), deadHost);
  const windowEnd = t0 + 900; // the first ejection lasts 1 s from the failure, which came after t0
  const inWindow: string[] = [];
  let hitsInWindow = 0;
  for (let i = 0; i < 4; i++) {
    const r = await get('dead-first');
    t.equal(r.status, 200);
    if (Date.now() < windowEnd) {
      inWindow.push(r.dyno);
      hitsInWindow = revived.hits;
    }
  }
  t.comment(`${inWindow.length} requests answered inside the ejection window`);
  t.notOk(inWindow.includes('revived'), 'no request answered during the ejection window went to the ejected dyno');
  t.equal(hitsInWindow, 0, 'the ejected dyno got no request while ejected');
  // after the window the dyno is tried again and, answering, is back in rotation
  const later: string[] = [];
  const deadline = Date.now() + 10000;
  while (!later.includes('revived') && Date.now() < deadline) {
    const r = await get('dead-first');
    t.equal(r.status, 200);
    later.push(r.dyno);
    await new Promise((res) => setTimeout(res, 50));
  }
  t.ok(later.includes('revived'), 'the dyno comes back into rotation after its ejection');
  t.ok(revived.hits > 0);
});

t.test('every dyno dead: 503 H10 with a short body and an error line', async (t) => {
  for (let i = 0; i < 3; i++) {
    const r = await get('all-dead', '/x');
    t.equal(r.status, 503);
    t.equal(r.body, 'App crashed (H10)\n');
    t.ok(r.body.length < 100, 'short body');
    t.equal(r.headers['x-request-id'], r.requestId, 'request id echoed on the 503');
    const line = await lineOf(r.requestId);
    t.match(line, /^at=error code=H10 desc="App crashed" method=GET path=\/x host=all-dead\.example\.io /);
    t.match(line, / status=503 bytes=0 protocol=http$/);
    t.match(line, new RegExp(`dyno=(${dead[2]}|${dead[3]}) `), 'dyno= names a dead dyno');
  }
});

t.test('an app with no dynos: 503 H14', async (t) => {
  const r = await get('none', '/y');
  t.equal(r.status, 503);
  t.equal(r.body, 'No web dynos running (H14)\n');
  t.equal(r.headers['x-request-id'], r.requestId);
  const line = await lineOf(r.requestId);
  t.match(line, /^at=error code=H14 desc="No web dynos running" method=GET path=\/y host=none\.example\.io .* dyno= connect=\d+ms .* status=503 bytes=0 protocol=http$/);
});

t.test('ejection never takes every dyno out: with all of them ejected, a request still reaches the live one', async (t) => {
  // one dyno always closes without answering, the other on its first three requests: each GET
  // fails on the first, is retried once on the second and fails there too; both are ejected, for
  // longer each time (the second for 4 s after its third failure)
  for (let i = 0; i < 3; i++) {
    const failed = await get('closer-and-flaky', `/fail-${i}`);
    t.equal(failed.status, 503, `request ${i}: 503`);
    t.match(await lineOf(failed.requestId), /^at=error code=H13 /);
  }
  t.equal(flakyCalls, 3, 'the ejected live dyno was still tried each time');
  // both are ejected now; the next request must not be refused for that
  const second = await get('closer-and-flaky', '/second');
  t.equal(second.status, 200, 'served by the live dyno although it is ejected');
  t.equal(second.dyno, 'flaky');
  t.match(await lineOf(second.requestId), new RegExp(`^at=info .* dyno=${flaky.address} .* status=200 `));
});

t.test('an app with more dynos than the retry bit set (33, all refusing): each tried once, then H10', async (t) => {
  const r = await get('many-dead', '/many'); // before the fix, a dyno past the 31st was retried forever
  t.equal(r.status, 503);
  t.equal(r.body, 'App crashed (H10)\n');
  t.match(await lineOf(r.requestId), /^at=error code=H10 desc="App crashed" method=GET path=\/many /);
});
