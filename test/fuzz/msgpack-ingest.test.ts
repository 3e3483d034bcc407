import t from 'tap';
import fc from 'fast-check';
import { encode } from '@msgpack/msgpack';
import { readMsgpackStream } from '../../logshuttle/ingest/msgpack-tcp.js';
import type { IngestContext } from '../../logshuttle/ingest/ingest-context.js';
import { encodeLogRecord } from '../../shared/msgpack-record.js';
import { invalidLogRecordReason, type LogRecord } from '../../shared/log-record.js';
import { fuzz } from './fuzz-params.js';

/** What the ingest handed on: accepted records, bad reports, and how the stream ended. */
interface Ingested {
  accepted: LogRecord[];
  bad: number;
  how: 'end' | 'garbage';
}

async function ingest(pieces: readonly Uint8Array[]): Promise<Ingested> {
  const out: Ingested = { accepted: [], bad: 0, how: 'end' };
  // the shuttle side of the contract: what reaches the core, and what is counted as bad
  const ctx = {
    core: { accept: (r: LogRecord) => { out.accepted.push(r); } },
    bad: { report: () => { out.bad++; } },
    logger: { warn() {}, info() {}, error() {}, debug() {} },
  } as unknown as IngestContext;
  async function* source(): AsyncGenerator<Uint8Array> {
    for (const p of pieces) yield Buffer.from(p); // a fresh Buffer per chunk, as a socket gives
  }
  out.how = await readMsgpackStream(source(), ctx);
  return out;
}

function cut(buf: Buffer, points: readonly number[]): Buffer[] {
  const at = [...new Set(points.map((p) => p % (buf.length + 1)))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let from = 0;
  for (const p of at) {
    pieces.push(buf.subarray(from, p));
    from = p;
  }
  pieces.push(buf.subarray(from));
  return pieces;
}

const KEYS = ['app', 'source', 'process', 'stream', 'time', 'message'] as const;

/** the record as the contract says it must arrive: the six keys, same values */
function sameRecord(a: LogRecord, b: LogRecord): boolean {
  return Object.keys(a).length === 6 && KEYS.every((k) => a[k] === b[k]);
}

const appName = fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }).filter((s) => !/[\s\x00-\x1f\x7f/]/.test(s) && s.length <= 255);
const record: fc.Arbitrary<LogRecord> = fc.record({
  app: fc.oneof(appName, fc.constantFrom('api-prod', 'constructor', '__proto__')),
  source: fc.constantFrom('app', 'router', 'build', 'platform'),
  process: fc.string({ unit: 'binary', maxLength: 40 }),
  stream: fc.constantFrom('stdout', 'stderr'),
  time: fc.oneof(fc.integer({ min: 0, max: 2 ** 45 }), fc.double({ noNaN: true, noDefaultInfinity: true })),
  message: fc.oneof({ arbitrary: fc.string({ unit: 'binary', maxLength: 200 }), weight: 5 }, { arbitrary: fc.string({ minLength: 300, maxLength: 20000 }), weight: 1 }),
});

/** a value that is not a record: anything JSON-like (a map of extra keys too) */
const notRecord = fc.jsonValue({ maxDepth: 3 }).filter((v) => invalidLogRecordReason(v) !== null);

/** one item on the wire: a record (encoded by the router's hand encoder or the library, maybe with extra keys) or not */
const item = fc.oneof(
  fc.tuple(record, fc.constantFrom('hand', 'library', 'extra-key')).map(([r, how]) => ({
    record: r as LogRecord | null,
    wire: how === 'hand' ? encodeLogRecord(r) : Buffer.from(encode(how === 'library' ? r : { ...r, extra: [1, 'x'] })),
  })),
  notRecord.map((v) => ({ record: null as LogRecord | null, wire: Buffer.from(encode(v)) })),
);
const items = fc.array(item, { maxLength: 12 });
const cuts = fc.array(fc.nat(), { maxLength: 16 });

function check(got: Ingested, want: LogRecord[], prefixOnly: boolean): void {
  if (prefixOnly ? got.accepted.length < want.length : got.accepted.length !== want.length) {
    throw new Error(`${got.accepted.length} records accepted, expected ${want.length}`);
  }
  want.forEach((r, i) => {
    if (!sameRecord(got.accepted[i], r)) throw new Error(`record ${i}: got ${JSON.stringify(got.accepted[i])}, sent ${JSON.stringify(r)}`);
  });
}

t.test('records (and non-records) split at arbitrary points decode the same as whole', async (t) => {
  await fuzz(t, 'split invariance', fc.asyncProperty(items, cuts, async (list, points) => {
    const wire = Buffer.concat(list.map((i) => i.wire));
    const want = list.flatMap((i) => (i.record ? [i.record] : []));
    const got = await ingest(cut(wire, points));
    if (got.how !== 'end') throw new Error('valid msgpack was called garbage');
    check(got, want, false);
    const bad = list.filter((i) => !i.record).length;
    if (got.bad !== bad) throw new Error(`${got.bad} bad reports, expected ${bad}`);
  }), 1000);
});

t.test('arbitrary bytes never crash, and the records before them are kept', async (t) => {
  await fuzz(t, 'garbage after records', fc.asyncProperty(fc.array(record, { maxLength: 6 }), fc.uint8Array({ minLength: 1, maxLength: 300 }), cuts,
    async (records, garbage, points) => {
      const wire = Buffer.concat([...records.map(encodeLogRecord), Buffer.from(garbage)]);
      const got = await ingest(cut(wire, points));
      check(got, records, true);
      for (const r of got.accepted) if (invalidLogRecordReason(r) !== null || Object.keys(r).length !== 6) throw new Error(`accepted ${JSON.stringify(r)}`);
    }), 1000);
  await fuzz(t, 'random bytes', fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 8 }), async (pieces) => {
    const got = await ingest(pieces);
    for (const r of got.accepted) if (invalidLogRecordReason(r) !== null || Object.keys(r).length !== 6) throw new Error(`accepted ${JSON.stringify(r)}`);
  }), 2000);
});
