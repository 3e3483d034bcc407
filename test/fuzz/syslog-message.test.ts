import t from 'tap';
import fc from 'fast-check';
import { parseSyslogMessage } from '../../logshuttle/ingest/syslog-message.js';
import { invalidLogRecordReason, type LogRecord, type LogSource } from '../../shared/log-record.js';
import { fuzz } from './fuzz-params.js';

const NOW = 1732528800123;
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** PRINTUSASCII (%d33-126) strings, with the names that mean something to the shuttle mixed in */
const printAscii = (min: number, max: number, except = ''): fc.Arbitrary<string> =>
  fc.string({ unit: fc.integer({ min: 33, max: 126 }).map((c) => String.fromCharCode(c)).filter((c) => !except.includes(c)), minLength: min, maxLength: max });
const SPECIAL_NAMES = ['app', 'router', 'build', 'platform', 'akkeris', 'constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'];
const nameLike = (max: number): fc.Arbitrary<string> => fc.oneof(printAscii(1, max), fc.constantFrom(...SPECIAL_NAMES));
const nilOr = (a: fc.Arbitrary<string>): fc.Arbitrary<string> => fc.oneof({ arbitrary: fc.constant('-'), weight: 1 }, { arbitrary: a, weight: 3 });

const pad = (n: number, width: number): string => String(n).padStart(width, '0');
const isLeap = (y: number): boolean => y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
const daysIn = (y: number, m: number): number => [31, isLeap(y) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1];

/** An RFC 5424 TIMESTAMP (RFC 3339, no leap second) and the epoch ms it names (fraction truncated). */
const timestamp = fc.record({
  y: fc.integer({ min: 0, max: 9999 }), m: fc.integer({ min: 1, max: 12 }), d: fc.integer({ min: 1, max: 31 }),
  h: fc.integer({ min: 0, max: 23 }), mi: fc.integer({ min: 0, max: 59 }), s: fc.integer({ min: 0, max: 59 }),
  frac: fc.option(fc.stringMatching(/^[0-9]{1,6}$/)),
  offset: fc.option(fc.record({ sign: fc.constantFrom(1, -1), h: fc.integer({ min: 0, max: 23 }), m: fc.integer({ min: 0, max: 59 }) })),
}).map(({ y, m, d: d0, h, mi, s, frac, offset }) => {
  const d = Math.min(d0, daysIn(y, m));
  const text = `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}`
    + (frac === null ? '' : `.${frac}`)
    + (offset === null ? 'Z' : `${offset.sign > 0 ? '+' : '-'}${pad(offset.h, 2)}:${pad(offset.m, 2)}`);
  const date = new Date(0);
  date.setUTCFullYear(y, m - 1, d);
  date.setUTCHours(h, mi, s, frac === null ? 0 : Number((frac + '00').slice(0, 3)));
  const ms = date.getTime() - (offset === null ? 0 : offset.sign * (offset.h * 60 + offset.m) * 60000);
  return { text, ms };
});

/** SD-PARAM value: any text, with `"`, `\` and `]` escaped */
const paramValue = fc.string({ unit: 'binary', maxLength: 20 }).map((v) => v.replace(/["\\\]]/g, (c) => `\\${c}`));
const sdName = printAscii(1, 32, '= ]"');
const sdElement = fc.tuple(sdName, fc.array(fc.tuple(sdName, paramValue), { maxLength: 3 }))
  .map(([id, params]) => `[${id}${params.map(([k, v]) => ` ${k}="${v}"`).join('')}]`);
const structuredData = fc.oneof(fc.constant('-'), fc.array(sdElement, { minLength: 1, maxLength: 3 }).map((els) => els.join('')));

/** MSG: absent, UTF-8 text with or without a BOM, or any octets (MSG-ANY) */
const msg = fc.oneof(
  fc.constant(null),
  fc.tuple(fc.boolean(), fc.string({ unit: 'binary', maxLength: 60 })).map(([bom, s]) => Buffer.concat([bom ? BOM : Buffer.alloc(0), Buffer.from(s)])),
  fc.tuple(fc.uint8Array({ maxLength: 60 }), fc.constantFrom('', '\n', '\r\n')).map(([b, end]) => Buffer.concat([Buffer.from(b), Buffer.from(end)])),
);

const HOST_EXCEPT = '/';
const message = fc.record({
  pri: fc.integer({ min: 0, max: 191 }),
  priWidth: fc.integer({ min: 1, max: 3 }),
  version: fc.oneof(fc.constant('1'), fc.stringMatching(/^[1-9][0-9]{0,2}$/)),
  ts: fc.option(timestamp),
  host: fc.oneof(printAscii(1, 255, HOST_EXCEPT), fc.constantFrom(...SPECIAL_NAMES)).filter((h) => h !== '-'),
  appName: nilOr(nameLike(48)),
  procId: nilOr(nameLike(128)),
  msgId: nilOr(printAscii(1, 32)),
  sd: structuredData,
  msg,
});
type Message = typeof message extends fc.Arbitrary<infer M> ? M : never;

function wire(m: Message): Buffer {
  const head = `<${String(m.pri).padStart(m.priWidth, '0')}>${m.version} ${m.ts === null ? '-' : m.ts.text} ${m.host} ${m.appName} ${m.procId} ${m.msgId} ${m.sd}`;
  return m.msg === null ? Buffer.from(head) : Buffer.concat([Buffer.from(head + ' '), m.msg]);
}

const SOURCES: readonly string[] = ['app', 'router', 'build', 'platform'];

/** The record DESIGN.md says the message makes, computed independently of the parser. */
function expected(m: Message): LogRecord {
  const process = m.procId === '-' ? '' : m.procId;
  const named = m.appName === 'akkeris' ? process : m.appName;
  let body = m.msg ?? Buffer.alloc(0);
  if (body.length > 0 && body[body.length - 1] === 0x0a) body = body.subarray(0, body.length - (body.length > 1 && body[body.length - 2] === 0x0d ? 2 : 1));
  if (body.subarray(0, 3).equals(BOM)) body = body.subarray(3);
  return {
    app: m.host,
    source: (SOURCES.includes(named) ? named : 'app') as LogSource,
    process,
    stream: m.pri % 8 <= 3 ? 'stderr' : 'stdout',
    time: m.ts === null ? NOW : m.ts.ms,
    message: body.toString('utf8'),
  };
}

function parse(buf: Buffer): ReturnType<typeof parseSyslogMessage> {
  // parse from inside a larger buffer: the parser must honour start and end
  const framed = Buffer.concat([Buffer.from('xx'), buf, Buffer.from('yy')]);
  return parseSyslogMessage(framed, 2, 2 + buf.length, NOW);
}

t.test('valid RFC 5424 messages parse to the right fields', async (t) => {
  await fuzz(t, 'valid messages', fc.property(message, (m) => {
    const got = parse(wire(m));
    if (typeof got === 'string') throw new Error(`rejected: ${got}`);
    const want = expected(m);
    for (const k of Object.keys(want) as (keyof LogRecord)[]) {
      if (got[k] !== want[k]) throw new Error(`${k}: got ${JSON.stringify(got[k])}, want ${JSON.stringify(want[k])}`);
    }
    if (Object.keys(got).length !== 6) throw new Error(`keys: ${Object.keys(got).join()}`);
  }), 4000);
});

/** Whatever the parser returns is a reason or a record the rest of the shuttle can take. */
function checkOutcome(r: unknown): void {
  if (typeof r === 'string') {
    if (r.length === 0) throw new Error('empty reason');
    return;
  }
  const problem = invalidLogRecordReason(r);
  if (problem) throw new Error(`returned an invalid record (${problem}): ${JSON.stringify(r)}`);
  const app = (r as LogRecord).app;
  if (app.length > 255 || /[\s\x00-\x1f\x7f/]/.test(app)) throw new Error(`bad app name ${JSON.stringify(app)}`);
}

t.test('arbitrary bytes return a reason or a valid record, never throw', async (t) => {
  await fuzz(t, 'random bytes', fc.property(fc.uint8Array({ maxLength: 300 }), (b) => checkOutcome(parse(Buffer.from(b)))), 5000);
  await fuzz(t, 'syslog-looking bytes', fc.property(
    fc.array(fc.oneof(fc.constantFrom('<', '>', ' ', '-', '[', ']', '"', '\\', '=', '1', '13', '191', '192', '\n', '\r', '\xef\xbb\xbf', 'T', 'Z', ':', '.'),
      fc.string({ maxLength: 8 })), { maxLength: 30 }),
    (parts) => checkOutcome(parse(Buffer.from(parts.join(''), 'latin1'))),
  ), 5000);
  // a valid message with bytes changed, cut or inserted
  const mutated = fc.tuple(message, fc.array(fc.tuple(fc.nat(), fc.nat(255), fc.constantFrom('set', 'cut', 'insert')), { minLength: 1, maxLength: 4 }))
    .map(([m, edits]) => {
      let b = wire(m);
      for (const [at, byte, how] of edits) {
        const i = b.length === 0 ? 0 : at % b.length;
        if (how === 'set' && b.length > 0) { b = Buffer.from(b); b[i] = byte; }
        else if (how === 'cut') b = b.subarray(0, i);
        else b = Buffer.concat([b.subarray(0, i), Buffer.from([byte]), b.subarray(i)]);
      }
      return b;
    });
  await fuzz(t, 'mutated messages', fc.property(mutated, (b) => checkOutcome(parse(b))), 5000);
});

t.test('APP-NAME and PROCID that are Object.prototype names map to source app', async (t) => {
  for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
    const r = parse(Buffer.from(`<14>1 - api-prod ${name} web.1 - - hi`));
    t.equal(typeof r === 'string' ? r : r.source, 'app', `APP-NAME ${name}`);
    const a = parse(Buffer.from(`<14>1 - api-prod akkeris ${name} - - hi`));
    t.equal(typeof a === 'string' ? a : a.source, 'app', `akkeris with PROCID ${name}`);
  }
});
