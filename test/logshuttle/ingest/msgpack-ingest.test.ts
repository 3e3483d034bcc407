import t from 'tap';
import { connect } from 'node:net';
import { encode } from '@msgpack/msgpack';
import { readMsgpackStream } from '../../../logshuttle/ingest/msgpack-tcp.js';
import { fakeContext } from '../helpers/fake-context.js';
import { startShuttle } from '../helpers/shuttle-process.js';
import { httpRequest } from '../helpers/http-client.js';
import { waitFor } from '../helpers/wait.js';

// spawned processes on a loaded 2-core machine: more than tap's default 120 s per file
t.setTimeout(600_000);

const records = [
  { app: 'api-prod', source: 'router', process: 'router', stream: 'stdout', time: 1795600000123, message: 'at=info method=GET path=/ status=200' },
  { app: 'api-prod', source: 'app', process: 'web.1562910588-cg82f', stream: 'stderr', time: 1795600000124, message: 'Entering api.getTheme ☃ for user 339910' },
  { app: 'other', source: 'build', process: 'build', stream: 'stdout', time: 1795600000125, message: '' },
];
const bytes = Buffer.concat(records.map((r) => Buffer.from(encode(r))));

async function* chunks(...parts: Buffer[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) if (p.length > 0) yield p;
}

t.test('records split at every byte boundary decode the same', async (t) => {
  for (let i = 0; i <= bytes.length; i++) {
    const ctx = fakeContext();
    const how = await readMsgpackStream(chunks(bytes.subarray(0, i), bytes.subarray(i)), ctx);
    if (how !== 'end' || ctx.delivered.length !== 3) {
      t.fail(`split at ${i}: ${how}, ${ctx.delivered.length} records`);
      return;
    }
    t.same(ctx.delivered, records.map((r) => ({ ...r })), `split at ${i}`);
  }
  // and one byte per chunk
  const ctx = fakeContext();
  await readMsgpackStream(chunks(...[...bytes].map((b) => Buffer.from([b]))), ctx);
  t.same(ctx.delivered, records);
});

t.test('a value that is not a record is skipped; undecodable bytes end the stream', async (t) => {
  const ctx = fakeContext();
  const notRecord = Buffer.from(encode({ app: 'x', source: 'nope' }));
  const how = await readMsgpackStream(chunks(Buffer.from(encode(records[0])), notRecord, Buffer.from(encode(42)), Buffer.from(encode(records[1])), Buffer.from([0xc1, 0x00])), ctx);
  t.equal(how, 'garbage');
  t.equal(ctx.delivered.length, 2);
  t.same(ctx.bad.entries().map((e) => e.reason).sort(), ['not a map', 'source not one of app|router|build|platform', 'undecodable msgpack, connection closed']);
});

t.test('msgpack over TCP: byte-by-byte writes, many records per write, garbage closes that connection only', async (t) => {
  const sh = await startShuttle(t);
  const port = sh.ports.ingest!;
  const good = connect(port, '127.0.0.1');
  good.setNoDelay(true);
  good.on('error', () => {});
  t.teardown(() => good.destroy());
  await new Promise((r) => good.once('connect', r));
  for (const b of bytes.subarray(0, 30)) {
    good.write(Buffer.from([b]));
    await new Promise((r) => setImmediate(r));
  }
  const bad = connect(port, '127.0.0.1');
  bad.on('error', () => {});
  const badClosed = new Promise<void>((r) => bad.on('close', () => r()));
  bad.write(Buffer.concat([Buffer.from(encode(records[2])), Buffer.from([0xc1, 0xc1, 0xc1])]));
  await badClosed;
  t.pass('the garbage connection was closed by the shuttle');
  good.write(bytes.subarray(30));
  const many = Buffer.concat(Array.from({ length: 500 }, (_, i) => Buffer.from(encode({ ...records[1], app: 'bulk', message: `n=${i}` }))));
  good.write(many);
  await waitFor(async () => (await httpRequest(`${sh.base}/apps/bulk/logs?lines=1500`)).body.split('\n').length > 500, 'bulk lines');
  const api = (await httpRequest(`${sh.base}/apps/api-prod/logs`)).body;
  t.equal(api, '2026-11-25T09:46:40.123Z api-prod akkeris/router: at=info method=GET path=/ status=200\n' +
    '2026-11-25T09:46:40.124Z api-prod app[web.1562910588-cg82f]: Entering api.getTheme ☃ for user 339910\n');
  const bulk = (await httpRequest(`${sh.base}/apps/bulk/logs?lines=1500`)).body.split('\n').filter(Boolean);
  t.equal(bulk.length, 500);
  t.match(bulk[499], /: n=499$/);
  const other = (await httpRequest(`${sh.base}/apps/other/logs`)).body;
  t.equal(other, '2026-11-25T09:46:40.125Z other akkeris/build: \n'.repeat(2), 'one from each connection: the record before the garbage counts');
  const metrics = (await httpRequest(`${sh.base}/metrics`)).body;
  t.match(metrics, /edgeplane_shuttle_bad_input_total\{ingest="msgpack",reason="undecodable msgpack, connection closed"\} 1/);
});
