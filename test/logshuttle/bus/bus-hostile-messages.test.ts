// Hostile msgpack on the bus (issue 22: the bus ingest holds the msgpack port's bound): messages
// published straight to a partition's subject, as a misbehaving producer could, nesting arrays
// and maps ~1 MB deep or wide, unterminated, or with bytes after the value, among valid lines of
// another app on the same partition. The valid lines reach that app's drain and tail intact and
// in order; every hostile message is counted by reason in /metrics, acknowledged and never
// redelivered; the shuttle keeps serving.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { encode } from '@msgpack/msgpack';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import { partitionOf } from '../../../shared/bus/index.js';
import { startNatsCluster } from '../../support/nats-cluster.js';
import { httpRequest, openTail } from '../helpers/http-client.js';
import { waitFor } from '../helpers/wait.js';
import { startStreamReceiver } from '../drains/receivers.js';
import { metric, natsClient, parseReceived, postLines, startBusShuttle } from './helpers/bus-shuttle.js';

// a hang's bound only (the machine may be loaded)
t.setTimeout(600_000);

const BAD = 'edgeplane_shuttle_bus_bad_messages_total';

/** `depth` arrays, each holding the next, the innermost empty */
const deepArrays = (depth: number): Buffer => Buffer.concat([Buffer.alloc(depth, 0x91), Buffer.from([0x90])]);
/** `depth` maps {k: …}, the innermost empty */
const deepMaps = (depth: number): Buffer => Buffer.concat([...new Array<Buffer>(depth).fill(Buffer.from([0x81, 0xa1, 0x6b])), Buffer.from([0x80])]);

/** `dc <outer>` then `outer` x (`dc 03 ff` + 1,023 x `92 90 90`): issue 22's input, cut to fit one message */
function nestedArrays(outer: number): Buffer {
  const inner = Buffer.alloc(3 + 1023 * 3);
  inner.set([0xdc, 0x03, 0xff]);
  for (let i = 0; i < 1023; i++) inner.set([0x92, 0x90, 0x90], 3 + i * 3);
  return Buffer.concat([Buffer.from([0xdc, outer >> 8, outer & 0xff]), ...new Array<Buffer>(outer).fill(inner)]);
}

/** a record map of `app` with `message`, then `extra` as raw msgpack bytes under key `key` */
function recordWithRaw(app: string, message: string | Buffer, extra?: { key: string; bytes: Buffer }): Buffer {
  const fields: Buffer[] = [];
  const put = (k: string, v: Buffer): void => void fields.push(Buffer.from(encode(k)), v);
  put('app', Buffer.from(encode(app)));
  put('source', Buffer.from(encode('app')));
  put('process', Buffer.from(encode('web.1')));
  put('stream', Buffer.from(encode('stdout')));
  put('time', Buffer.from(encode(Date.now())));
  put('message', typeof message === 'string' ? Buffer.from(encode(message)) : message);
  if (extra) put(extra.key, extra.bytes);
  return Buffer.concat([Buffer.from([0x80 | (fields.length / 2)]), ...fields]);
}

/** the shuttle's resident memory, in MiB (Linux) */
function rssMiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

const cluster = await startNatsCluster({ t });
const servers = cluster.servers;
const admin = await natsClient(t, servers);
const stream = 'EDGEPLANE_LOGS';

t.test('hostile nested messages on the bus are counted by reason and skipped; the valid lines around them arrive in order', async (t) => {
  const s = await startBusShuttle(t, { servers, stream, partitions: 16 });
  const good = 'good-app';
  const p = partitionOf(good, 16);
  // the hostile app shares the good app's partition: a message that stalled it would stall the good lines
  let hostile = '';
  for (let i = 0; partitionOf(hostile, 16) !== p || hostile === ''; i++) hostile = `hostile-${i}`;

  const receiver = await startStreamReceiver();
  t.teardown(() => receiver.close());
  t.equal((await httpRequest(`${s.base}/apps/${good}/drains`, { method: 'POST', body: JSON.stringify({ url: `syslog://127.0.0.1:${receiver.port}` }) })).status, 201, 'drain added');
  const tail = openTail(`${s.base}/apps/${good}/logs?lines=100&tail=true`);
  t.teardown(() => tail.close());

  const bad: Array<{ what: string; bytes: Buffer; reason: string }> = [
    { what: '0x91 x 100,000 then 0x90', bytes: deepArrays(100_000), reason: 'not a map' },
    { what: 'issue 22\'s nested arrays, 300 x 1,023 (0.9 MB)', bytes: nestedArrays(300), reason: 'not a map' },
    { what: 'an array of 900,000 empty arrays', bytes: Buffer.concat([Buffer.from([0xdd, 0x00, 0x0d, 0xbb, 0xa0]), Buffer.alloc(900_000, 0x90)]), reason: 'not a map' },
    { what: 'a record whose message is 300,000 nested maps', bytes: recordWithRaw(hostile, deepMaps(300_000)), reason: 'message not a string' },
    { what: 'a record whose message is 900,000 nested arrays', bytes: recordWithRaw(hostile, deepArrays(900_000)), reason: 'message not a string' },
    { what: '0x91 x 900,000, never closed', bytes: Buffer.alloc(900_000, 0x91), reason: 'incomplete msgpack value' },
    { what: 'a valid record then garbage', bytes: Buffer.concat([recordWithRaw(hostile, 'smuggled'), Buffer.from('garbage')]), reason: 'bytes after the msgpack value' },
  ];
  const js = jetstream(admin, { timeout: 30_000 });
  let n = 0;
  const publish = async (subject: string, bytes: Uint8Array): Promise<void> => {
    const h = headers();
    h.set('Nats-Msg-Id', `hostile-test-${process.pid}-${++n}`);
    await js.publish(subject, bytes, { headers: h });
  };
  const rssBefore = rssMiB(s.proc.pid!);
  let sent = 0;
  const expected: string[] = [];
  // good line, hostile message, good line, …: each stored before the next is sent
  for (const b of bad) {
    expected.push(`good line ${expected.length + 1}`);
    await publish(`logs.${p}.${good}`, recordWithRaw(good, expected.at(-1)!));
    await publish(`logs.${p}.${hostile}`, b.bytes);
    sent += b.bytes.length;
  }
  // a record of the hostile app with a deeply nested extra key: kept, as on the msgpack port (the key is dropped unbuilt)
  const kept = recordWithRaw(hostile, 'kept: the nested extra key is dropped', { key: 'extra', bytes: deepMaps(300_000) });
  await publish(`logs.${p}.${hostile}`, kept);
  sent += kept.length;
  expected.push(`good line ${expected.length + 1}`);
  await publish(`logs.${p}.${good}`, recordWithRaw(good, expected.at(-1)!));
  t.comment(`${bad.length + 1} hostile messages, ${(sent / 1024 / 1024).toFixed(1)} MiB, among ${expected.length} valid lines`);

  await waitFor(() => receiver.messages.length >= expected.length, `${expected.length} lines at the drain`, 60_000, 100).catch((err: Error) => {
    t.comment(`drain: ${JSON.stringify(receiver.messages)}\nshuttle: ${s.log.slice(-30).join('\n')}`);
    throw err;
  });
  t.same(receiver.messages.map((m) => parseReceived(m)).map((r) => [r.app, r.msg]), expected.map((m) => [good, m]), 'the drain got every valid line, intact and in order, and nothing else');
  await waitFor(() => tail.lines().length >= expected.length, 'the valid lines in the tail', 60_000, 100);
  t.equal(await tail.status, 200, "tail status (a follow's head goes out with its first line)");
  t.same(tail.lines().map((l) => l.slice(l.indexOf(': ') + 2)), expected, 'the tail shows every valid line, in order');
  t.ok(tail.lines().every((l) => l.includes(` ${good} app[web.1]: `)), 'only the good app\'s lines in its tail');

  const reasons = [...new Set(bad.map((b) => b.reason))];
  await waitFor(async () => (await metric(s, BAD)) === bad.length, `${bad.length} bad messages counted`, 60_000, 200);
  for (const reason of reasons) {
    t.equal(await metric(s, BAD, { reason }), bad.filter((b) => b.reason === reason).length, `counted under reason="${reason}"`);
  }
  const hostileLog = (await httpRequest(`${s.base}/apps/${hostile}/logs?lines=10`)).body;
  t.match(hostileLog, new RegExp(` ${hostile} app\\[web\\.1\\]: kept: the nested extra key is dropped\\n$`), 'the hostile app got only its record with the nested extra key');
  t.equal(hostileLog.split('\n').filter(Boolean).length, 1, 'and nothing else (not the smuggled record)');

  const jsm = await jetstreamManager(admin);
  await waitFor(async () => (await jsm.consumers.info(stream, `logshuttle-p${p}`)).num_ack_pending === 0, 'nothing left unacknowledged', 60_000, 200);
  t.equal((await jsm.consumers.info(stream, `logshuttle-p${p}`)).num_redelivered, 0, 'no message redelivered');

  // still serving: health, readiness, and a new line through the HTTP ingest to the drain
  t.equal((await httpRequest(`${s.base}/healthz`)).status, 200, '/healthz');
  t.equal((await httpRequest(`${s.base}/readyz`)).status, 200, '/readyz');
  t.equal(await postLines(s.base, [{ app: good, message: 'after the hostile messages' }]), 200, 'POST /ingest');
  await waitFor(() => receiver.messages.some((m) => m.endsWith(' after the hostile messages')), 'the next line at the drain', 60_000, 100);
  t.equal(s.proc.exitCode, null, 'the shuttle is running');
  // memory: nothing nested is built (a decoder that builds it took 130 -> 328 MiB here); the bound
  // is loose (RSS also holds the fetched message batches and what the collector has not returned)
  const rssAfter = rssMiB(s.proc.pid!);
  const sentMiB = sent / 1024 / 1024;
  t.comment(`shuttle RSS ${rssBefore.toFixed(1)} -> ${rssAfter.toFixed(1)} MiB for ${sentMiB.toFixed(1)} MiB of hostile messages`);
  t.ok(rssAfter - rssBefore < 12 * sentMiB, `RSS grew by ${(rssAfter - rssBefore).toFixed(1)} MiB, under 12 x the ${sentMiB.toFixed(1)} MiB sent`);
});
