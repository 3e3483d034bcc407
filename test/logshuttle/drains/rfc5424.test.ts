import fc from 'fast-check';
import t from 'tap';
import { datagramOf, encodeFrame, messageOf, sanitizeField, severityOf } from '../../../logshuttle/drains/rfc5424.js';
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
