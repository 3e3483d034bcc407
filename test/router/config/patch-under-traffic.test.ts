import t from 'tap';
import { Agent } from 'node:http';
import { baseConfig, echoDyno, startRawDyno, startRouter, writeConfig, type Dyno, type RawDyno } from '../../support/router-harness.js';
import { get } from '../support/http-get.js';
import { logEntries } from '../support/router-logs.js';
import { patchConfig, running } from './support/config-admin.js';

// Partial apply on a real router: 100 patches while requests run (none fails), and a patch
// that changes one app leaves the other apps' upstream state alone: their keep-alive
// connections to their dynos stay open and are reused (counted at a raw dyno).

let a: Dyno;
let b: Dyno;
t.before(async () => {
  a = await echoDyno('a');
  b = await echoDyno('b');
});
t.teardown(async () => {
  await a?.close();
  await b?.close();
});

t.test('100 patches with traffic running: no request fails, every patch answers 200', async (t) => {
  const busy = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`busy-${i}`, { dynos: [b.address] }]));
  const router = await startRouter(writeConfig(baseConfig({
    workers: 2,
    apps: { web: { dynos: [a.address] }, api: { dynos: [b.address] }, ...busy },
    sites: { 'www.example.com': { routes: [{ path: '/', app: 'web' }, { path: '/api', app: 'api', target: '/' }] } },
  })));
  t.teardown(() => router.stop());
  const http = router.ports.http;
  const targets: [string, string, string][] = [
    ['web.example.io', '/x', 'a'], ['www.example.com', '/', 'a'], ['www.example.com', '/api/v', 'b'], ['api.example.io', '/', 'b'],
  ];
  let requests = 0;
  const failures: string[] = [];
  let running_ = true;
  const loop = async (n: number): Promise<void> => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = n; running_; i++) {
        const [host, path, dyno] = targets[i % targets.length];
        try {
          const r = await get(http, host, path, agent);
          const who = r.status === 200 ? (JSON.parse(r.body) as { dyno: string }).dyno : '';
          if (r.status !== 200 || who !== dyno) failures.push(`${host}${path}: ${r.status} from ${who}`);
        } catch (err) {
          failures.push(`${host}${path}: ${(err as Error).message}`);
        }
        requests++;
      }
    } finally {
      agent.destroy();
    }
  };
  const loops = [0, 1, 2, 3].map(loop);
  const answers: number[] = [];
  for (let i = 0; i < 100; i++) {
    // patches that touch the traffic's site and apps (recompiled, still routing the same way)
    // and others: busy apps' maintenance, a site added and removed
    const patch = i % 4 === 0 ? { sites: { 'www.example.com': { routes: [{ path: '/', app: 'web' }, { path: '/api', app: 'api', target: '/' }, { path: `/p${i}`, app: `busy-${i % 10}` }] } } }
      : i % 4 === 1 ? { apps: { [`busy-${i % 10}`]: { maintenance: i % 8 === 1 } } }
        : i % 4 === 2 ? { apps: { web: { dynos: [a.address], internal: false } }, sites: { [`tmp-${i}.example.com`]: { routes: [{ path: '/', app: 'web' }] } } }
          : { sites: { [`tmp-${i - 1}.example.com`]: null }, apps: { api: { maintenance: false } } };
    answers.push((await patchConfig(router.ports.admin, patch)).status);
  }
  running_ = false;
  await Promise.all(loops);
  t.same(answers.filter((s) => s !== 200), [], 'every patch answered 200');
  t.same(failures, [], `no request failed (${requests} requests)`);
  t.ok(requests >= 40, `traffic ran throughout (${requests} requests)`);
  const { revision } = await running(router.ports.admin);
  t.ok(revision >= 90, `revision ${revision}`);
  const modes = logEntries(router).filter((e) => e.msg === 'config applied').map((e) => (e.workers as { mode: string }).mode);
  t.ok(modes.every((m) => m === 'delta'), 'every worker got only the change');
});

/** A keep-alive HTTP/1.1 dyno on a raw socket: one response per request head; counts closes. */
async function keepAliveDyno(): Promise<RawDyno & { closed: number; requests: number }> {
  const state = { closed: 0, requests: 0 };
  const dyno = await startRawDyno((sock) => {
    let buf = '';
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      buf += d;
      for (let end = buf.indexOf('\r\n\r\n'); end !== -1; end = buf.indexOf('\r\n\r\n')) {
        buf = buf.slice(end + 4);
        state.requests++;
        sock.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 6\r\nkeep-alive: timeout=600\r\n\r\nsteady');
      }
    });
    sock.on('close', () => state.closed++);
  });
  return Object.defineProperties(dyno, {
    closed: { get: () => state.closed },
    requests: { get: () => state.requests },
  }) as RawDyno & { closed: number; requests: number };
}

t.test('a patch that changes one app leaves other apps\' keep-alive connections to their dynos open', async (t) => {
  const steady = await keepAliveDyno();
  // one worker: one upstream pool per dyno to observe
  const router = await startRouter(writeConfig(baseConfig({
    workers: 1,
    apps: { steady: { dynos: [steady.address] }, web: { dynos: [a.address] } },
    sites: { 'www.example.com': { routes: [{ path: '/', app: 'web' }, { path: '/steady', app: 'steady' }] } },
  })));
  t.teardown(async () => {
    await router.stop();
    await steady.close();
  });
  const http = router.ports.http;
  for (let i = 0; i < 5; i++) {
    const r = await get(http, i % 2 ? 'steady.example.io' : 'www.example.com', i % 2 ? '/' : '/steady/x');
    t.equal(r.body, 'steady');
  }
  t.equal(steady.connections, 1, 'sequential requests share one keep-alive connection');

  // patches to the other app and to the site (which routes to both apps): steady is not touched
  for (let i = 0; i < 20; i++) {
    const patch = i % 2 ? { apps: { web: { dynos: i % 4 === 3 ? [a.address, b.address] : [a.address] } } }
      : { sites: { 'www.example.com': { routes: [{ path: '/', app: 'web' }, { path: '/steady', app: 'steady' }, { path: `/w${i}`, app: 'web' }] } } };
    t.equal((await patchConfig(router.ports.admin, patch)).status, 200);
  }
  for (let i = 0; i < 5; i++) t.equal((await get(http, 'steady.example.io', '/')).body, 'steady');
  t.equal(steady.connections, 1, 'no new connection: the same one is reused');
  t.equal(steady.closed, 0, 'the connection was never closed');
  t.equal(steady.requests, 10);
  // the other app did change
  const whoAnswers = new Set<string>();
  for (let i = 0; i < 4; i++) whoAnswers.add((JSON.parse((await get(http, 'web.example.io')).body) as { dyno: string }).dyno);
  t.same([...whoAnswers].sort(), ['a', 'b'], 'web now balances over both dynos');
});
