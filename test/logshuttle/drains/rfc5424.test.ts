import fc from 'fast-check';
import t from 'tap';
import { datagramOf, encodeFrame, messageOf, passThroughFrame, sanitizeField, severityOf } from '../../../logshuttle/drains/rfc5424.js';
import type { LogRecord } from '../../../shared/log-record.js';
import { parseSyslog, splitOctetCounted } from './receivers.js';

const base: LogRecord = { app: 'api-prod', source: 'app', process: 'web.1', stream: 'stdout', time: Date.UTC(2026, 10, 25, 10, 0, 0, 123), message: 'hi' };

t.test('exact bytes of a frame', async (t) => {
  t.equal(encodeFrame(base).toString('utf8'), '56 <14>1 2026-11-25T10:00:00.123Z api-prod app web.1 - - hi');
  t.equal(encodeFrame({ ...base, source: 'router', process: 'x', message: 'at=error code=H10' }).toString('utf8'),
    '76 <11>1 2026-11-25T10:00:00.123Z api-prod akkeris router - - at=error code=H10');
  t.equal(encodeFrame({ ...base, message: 'é' }).toString('utf8'), '56 <14>1 2026-11-25T10:00:00.123Z api-prod app web.1 - - é', 'length in bytes, not characters');
});

t.test('severity: err for stderr and router at=error, info otherwise', async (t) => {
  t.equal(severityOf(base), 6);
  t.equal(severityOf({ ...base, stream: 'stderr' }), 3);
  t.equal(severityOf({ ...base, source: 'router', message: 'at=error code=H12' }), 3);
  t.equal(severityOf({ ...base, source: 'router', message: 'at=info status=500' }), 6);
  t.equal(severityOf({ ...base, source: 'app', message: 'at=error from an app on stdout' }), 6);
});

t.test('field sanitising', async (t) => {
  t.equal(sanitizeField('', 10), '-');
  t.equal(sanitizeField('a b\tc', 10), 'a_b_c');
  t.equal(sanitizeField('x'.repeat(300), 255).length, 255);
  t.equal(sanitizeField('ünï', 48), '_n_');
  const long = parseSyslog(messageOf(encodeFrame({ ...base, app: 'h'.repeat(400), process: 'p'.repeat(400) })).toString());
  t.equal(long.hostname.length, 255);
  t.equal(long.procid.length, 128);
});

t.test('property: any record encodes to one frame whose count is its byte length and whose fields parse back', async (t) => {
  fc.assert(fc.property(
    fc.record({
      app: fc.string({ minLength: 1, maxLength: 300 }),
      source: fc.constantFrom('app', 'router', 'build', 'platform'),
      process: fc.string({ maxLength: 200 }),
      stream: fc.constantFrom('stdout', 'stderr'),
      time: fc.integer({ min: 0, max: 4102444800000 }),
      message: fc.string({ unit: 'grapheme', maxLength: 400 }),
    }),
    (rec) => {
      const frame = encodeFrame(rec as LogRecord);
      const { messages, rest } = splitOctetCounted(frame);
      if (messages.length !== 1 || rest.length !== 0) return false;
      const s = parseSyslog(messages[0].toString('utf8'));
      return s.msg === rec.message && /^[\x21-\x7e]{1,255}$/.test(s.hostname) && /^[\x21-\x7e]{1,128}$/.test(s.procid)
        && s.timestamp === new Date(rec.time).toISOString() && (s.appName === 'app') === (rec.source === 'app');
    },
  ), { numRuns: 500 });
  t.pass('500 random records');
});

t.test('property: UDP datagrams are ≤ max bytes, valid UTF-8, a prefix of the message', async (t) => {
  fc.assert(fc.property(fc.string({ unit: 'grapheme', minLength: 0, maxLength: 1200 }), fc.integer({ min: 64, max: 2048 }), (message, max) => {
    const frame = encodeFrame({ ...base, message });
    const full = messageOf(frame);
    const { datagram, truncated } = datagramOf(frame, max);
    const text = datagram.toString('utf8');
    return datagram.length <= max && Buffer.byteLength(text) === datagram.length && full.subarray(0, datagram.length).equals(datagram)
      && truncated === (full.length > max) && (truncated ? datagram.length > max - 4 : datagram.length === full.length);
  }), { numRuns: 500 });
  t.pass('500 random messages');
});

t.test('frames stay intact while later frames are encoded (slab carving never overwrites)', async (t) => {
  const frames: Array<[Buffer, string]> = [];
  for (let i = 0; i < 5000; i++) {
    const message = `${i} ` + '✓é'.repeat(i % 700) + 'x'.repeat(i % 13);
    frames.push([encodeFrame({ ...base, message, time: base.time + i }), message]);
  }
  let bad = 0;
  for (const [frame, message] of frames) {
    const { messages, rest } = splitOctetCounted(frame);
    if (messages.length !== 1 || rest.length !== 0 || parseSyslog(messages[0].toString('utf8')).msg !== message) bad++;
  }
  t.equal(bad, 0, '5000 frames of 0-4 KiB all parse back to their message');
});

t.test('pass-through: a canonical message is forwarded byte for byte; anything else is refused', async (t) => {
  const raw = (s: string) => Buffer.from(s, 'utf8');
  const rec = { ...base, message: 'héllo ✓' };
  const canonical = '<14>1 2026-11-25T10:00:00.123Z api-prod app web.1 - - héllo ✓';
  t.same(passThroughFrame(rec, raw(canonical)), encodeFrame(rec), 'same bytes as encoding');
  t.equal(passThroughFrame(rec, raw(canonical))!.toString(), `${Buffer.byteLength(canonical)} ${canonical}`);
  const refused = [
    '<13>1 2026-11-25T10:00:00.123Z api-prod app web.1 - - héllo ✓', // other PRI
    '<14>1 2026-11-25T10:00:00.123+00:00 api-prod app web.1 - - héllo ✓', // other time form
    '<14>1 2026-11-25T10:00:00.123Z api-prod app web.1 ID47 - héllo ✓', // MSGID
    '<14>1 2026-11-25T10:00:00.123Z api-prod app web.1 - [x@1 a="b"] héllo ✓', // SD
    '<14>1 2026-11-25T10:00:00.123Z api-prod app web.1 - - héllo ✓\n', // trailing LF
    '<14>1 2026-11-25T10:00:00.123Z api-prod app web.1 - - \ufeffhéllo ✓', // BOM
    '<14>1 2026-11-25T10:00:00.123Z api-prod router web.1 - - héllo ✓', // APP-NAME
  ];
  for (const r of refused) t.equal(passThroughFrame(rec, raw(r)), null, r.slice(0, 60));
  const router = { ...base, source: 'router' as const, process: 'router', message: 'at=error code=H10' };
  t.equal(passThroughFrame(router, raw('<14>1 2026-11-25T10:00:00.123Z api-prod akkeris router - - at=error code=H10')), null, 'router error needs PRI 11');
  t.ok(passThroughFrame(router, raw('<11>1 2026-11-25T10:00:00.123Z api-prod akkeris router - - at=error code=H10')));
});

t.test('property: pass-through of an encoded message gives the encoded frame', async (t) => {
  fc.assert(fc.property(
    fc.record({
      app: fc.string({ minLength: 1, maxLength: 40 }),
      source: fc.constantFrom('app', 'router', 'build', 'platform'),
      process: fc.string({ maxLength: 20 }),
      stream: fc.constantFrom('stdout', 'stderr'),
      time: fc.integer({ min: 0, max: 4102444800000 }),
      message: fc.string({ unit: 'grapheme', maxLength: 2000 }),
    }),
    (rec) => {
      const frame = encodeFrame(rec as LogRecord);
      const msg = messageOf(frame);
      const through = passThroughFrame(rec as LogRecord, Buffer.from(msg));
      const stripped = msg.length > 0 && (msg[msg.length - 1] === 0x0a || rec.message.startsWith('\ufeff'));
      return stripped ? through === null : through !== null && through.equals(frame);
    },
  ), { numRuns: 500 });
  t.pass('500 random records');
});
