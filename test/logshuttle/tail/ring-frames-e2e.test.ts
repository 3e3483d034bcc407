import t from 'tap';
import { connect } from 'node:net';
import { createSocket } from 'node:dgram';
import { encode } from '@msgpack/msgpack';
import { startShuttle } from '../helpers/shuttle-process.js';
import { httpRequest, openTail } from '../helpers/http-client.js';
import { postNdjson, sendTcp } from '../helpers/send.js';
import { waitFor } from '../helpers/wait.js';

// spawned processes on a loaded 2-core machine: more than tap's default 120 s per file
t.setTimeout(600_000);

// The ring keeps syslog frames as received and writes their tail lines when read; lines from
// every other path are kept as tail lines. Through the real shuttle: history and live tails
// show every source's lines exactly as formatTailLine writes them, in arrival order, the ring
// capped at `history` however the lines came in.

const T0 = Date.UTC(2026, 10, 25, 10, 0, 0, 0);
const iso = (ms: number): string => new Date(T0 + ms).toISOString();

/** an octet-counted frame; `canonical` ones are in the drains' own form (the fast path) */
function frame(msg: string): string {
  return `${Buffer.byteLength(msg)} ${msg}`;
}
const appMsg = (app: string, ms: number, proc: string, text: string): string => `<14>1 ${iso(ms)} ${app} app ${proc} - - ${text}`;
const platformMsg = (app: string, ms: number, source: string, text: string, pri = '<14>'): string => `${pri}1 ${iso(ms)} ${app} akkeris ${source} - - ${text}`;

async function logs(base: string, app: string, lines: number, headers: Record<string, string> = {}): Promise<string> {
  const r = await httpRequest(`${base}/apps/${app}/logs?lines=${lines}`, { headers });
  if (r.status !== 200) throw new Error(`status ${r.status}`);
  return r.body;
}

function sendMsgpack(port: number, records: object[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.end(Buffer.concat(records.map((r) => Buffer.from(encode(r))))));
    s.on('error', reject);
    s.on('close', () => resolve());
  });
}

t.test('every source, in arrival order: syslog runs and lone frames, general-path frames, HTTP, msgpack, UDP', async (t) => {
  const sh = await startShuttle(t, { history: 1500 });
  const want: string[] = [];
  // syslog TCP, one chunk: a run of app lines, platform lines, frames the fast path declines
  // (a LF in the message, a timestamp not in the drains' form, a leading zero in the count)
  const tcp = [
    frame(appMsg('mix', 1, 'web.1', 'run one é ✓')),
    frame(appMsg('mix', 2, 'web.1', 'run two')),
    frame(appMsg('mix', 3, 'worker.2', '')),
    frame(platformMsg('mix', 4, 'router', 'at=info method=GET path=/ status=200')),
    frame(platformMsg('mix', 5, 'router', 'at=error code=H12', '<11>')),
    frame(platformMsg('mix', 6, 'build', 'Step 1/3')),
    frame(platformMsg('mix', 7, 'platform', 'Scaled to web@2')),
    frame(appMsg('mix', 9, 'web.1', 'a\nb\rc')),
    frame(appMsg('other', 8, 'web.1', 'not mine')),
    frame(`<14>1 2026-11-25T10:00:00.010+00:00 mix app web.1 - - offset timestamp`),
    '0' + frame(appMsg('mix', 11, 'web.1', 'leading zero')),
    frame(appMsg('mix', 12, 'web.1', 'x'.repeat(3000))),
  ].join('');
  want.push(
    `${iso(1)} mix app[web.1]: run one é ✓`,
    `${iso(2)} mix app[web.1]: run two`,
    `${iso(3)} mix app[worker.2]: `,
    `${iso(4)} mix akkeris/router: at=info method=GET path=/ status=200`,
    `${iso(5)} mix akkeris/router: at=error code=H12`,
    `${iso(6)} mix akkeris/build: Step 1/3`,
    `${iso(7)} mix akkeris/platform: Scaled to web@2`,
    `${iso(9)} mix app[web.1]: a\\nb\\rc`,
    `${iso(10)} mix app[web.1]: offset timestamp`,
    `${iso(11)} mix app[web.1]: leading zero`,
    `${iso(12)} mix app[web.1]: ${'x'.repeat(3000)}`,
  );
  await sendTcp(sh.ports.syslog_tcp!, tcp);
  await waitFor(async () => (await logs(sh.base, 'mix', 100)).split('\n').length > want.length, 'syslog lines in the ring');
  // a live tail from here on
  const tail = openTail(`${sh.base}/apps/mix/logs?lines=0&tail=true`);
  t.teardown(() => tail.close());
  await waitFor(async () => /edgeplane_shuttle_tails_open 1/.test((await httpRequest(`${sh.base}/metrics`)).body), 'tail open');
  const live: string[] = [];
  await postNdjson(sh.base, [{ app: 'mix', time: T0 + 13, message: 'over http\nsecond' }, { app: 'mix', time: T0 + 14, source: 'router', process: 'router', message: 'at=info' }]);
  live.push(`${iso(13)} mix app[web.1]: over http\\nsecond`, `${iso(14)} mix akkeris/router: at=info`);
  await waitFor(async () => (await logs(sh.base, 'mix', 100)).includes('at=info\n'), 'http lines');
  await sendMsgpack(sh.ports.ingest!, [{ app: 'mix', source: 'build', process: 'build', stream: 'stdout', time: T0 + 15, message: 'by msgpack' }]);
  live.push(`${iso(15)} mix akkeris/build: by msgpack`);
  await waitFor(async () => (await logs(sh.base, 'mix', 1)).includes('by msgpack'), 'msgpack line');
  const udp = createSocket('udp4');
  t.teardown(() => udp.close());
  await new Promise<void>((resolve, reject) => udp.send(Buffer.from(appMsg('mix', 16, 'web.3', 'by udp')), sh.ports.syslog_udp!, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  live.push(`${iso(16)} mix app[web.3]: by udp`);
  await waitFor(async () => (await logs(sh.base, 'mix', 1)).includes('by udp'), 'udp line');
  const run2 = Array.from({ length: 5 }, (_, i) => appMsg('mix', 17 + i, 'web.1', `second run ${i}`));
  await sendTcp(sh.ports.syslog_tcp!, run2.map(frame).join(''));
  live.push(...run2.map((_, i) => `${iso(17 + i)} mix app[web.1]: second run ${i}`));
  want.push(...live);
  await waitFor(async () => (await logs(sh.base, 'mix', 1)).includes('second run 4'), 'second run');
  t.equal(await logs(sh.base, 'mix', 100), want.map((l) => l + '\n').join(''), 'history: every line, every source, in order');
  t.equal(await logs(sh.base, 'mix', 3), want.slice(-3).map((l) => l + '\n').join(''), 'the newest 3');
  t.equal(await logs(sh.base, 'other', 100), `${iso(8)} other app[web.1]: not mine\n`);
  t.equal(await logs(sh.base, 'mix', 2, { accept: 'text/event-stream' }), want.slice(-2).map((l) => `data: ${l}\n\n`).join(''), 'SSE');
  t.same(await tail.waitForLines(live.length), live, 'the live tail got the same lines');
});

t.test('the ring holds `history` lines however they came; the ones pushed out are gone', async (t) => {
  const sh = await startShuttle(t, { history: 4 });
  // one run longer than the ring, then single frames and records alternating
  await sendTcp(sh.ports.syslog_tcp!, Array.from({ length: 10 }, (_, i) => frame(appMsg('cap', i, 'web.1', `run ${i}`))).join(''));
  await waitFor(async () => (await logs(sh.base, 'cap', 100)).includes('run 9'), 'run in');
  t.equal(await logs(sh.base, 'cap', 100), [6, 7, 8, 9].map((i) => `${iso(i)} cap app[web.1]: run ${i}\n`).join(''));
  await postNdjson(sh.base, [{ app: 'cap', time: T0 + 20, message: 'record' }]);
  await sendTcp(sh.ports.syslog_tcp!, frame(appMsg('cap', 21, 'web.1', 'frame')));
  await waitFor(async () => (await logs(sh.base, 'cap', 1)).includes(': frame'), 'frame in');
  t.equal(await logs(sh.base, 'cap', 100), [
    `${iso(8)} cap app[web.1]: run 8\n`, `${iso(9)} cap app[web.1]: run 9\n`, `${iso(20)} cap app[web.1]: record\n`, `${iso(21)} cap app[web.1]: frame\n`,
  ].join(''));
  const metrics = (await httpRequest(`${sh.base}/metrics`)).body;
  t.match(metrics, /edgeplane_shuttle_ring_lines 4\b/);
});
