// The 1 MiB record cap and the 10,000-byte split, on every ingest.
import t from 'tap';
import { connect } from 'node:net';
import { encode } from '@msgpack/msgpack';
import { startShuttle } from '../helpers/shuttle-process.js';
import { httpRequest } from '../helpers/http-client.js';
import { postNdjson, sendTcp, syslogFrame } from '../helpers/send.js';
import { waitFor } from '../helpers/wait.js';

t.setTimeout(600_000);

const MIB = 1024 * 1024;
const T0 = Date.UTC(2026, 10, 25, 10, 0, 0, 0);

async function lines(base: string, app: string): Promise<string[]> {
  return (await httpRequest(`${base}/apps/${app}/logs?lines=1500`)).body.split('\n').filter(Boolean);
}

async function metrics(base: string): Promise<string> {
  return (await httpRequest(`${base}/metrics`)).body;
}

t.test('up to 1 MiB is kept and split into 10,000-byte lines; over it is refused and counted', async (t) => {
  const sh = await startShuttle(t);
  const r = await postNdjson(sh.base, [
    { app: 'cap', time: T0, message: 'a'.repeat(100_000) },
    { app: 'cap', time: T0, message: 'b'.repeat(MIB + 1) },
    { app: 'cap', time: T0, message: 'c'.repeat(MIB) },
  ]);
  t.same(JSON.parse(r.body), { accepted: 2, rejected: 1 });
  const held = await lines(sh.base, 'cap');
  t.equal(held.filter((l) => l.endsWith('a'.repeat(10_000))).length, 10, '100,000 bytes: 10 lines');
  t.equal(held.filter((l) => /: c+$/.test(l)).length, Math.ceil(MIB / 10_000), '1 MiB exactly: kept, 105 lines');
  t.notOk(held.some((l) => l.includes('bbbb')), 'nothing of the refused record');
  t.match(await metrics(sh.base), /edgeplane_shuttle_bad_input_total\{ingest="http",reason="record over 1 MiB"\} 1/);

  // (the framer skips to the next LF after a frame it refuses: the next frame comes on its own connection)
  await sendTcp(sh.ports.syslog_tcp!, syslogFrame('cap-sys', 'web.1', 'd'.repeat(MIB)));
  await sendTcp(sh.ports.syslog_tcp!, syslogFrame('cap-sys', 'web.1', 'e'.repeat(MIB - 100)));
  await waitFor(async () => (await lines(sh.base, 'cap-sys')).length >= 105, 'the frame under the cap');
  const sys = await lines(sh.base, 'cap-sys');
  t.equal(sys.length, 105, 'only the frame under the cap, in 10,000-byte lines');
  t.notOk(sys.some((l) => l.includes('ddd')), 'nothing of the refused frame');
  t.match(await metrics(sh.base), /edgeplane_shuttle_bad_input_total\{ingest="syslog_tcp",reason="frame too long"\} 1/);
});

t.test('msgpack: a string over 1 MiB closes that connection, counted by reason', async (t) => {
  const sh = await startShuttle(t);
  const s = connect(sh.ports.ingest!, '127.0.0.1');
  s.on('error', () => {});
  const closed = new Promise<void>((r) => s.on('close', () => r()));
  const rec = (message: string) => Buffer.from(encode({ app: 'mp-cap', source: 'app', process: 'web.1', stream: 'stdout', time: T0, message }));
  s.write(Buffer.concat([rec('fits'), rec('x'.repeat(MIB + 1)), rec('never read')]));
  s.resume();
  await closed;
  t.same((await lines(sh.base, 'mp-cap')).map((l) => l.replace(/^.*: /, '')), ['fits']);
  t.match(await metrics(sh.base), /edgeplane_shuttle_bad_input_total\{ingest="msgpack",reason="record over 1 MiB, connection closed"\} 1/);
});
