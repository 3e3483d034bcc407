import t from 'tap';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { encode } from '@msgpack/msgpack';
import { startShuttle } from '../helpers/shuttle-process.js';
import { httpRequest } from '../helpers/http-client.js';
import { waitFor } from '../helpers/wait.js';

// spawned processes on a loaded 2-core machine
t.setTimeout(600_000);

/** the shuttle's resident memory, in bytes (Linux) */
function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

/** `dc 03 ff` then 1,023 x (`dc 03 ff` + 1,023 x `92 90 90`): 3.1 MB decoding to ~1M arrays */
function nestedArrays(): Buffer {
  const inner = Buffer.alloc(3 + 1023 * 3);
  inner.set([0xdc, 0x03, 0xff]);
  for (let i = 0; i < 1023; i++) inner.set([0x92, 0x90, 0x90], 3 + i * 3);
  return Buffer.concat([Buffer.from([0xdc, 0x03, 0xff]), ...new Array<Buffer>(1023).fill(inner)]);
}

/** a record whose extra key holds 20,000 maps of 15 empty maps (~620 KB) */
function nestedMapsRecord(): Buffer {
  // a fixmap of 15 keys, each value an empty map
  const leaf = Buffer.alloc(1 + 15 * 2);
  leaf[0] = 0x8f;
  for (let i = 0; i < 15; i++) leaf.set([i, 0x80], 1 + i * 2);
  const level = Buffer.concat([Buffer.from([0xdc, 0x4e, 0x20]), ...new Array<Buffer>(20000).fill(leaf)]);
  const head = Buffer.from(encode({ app: 'nested-maps', source: 'app', process: 'web.1', stream: 'stdout', time: 1795600000000, message: 'kept: the extra key is dropped unbuilt' }));
  // head is a fixmap of 6 keys: make it 7 and append key `extra` with the nested value
  head[0] = 0x87;
  return Buffer.concat([head, Buffer.from(encode('extra')), level]);
}

function send(port: number, bytes: Buffer): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(bytes, () => resolve(s)));
    s.on('error', reject);
  });
}

t.test('nested msgpack costs the shuttle no more than a small multiple of the bytes in flight', async (t) => {
  const sh = await startShuttle(t);
  const port = sh.ports.ingest!;
  const base = `http://127.0.0.1:${sh.ports.http}`;
  const before = rss(sh.proc.pid!);
  const attack = nestedArrays();
  t.equal(attack.length, 3 + 1023 * (3 + 1023 * 3), 'the 3.1 MB payload');
  // four connections, each with the 3.1 MB value (over the 1 MiB value limit: closed) ...
  const sockets = await Promise.all([0, 1, 2, 3].map(() => send(port, attack)));
  // ... and values under the limit: 100,000 small nested arrays, a record with deep nesting
  const small = Buffer.concat([Buffer.from([0xdc, 0xff, 0xff]), Buffer.alloc(0xffff * 3, Buffer.from([0x92, 0x90, 0x90]))]);
  const manySmall = Buffer.concat([small, Buffer.from(encode({ app: 'after-small', source: 'app', process: 'web.1', stream: 'stdout', time: 1795600000000, message: 'still in step' }))]);
  const s2 = await send(port, manySmall);
  const s3 = await send(port, nestedMapsRecord());
  t.teardown(() => { for (const s of [...sockets, s2, s3]) s.destroy(); });

  await waitFor(async () => {
    const m = (await httpRequest(`${base}/metrics`)).body;
    const closed = /edgeplane_shuttle_bad_input_total\{ingest="msgpack",reason="record over 1 MiB, connection closed"\} (\d+)/.exec(m);
    return closed !== null && Number(closed[1]) === 4;
  }, 'four oversized nested values refused', 60_000);
  let tail = '';
  await waitFor(async () => (tail = (await httpRequest(`${base}/apps/after-small/logs?lines=10`)).body).includes('still in step'),
    'the record after 65,535 small nested arrays is delivered', 60_000);
  t.match(tail, /after-small app\[web\.1\]: still in step\n$/);
  let kept = '';
  await waitFor(async () => (kept = (await httpRequest(`${base}/apps/nested-maps/logs?lines=10`)).body).includes('kept'),
    'a record with a deeply nested extra key is delivered', 60_000);
  t.match(kept, /nested-maps app\[web\.1\]: kept: the extra key is dropped unbuilt\n$/);
  const metrics = (await httpRequest(`${base}/metrics`)).body;
  t.match(metrics, /edgeplane_shuttle_bad_input_total\{ingest="msgpack",reason="not a map"\} 1/, 'the top-level array counted and skipped');

  const after = rss(sh.proc.pid!);
  const grew = after - before;
  const inFlight = 4 * attack.length + manySmall.length;
  t.comment(`RSS ${(before / 2 ** 20).toFixed(1)} -> ${(after / 2 ** 20).toFixed(1)} MiB for ${(inFlight / 2 ** 20).toFixed(1)} MiB of hostile input`);
  // before the bounded reader, this input took the shuttle from ~78 MB to ~680 MB
  t.ok(grew < 4 * inFlight, `RSS grew ${(grew / 2 ** 20).toFixed(1)} MiB, under 4x the ${(inFlight / 2 ** 20).toFixed(1)} MiB sent`);
  // and it still takes ordinary records
  const ok = await send(port, Buffer.from(encode({ app: 'still-serving', source: 'app', process: 'web.1', stream: 'stdout', time: 1795600000000, message: 'yes' })));
  t.teardown(() => ok.destroy());
  await waitFor(async () => (await httpRequest(`${base}/apps/still-serving/logs?lines=1`)).body.includes('yes'), 'still serving', 60_000);
});
