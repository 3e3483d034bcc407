// The bus ingest's decoding (recordOf, logshuttle/bus/message-delivery.ts): one bus message is
// exactly one msgpack value, read with the msgpack ingest's bounds. A valid record comes out as
// the record; anything nested beyond the record's flat shape, over the limits or followed by more
// bytes comes out as the reason it is counted under (edgeplane_shuttle_bus_bad_messages_total).
// The hostile messages are decoded in a worker thread with a 96 MiB heap: a decoder that builds
// what it reads (0x91 x 1,000,000 is a million nested arrays, ~190 MB) dies there.
import t from 'tap';
import { Worker } from 'node:worker_threads';
import { encode } from '@msgpack/msgpack';
import { recordOf } from '../../../logshuttle/bus/message-delivery.js';
import type { LogRecord } from '../../../shared/log-record.js';

const RECORD: LogRecord = { app: 'bus-app', source: 'app', process: 'web.1', stream: 'stdout', time: 1795600000000, message: 'hello' };

/** raw msgpack bytes to put as a map value as they are */
class Raw {
  constructor(readonly bytes: Buffer) {}
}

/** a msgpack map of `fields` in order (a Raw value goes in as its bytes, anything else encoded) */
function mapOf(fields: Record<string, unknown>): Buffer {
  const keys = Object.keys(fields);
  const head = keys.length < 16 ? Buffer.from([0x80 | keys.length]) : Buffer.from([0xde, keys.length >> 8, keys.length & 0xff]);
  return Buffer.concat([head, ...keys.flatMap((k) => {
    const v = fields[k];
    return [Buffer.from(encode(k)), v instanceof Raw ? v.bytes : Buffer.from(encode(v))];
  })]);
}

/** `depth` arrays, each holding the next, the innermost empty: 0x91 x depth, 0x90 */
function deepArrays(depth: number): Buffer {
  return Buffer.concat([Buffer.alloc(depth, 0x91), Buffer.from([0x90])]);
}

/** `depth` maps {k: …}, the innermost empty */
function deepMaps(depth: number): Buffer {
  const level = Buffer.from([0x81, 0xa1, 0x6b]);
  return Buffer.concat([...new Array<Buffer>(depth).fill(level), Buffer.from([0x80])]);
}

/** `dc 03 ff` then 1,023 x (`dc 03 ff` + 1,023 x `92 90 90`) cut to `outer` inner arrays (issue 22's input) */
function nestedArrays(outer: number): Buffer {
  const inner = Buffer.alloc(3 + 1023 * 3);
  inner.set([0xdc, 0x03, 0xff]);
  for (let i = 0; i < 1023; i++) inner.set([0x92, 0x90, 0x90], 3 + i * 3);
  return Buffer.concat([Buffer.from([0xdc, outer >> 8, outer & 0xff]), ...new Array<Buffer>(outer).fill(inner)]);
}

/** an array32 of `n` empty arrays */
function manySmall(n: number): Buffer {
  const b = Buffer.alloc(5 + n, 0x90);
  b[0] = 0xdd;
  b.writeUInt32BE(n, 1);
  return b;
}

t.test('a valid record is the record; extra keys are dropped', async (t) => {
  t.same(recordOf(encode(RECORD)), RECORD);
  t.same(recordOf(mapOf({ ...RECORD, extra: 'x', n: 1 })), RECORD, 'extra scalar keys dropped');
  t.same(recordOf(encode({ ...RECORD, message: 'é'.repeat(300_000) })), { ...RECORD, message: 'é'.repeat(300_000) }, 'a 600 KB message');
});

t.test('nested arrays: in a field the record refused with the field, under an extra key dropped unbuilt', async (t) => {
  t.equal(recordOf(mapOf({ ...RECORD, message: new Raw(deepArrays(10_000)) })), 'message not a string');
  t.equal(recordOf(mapOf({ ...RECORD, app: new Raw(deepArrays(10_000)) })), 'app missing or not a string');
  t.equal(recordOf(mapOf({ ...RECORD, time: new Raw(manySmall(1000)) })), 'time not a number');
  t.same(recordOf(mapOf({ ...RECORD, extra: new Raw(deepArrays(100_000)) })), RECORD, 'as on the msgpack port: the nested extra key is dropped');
  t.equal(recordOf(nestedArrays(300)), 'not a map', 'a top-level array of 300 x 1,023 nested arrays');
});

t.test('nested maps: in a field the record refused with the field, under an extra key dropped unbuilt', async (t) => {
  t.equal(recordOf(mapOf({ ...RECORD, message: new Raw(deepMaps(10_000)) })), 'message not a string');
  t.equal(recordOf(mapOf({ ...RECORD, stream: new Raw(deepMaps(3)) })), 'stream not stdout|stderr');
  t.same(recordOf(mapOf({ ...RECORD, extra: new Raw(deepMaps(100_000)) })), RECORD, 'the nested extra key is dropped');
  t.equal(recordOf(deepMaps(100_000)), 'app missing or not a string', 'a map of maps is not a record');
  const wide = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, i]));
  t.equal(recordOf(mapOf({ ...RECORD, ...wide })), 'map over 64 keys');
});

t.test('0x91 x 100,000: a hundred thousand nested arrays are not a record', async (t) => {
  t.equal(recordOf(deepArrays(100_000)), 'not a map', 'closed by an empty array');
  t.equal(recordOf(Buffer.alloc(100_000, 0x91)), 'incomplete msgpack value', 'never closed');
});

t.test('many small elements', async (t) => {
  t.equal(recordOf(manySmall(1_000_000)), 'not a map', 'an array of a million empty arrays');
  t.same(recordOf(mapOf({ ...RECORD, extra: new Raw(manySmall(1_000_000)) })), RECORD, 'under an extra key: dropped');
  t.equal(recordOf(mapOf({ ...RECORD, message: new Raw(manySmall(1_000_000)) })), 'message not a string');
});

t.test('one message is one value: trailing bytes, garbage, truncation, size', async (t) => {
  const one = Buffer.from(encode(RECORD));
  t.equal(recordOf(Buffer.concat([one, Buffer.from('x')])), 'bytes after the msgpack value', 'a record then a byte');
  t.equal(recordOf(Buffer.concat([one, one])), 'bytes after the msgpack value', 'two records in one message');
  t.equal(recordOf(Buffer.from('this is not msgpack')), 'bytes after the msgpack value', 'text: its first byte is a fixint');
  t.equal(recordOf(Buffer.from([0xc1])), 'not a msgpack value', 'a byte that starts no value');
  t.equal(recordOf(mapOf({ ...RECORD, message: new Raw(Buffer.from([0xc1])) })), 'not a msgpack value', 'inside a record');
  t.equal(recordOf(one.subarray(0, one.length - 2)), 'incomplete msgpack value', 'a record cut short');
  t.equal(recordOf(new Uint8Array(0)), 'incomplete msgpack value', 'an empty message');
  t.equal(recordOf(Uint8Array.from([0x93, 1, 2, 3])), 'not a map');
  t.equal(recordOf(Buffer.from([0x81, 0x91, 0x01, 0x01])), 'undecodable record (skipped)', 'a map keyed by an array');
  t.equal(recordOf(mapOf({ ...RECORD, message: new Raw(Buffer.from([0xdb, 0x00, 0x10, 0x00, 0x01])) })), 'record over 1 MiB', 'a string header over 1 MiB');
  t.equal(recordOf(Buffer.alloc(2 * 1024 * 1024, 0x90)), 'record over 1 MiB', 'a message over 1 MiB + 64 KiB is not walked');
  t.same(recordOf(encode(RECORD)), RECORD, 'a valid record after all that');
});

t.test('hostile messages cost no more than their bytes: decoded in a worker with a 96 MiB heap', async (t) => {
  const messages = [
    deepArrays(1_000_000),
    Buffer.alloc(100_000, 0x91),
    nestedArrays(340),
    manySmall(1_000_000),
    mapOf({ ...RECORD, extra: new Raw(deepMaps(340_000)) }),
    mapOf({ ...RECORD, message: new Raw(deepArrays(1_000_000)) }),
    encode(RECORD),
  ];
  t.ok(messages.every((m) => m.length <= 1024 * 1024 + 64 * 1024), 'each message within 1 MiB + 64 KiB (the size a bus message may have)');
  const worker = new Worker(new URL('./helpers/record-of-worker.ts', import.meta.url), { workerData: messages, resourceLimits: { maxOldGenerationSizeMb: 96 } });
  const results = await new Promise<unknown>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`worker exited ${code} before answering`)));
  });
  await worker.terminate();
  t.same(results, ['not a map', 'incomplete msgpack value', 'not a map', 'not a map', 'bus-app', 'message not a string', 'bus-app']);
});
