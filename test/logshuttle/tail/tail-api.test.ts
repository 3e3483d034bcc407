import t from 'tap';
import { request } from 'node:http';
import { startShuttle } from '../helpers/shuttle-process.js';
import { httpRequest, openTail } from '../helpers/http-client.js';
import { postNdjson, sendTcp, syslogFrame } from '../helpers/send.js';
import { waitFor } from '../helpers/wait.js';

// spawned processes on a loaded 2-core machine: more than tap's default 120 s per file
t.setTimeout(600_000);

const T0 = Date.UTC(2026, 10, 25, 10, 0, 0, 0);

t.test('history: newest N lines, ring capped at `history`, one tail line per record', async (t) => {
  const sh = await startShuttle(t, { history: 5 });
  const r = await postNdjson(sh.base, Array.from({ length: 8 }, (_, i) => ({ app: 'capped', time: T0 + i, message: `line ${i}` })));
  t.equal(r.status, 200);
  t.same(JSON.parse(r.body), { accepted: 8, rejected: 0 });
  const all = await httpRequest(`${sh.base}/apps/capped/logs?lines=100`);
  t.equal(all.status, 200);
  t.match(all.headers['content-type'], /^text\/plain/);
  t.equal(all.body, [3, 4, 5, 6, 7].map((i) => `2026-11-25T10:00:00.00${i}Z capped app[web.1]: line ${i}\n`).join(''));
  const two = await httpRequest(`${sh.base}/apps/capped/logs?lines=2`);
  t.equal(two.body, '2026-11-25T10:00:00.006Z capped app[web.1]: line 6\n2026-11-25T10:00:00.007Z capped app[web.1]: line 7\n');
  const none = await httpRequest(`${sh.base}/apps/nobody/logs`);
  t.equal(none.status, 200);
  t.equal(none.body, '', 'an app with no lines has an empty tail');
  t.equal((await httpRequest(`${sh.base}/apps/capped/logs?lines=abc`)).status, 400);
});

t.test('embedded newlines stay inside one tail line; sources get their tags', async (t) => {
  const sh = await startShuttle(t);
  await postNdjson(sh.base, [
    { app: 'nl', time: T0, message: 'a\nb\r\nc' },
    { app: 'nl', time: T0, source: 'router', process: 'router', message: 'at=info' },
    { app: 'nl', time: T0, source: 'platform', process: 'x', message: 'Scaled to web@1' },
  ]);
  const body = (await httpRequest(`${sh.base}/apps/nl/logs`)).body;
  t.equal(body, '2026-11-25T10:00:00.000Z nl app[web.1]: a\\nb\\r\\nc\n2026-11-25T10:00:00.000Z nl akkeris/router: at=info\n2026-11-25T10:00:00.000Z nl akkeris/platform: Scaled to web@1\n');
});

t.test('a line over 10,000 bytes is split on UTF-8 boundaries, nothing added', async (t) => {
  const sh = await startShuttle(t);
  const message = 'x'.repeat(9999) + '☃' + 'y'.repeat(10001) + '€'.repeat(100); // ☃ straddles 10,000
  await sendTcp(sh.ports.syslog_tcp!, syslogFrame('big', 'web.1', message));
  await waitFor(async () => (await httpRequest(`${sh.base}/apps/big/logs`)).body.split('\n').length > 3, 'split lines');
  const lines = (await httpRequest(`${sh.base}/apps/big/logs`)).body.split('\n').filter(Boolean);
  const pieces = lines.map((l) => l.replace(/^\S+ big app\[web\.1\]: /, ''));
  t.equal(pieces.length, 3);
  t.ok(pieces.every((p) => Buffer.byteLength(p) <= 10000), 'each piece at most 10,000 bytes');
  t.equal(pieces[0], 'x'.repeat(9999), 'the snowman does not fit in the first piece');
  t.equal(pieces.join(''), message, 'the pieces concatenate to the message');
});

t.test('live tail: history then lines sent after it opened; a tail of an unknown app waits', async (t) => {
  const sh = await startShuttle(t);
  await postNdjson(sh.base, [{ app: 'live', time: T0, message: 'before' }]);
  const tail = openTail(`${sh.base}/apps/live/logs?lines=10&tail=true`);
  t.teardown(() => tail.close());
  await tail.waitForLines(1);
  const waiting = openTail(`${sh.base}/apps/later/logs?tail=true`);
  t.teardown(() => waiting.close());
  await postNdjson(sh.base, [{ app: 'live', time: T0 + 1, message: 'after 1' }, { app: 'other', time: T0, message: 'not mine' }]);
  await postNdjson(sh.base, [{ app: 'live', time: T0 + 2, message: 'after 2' }]);
  const lines = await tail.waitForLines(3);
  t.same(lines, [
    '2026-11-25T10:00:00.000Z live app[web.1]: before',
    '2026-11-25T10:00:00.001Z live app[web.1]: after 1',
    '2026-11-25T10:00:00.002Z live app[web.1]: after 2',
  ]);
  t.equal(await tail.status, 200);
  await postNdjson(sh.base, [{ app: 'later', time: T0, message: 'first ever' }]);
  t.same(await waiting.waitForLines(1), ['2026-11-25T10:00:00.000Z later app[web.1]: first ever']);
  const metrics = (await httpRequest(`${sh.base}/metrics`)).body;
  t.match(metrics, /edgeplane_shuttle_tails_open 2/);
});

t.test('text/event-stream when asked', async (t) => {
  const sh = await startShuttle(t);
  await postNdjson(sh.base, [{ app: 'sse', time: T0, message: 'one' }]);
  const tail = openTail(`${sh.base}/apps/sse/logs?tail=true`, { accept: 'text/event-stream' });
  t.teardown(() => tail.close());
  t.match((await tail.headers)['content-type'], /^text\/event-stream/);
  await postNdjson(sh.base, [{ app: 'sse', time: T0 + 1, message: 'two' }]);
  await waitFor(() => tail.text().includes('two'), 'second event');
  const events = tail.text().split('\n\n').filter((e) => e.startsWith('data: '));
  t.same(events, ['data: 2026-11-25T10:00:00.000Z sse app[web.1]: one', 'data: 2026-11-25T10:00:00.001Z sse app[web.1]: two']);
  const once = await httpRequest(`${sh.base}/apps/sse/logs`, { headers: { accept: 'text/event-stream' } });
  t.equal(once.body, 'data: 2026-11-25T10:00:00.000Z sse app[web.1]: one\n\ndata: 2026-11-25T10:00:00.001Z sse app[web.1]: two\n\n');
});

t.test('LOGSHUTTLE_TOKEN: bearer required on every route but /healthz', async (t) => {
  const sh = await startShuttle(t, {}, { LOGSHUTTLE_TOKEN: 's3cret' });
  t.equal((await httpRequest(`${sh.base}/healthz`)).status, 200);
  for (const [method, path] of [['GET', '/apps/a/logs'], ['GET', '/metrics'], ['POST', '/ingest'], ['GET', '/apps/a/drains'], ['POST', '/apps/a/drains'], ['DELETE', '/apps/a/drains/x']]) {
    t.equal((await httpRequest(`${sh.base}${path}`, { method })).status, 401, `${method} ${path} without token`);
    t.equal((await httpRequest(`${sh.base}${path}`, { method, headers: { authorization: 'Bearer wrong' } })).status, 401, `${method} ${path} wrong token`);
  }
  const auth = { authorization: 'Bearer s3cret' };
  t.equal((await postNdjson(sh.base, [{ app: 'a', time: T0, message: 'hi' }], auth)).status, 200);
  const r = await httpRequest(`${sh.base}/apps/a/logs`, { headers: auth });
  t.equal(r.status, 200);
  t.equal(r.body, '2026-11-25T10:00:00.000Z a app[web.1]: hi\n');
});

t.test('a stalled tail client gets L11 with the exact count; ingest and other tails go on', async (t) => {
  const sh = await startShuttle(t, { history: 100 });
  const total = 30000;
  let body = '';
  let paused = true;
  const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
    const req = request(`${sh.base}/apps/slow/logs?lines=0&tail=true`, (res) => resolve(res));
    req.on('error', reject);
    req.end();
    t.teardown(() => req.destroy());
    // headers come with the first line
    setTimeout(() => void postNdjson(sh.base, [{ app: 'slow', message: 'hello' }]), 100);
  });
  res.setEncoding('utf8');
  res.on('data', (d: string) => {
    body += d;
    if (paused) res.pause();
  });
  const fast = openTail(`${sh.base}/apps/slow/logs?lines=0&tail=true`);
  t.teardown(() => fast.close());
  await waitFor(async () => (await httpRequest(`${sh.base}/metrics`)).body.includes('edgeplane_shuttle_tails_open 2'), 'two tails');
  const pad = 'p'.repeat(700);
  let frames = '';
  for (let i = 0; i < total; i++) frames += syslogFrame('slow', 'web.1', `n=${i} ${pad}`);
  await sendTcp(sh.ports.syslog_tcp!, frames);
  const count = (body: string): { got: number; dropped: number } => {
    let got = 0;
    let dropped = 0;
    for (const l of body.split('\n')) {
      const m = /akkeris\/platform: Error L11 \(tail buffer overflow\): (\d+) messages dropped since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.exec(l);
      if (m) dropped += Number(m[1]);
      else if (/ app\[web\.1\]: n=\d+ /.test(l)) got++;
    }
    return { got, dropped };
  };
  // all lines are in (the shuttle read the connection to its end); keep the stall short: uWS
  // closes a connection that takes nothing for 10 s
  await waitFor(async () => /edgeplane_shuttle_tail_dropped_total [1-9]/.test((await httpRequest(`${sh.base}/metrics`)).body), 'drops');
  const newest = (await httpRequest(`${sh.base}/apps/slow/logs?lines=1`)).body;
  t.match(newest, new RegExp(`: n=${total - 1} `), 'ingest went on while a tail was stalled');
  paused = false;
  res.resume();
  let last = { got: 0, dropped: 0 };
  await waitFor(() => { last = count(body); return last.got + last.dropped >= total; }, 'received + dropped = sent', 60000).catch((err: Error) => {
    throw new Error(`${err.message}: ${JSON.stringify(last)} ${JSON.stringify(body.slice(0, 200))}`);
  });
  const c = count(body);
  t.ok(c.dropped > 0, `some lines were dropped (${c.dropped})`);
  t.equal(c.got + c.dropped, total, 'every line was either delivered or counted in L11');
  await waitFor(() => { const f = count(fast.text()); return f.got + f.dropped >= total; }, 'the reading tail accounts for every line', 60000);
  const f = count(fast.text());
  t.equal(f.got + f.dropped, total, 'the other tail: delivered + reported dropped = sent');
  const metrics = (await httpRequest(`${sh.base}/metrics`)).body;
  t.match(metrics, new RegExp(`edgeplane_shuttle_tail_dropped_total ${c.dropped + f.dropped}\\b`));
});
