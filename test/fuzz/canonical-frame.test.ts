import t, { type Test } from 'tap';
import fc from 'fast-check';
import { readCanonicalFrame } from '../../logshuttle/ingest/canonical-frame.js';
import { parseSyslogMessage } from '../../logshuttle/ingest/syslog-message.js';
import { ShuttleCore } from '../../logshuttle/shuttle-core.js';
import { encodeFrame, octetFrame, passThroughFrame } from '../../logshuttle/drains/rfc5424.js';
import type { DrainInfo, DrainSet } from '../../logshuttle/drains/types.js';
import type { LogRecord } from '../../shared/log-record.js';
import { fuzz } from './fuzz-params.js';

// The syslog ingest's fast path (readCanonicalFrame + ShuttleCore.acceptCanonical) against the
// general path (parseSyslogMessage + ShuttleCore.accept) on the same frames: the same ring
// lines, tail lines, drain frames and counts, or the fast path declines (null). Frames in the
// drains' own form must take the fast path (else the benchmark's gain is not what runs).

/** A drain set that records the frames, made by the drains' own encoders. */
class RecordingDrains implements DrainSet {
  frames: string[] = [];
  deliver(record: LogRecord): void {
    this.frames.push(encodeFrame(record).toString('latin1'));
  }
  deliverRaw(record: LogRecord, raw: Buffer): void {
    this.frames.push((passThroughFrame(record, raw) ?? encodeFrame(record)).toString('latin1'));
  }
  deliverCanonical(_app: string, buf: Buffer, from: number, to: number): void {
    this.frames.push(octetFrame(buf, from, to).toString('latin1'));
  }
  add(): DrainInfo {
    throw new Error('not here');
  }
  list(): DrainInfo[] {
    return [];
  }
  remove(): boolean {
    return false;
  }
  async close(): Promise<void> {}
}

interface Outcome { fast: boolean; lines: string[]; tail: string[]; frames: string[]; counts: string; bad: string | null }

function through(frame: Buffer, fastPath: boolean): Outcome {
  const core = new ShuttleCore({ history: 10 });
  const drains = new RecordingDrains();
  core.setDrains(drains);
  const tail: string[] = [];
  // a tail on every app the frame could name: hub.publish is what a tail's stream receives
  const publish = core.tails.publish.bind(core.tails);
  core.tails.hasTails = () => true;
  core.tails.publish = (_app: string, line: string, now: number) => {
    tail.push(line);
    publish(_app, line, now);
  };
  let fast = false;
  let bad: string | null = null;
  const view = fastPath ? readCanonicalFrame(frame, 0, frame.length) : null;
  if (view !== null) {
    fast = true;
    core.acceptCanonical(view, 'syslog_tcp', frame);
  } else {
    const r = parseSyslogMessage(frame, 0, frame.length, 1764064800000);
    if (typeof r === 'string') bad = r;
    else core.accept(r, 'syslog_tcp', frame);
  }
  const lines: string[] = [];
  for (const app of [view?.app, typeof bad === 'string' ? undefined : parseApp(frame)]) {
    if (app !== undefined && core.rings.get(app)) lines.push(...core.rings.get(app)!.newestLines(10));
  }
  return { fast, lines: [...new Set(lines)], tail, frames: drains.frames, counts: JSON.stringify(core.linesInEntries()), bad };
}

function parseApp(frame: Buffer): string | undefined {
  const r = parseSyslogMessage(frame, 0, frame.length, 1764064800000);
  return typeof r === 'string' ? undefined : r.app;
}

function same(t: Test, frame: Buffer, label: string): Outcome {
  const a = through(frame, true);
  const b = through(frame, false);
  t.same({ ...a, fast: undefined }, { ...b, fast: undefined }, label);
  return a;
}

const canonical = (head: string, msg: string | Buffer): Buffer => Buffer.concat([Buffer.from(head), Buffer.isBuffer(msg) ? msg : Buffer.from(msg)]);

t.test('frames in the drains\' own form take the fast path with the same result', async (t) => {
  const cases: [string, Buffer][] = [
    ['app line', canonical('<14>1 2026-11-25T10:00:00.123Z api-prod app web.1 - - ', 'GET /x 200')],
    ['stderr line', canonical('<11>1 2026-11-25T10:00:00.123Z api-prod app worker.2 - - ', 'boom')],
    ['router line', canonical('<14>1 2026-11-25T10:00:00.124Z api-prod akkeris router - - ', 'at=info method=GET path=/ status=200')],
    ['router error line', canonical('<11>1 2026-11-25T10:00:00.124Z api-prod akkeris router - - ', 'at=error code=H10 desc="App crashed"')],
    ['build line', canonical('<14>1 2026-11-25T10:00:00.125Z api-prod akkeris build - - ', 'Step 1/3')],
    ['platform line', canonical('<14>1 2026-11-25T10:00:00.125Z api-prod akkeris platform - - ', 'Scaled to web@2')],
    ['empty message', canonical('<14>1 2026-11-25T10:00:00.126Z api-prod app web.1 - - ', '')],
    ['UTF-8 message', canonical('<14>1 2026-11-25T10:00:00.126Z api-prod app web.1 - - ', 'José 🚀 naïve')],
    ['a second app', canonical('<14>1 2026-11-25T10:00:00.126Z other-app app run.7 - - ', 'hello')],
    ['10,000 bytes', canonical('<14>1 2026-11-25T10:00:00.127Z api-prod app web.1 - - ', 'y'.repeat(10_000))],
  ];
  for (const [label, frame] of cases) {
    const r = same(t, frame, label);
    t.ok(r.fast, `${label}: fast path`);
    t.equal(r.frames.length, 1, `${label}: one drain frame`);
    t.equal(r.frames[0], `${frame.length} ${frame.toString('latin1')}`, `${label}: passed through as received`);
  }
});

t.test('anything else declines the fast path and the general path decides', async (t) => {
  const cases: [string, Buffer][] = [
    ['PRI 13', canonical('<13>1 2026-11-25T10:00:00.123Z api-prod app web.1 - - ', 'x')],
    ['router error with PRI 14', canonical('<14>1 2026-11-25T10:00:00.123Z api-prod akkeris router - - ', 'at=error code=H12')],
    ['no milliseconds', canonical('<14>1 2026-11-25T10:00:00Z api-prod app web.1 - - ', 'x')],
    ['microseconds', canonical('<14>1 2026-11-25T10:00:00.123456Z api-prod app web.1 - - ', 'x')],
    ['offset', canonical('<14>1 2026-11-25T10:00:00.123+01:00 api-prod app web.1 - - ', 'x')],
    ['February 30', canonical('<14>1 2026-02-30T10:00:00.123Z api-prod app web.1 - - ', 'x')],
    ['month 13', canonical('<14>1 2026-13-01T10:00:00.123Z api-prod app web.1 - - ', 'x')],
    ['nil timestamp', canonical('<14>1 - api-prod app web.1 - - ', 'x')],
    ['nil app', canonical('<14>1 2026-11-25T10:00:00.123Z - app web.1 - - ', 'x')],
    ['slash in app', canonical('<14>1 2026-11-25T10:00:00.123Z a/b app web.1 - - ', 'x')],
    ['non-ASCII app', canonical('<14>1 2026-11-25T10:00:00.123Z héllo app web.1 - - ', 'x')],
    ['nil process', canonical('<14>1 2026-11-25T10:00:00.123Z api-prod app - - - ', 'x')],
    ['other APP-NAME', canonical('<14>1 2026-11-25T10:00:00.123Z api-prod web web.1 - - ', 'x')],
    ['bare router APP-NAME', canonical('<14>1 2026-11-25T10:00:00.123Z api-prod router - - - ', 'x')],
    ['akkeris app', canonical('<14>1 2026-11-25T10:00:00.123Z api-prod akkeris app - - ', 'x')],
    ['MSGID', canonical('<14>1 2026-11-25T10:00:00.123Z api-prod app web.1 ID47 - ', 'x')],
    ['structured data', canonical('<14>1 2026-11-25T10:00:00.123Z api-prod app web.1 - [a b="c"] ', 'x')],
    ['no SD (logplex)', canonical('<14>1 2026-11-25T10:00:00.123Z api-prod app web.1 - ', 'x')],
    ['trailing LF', canonical('<14>1 2026-11-25T10:00:00.123Z api-prod app web.1 - - ', 'x\n')],
    ['CR inside', canonical('<14>1 2026-11-25T10:00:00.123Z api-prod app web.1 - - ', 'a\rb')],
    ['LF inside', canonical('<14>1 2026-11-25T10:00:00.123Z api-prod app web.1 - - ', 'a\nb')],
    ['BOM', canonical('<14>1 2026-11-25T10:00:00.123Z api-prod app web.1 - - ', Buffer.from([0xef, 0xbb, 0xbf, 0x78]))],
    ['bad UTF-8', canonical('<14>1 2026-11-25T10:00:00.123Z api-prod app web.1 - - ', Buffer.from([0x61, 0xff, 0x62]))],
    ['10,001 bytes (split)', canonical('<14>1 2026-11-25T10:00:00.123Z api-prod app web.1 - - ', 'y'.repeat(10_001))],
    ['version 2', canonical('<14>2 2026-11-25T10:00:00.123Z api-prod app web.1 - - ', 'x')],
    ['truncated', Buffer.from('<14>1 2026-11-25T10:00:00.123Z api-prod app')],
  ];
  for (const [label, frame] of cases) {
    const r = same(t, frame, label);
    t.notOk(r.fast, `${label}: general path`);
  }
});

t.test('generated frames: the fast path, when it takes one, gives what the general path gives', async (t) => {
  const pick = <T>(...xs: T[]): fc.Arbitrary<T> => fc.constantFrom(...xs);
  const frame = fc.record({
    pri: pick('<14>', '<11>', '<13>', '<3>', '<191>', '<014>'),
    version: pick('1', '2'),
    ts: fc.oneof(
      fc.date({ min: new Date(0), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true }).map((d) => d.toISOString()),
      pick('-', '2026-11-25T10:00:00Z', '2026-02-29T10:00:00.000Z', '2024-02-29T10:00:00.000Z', '2026-11-25T10:00:00.1234Z', '2026-11-25T24:00:00.000Z'),
    ),
    host: pick('api-prod', 'a', '-', 'a/b', 'Ω', 'x'.repeat(255), 'x'.repeat(256), 'constructor'),
    appName: pick('app', 'akkeris', 'router', 'web', '-'),
    proc: pick('web.1', '-', 'router', 'build', 'platform', 'app', 'x'.repeat(128), 'x'.repeat(129), 'ü'),
    msgid: pick('-', 'ID1'),
    sd: pick('-', '[a b="c"]', ''),
    msg: fc.oneof(
      fc.string({ maxLength: 40 }).map((s) => Buffer.from(s)),
      fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
      pick('at=error code=H10', 'at=info', 'line\n', 'a\r\nb', '\ufeffbom', '').map((s) => Buffer.from(s)),
    ),
  }).map((f) => Buffer.concat([Buffer.from(`${f.pri}${f.version} ${f.ts} ${f.host} ${f.appName} ${f.proc} ${f.msgid} ${f.sd === '' ? '' : `${f.sd} `}`), f.msg]));
  let fastSeen = 0;
  await fuzz(t, 'fast path = general path', fc.property(frame, (f) => {
    const a = through(f, true);
    const b = through(f, false);
    if (a.fast) fastSeen++;
    const ja = JSON.stringify({ ...a, fast: undefined });
    const jb = JSON.stringify({ ...b, fast: undefined });
    if (ja !== jb) throw new Error(`differs for ${JSON.stringify(f.toString('latin1'))}:\nfast    ${ja}\ngeneral ${jb}`);
  }), 3000);
  t.ok(fastSeen > 0, `the fast path was taken (${fastSeen} frames)`);
});
