import t from 'tap';
import fc from 'fast-check';
import { pino } from 'pino';
import { ShuttleCore } from '../../logshuttle/shuttle-core.js';
import { BadInput } from '../../logshuttle/ingest/bad-input.js';
import { SyslogFramer } from '../../logshuttle/ingest/syslog-framer.js';
import { syslogFrameHandler } from '../../logshuttle/ingest/syslog-tcp.js';
import { parseSyslogMessage } from '../../logshuttle/ingest/syslog-message.js';
import { encodeFrame, octetFrame, passThroughFrame } from '../../logshuttle/drains/rfc5424.js';
import type { DrainInfo, DrainSet } from '../../logshuttle/drains/types.js';
import type { LogRecord } from '../../shared/log-record.js';
import { fuzz } from './fuzz-params.js';

// The syslog TCP ingest hands a run of canonical frames of one app, back to back in a received
// chunk, to the drains at once (DrainSet.deliverCanonicalRun). Whatever the stream (apps
// interleaved, frames the fast path declines, counts with leading zeros, LF framing, garbage)
// and however it is cut into chunks, each app's drains get the same bytes in the same order,
// and the rings the same lines (written in place, wrapping round the ring's store), as the
// general path gives every line parsed into a record, one by one.

class RecordingDrains implements DrainSet {
  byApp = new Map<string, string[]>();
  runs = 0;
  longestRun = 0;
  private put(app: string, frames: string): void {
    const l = this.byApp.get(app);
    if (l) l.push(frames);
    else this.byApp.set(app, [frames]);
  }
  deliver(record: LogRecord): void {
    this.put(record.app, encodeFrame(record).toString('latin1'));
  }
  deliverRaw(record: LogRecord, raw: Buffer): void {
    this.put(record.app, (passThroughFrame(record, raw) ?? encodeFrame(record)).toString('latin1'));
  }
  deliverCanonical(app: string, buf: Buffer, from: number, to: number): void {
    this.put(app, octetFrame(buf, from, to).toString('latin1'));
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

class RunDrains extends RecordingDrains {
  deliverCanonicalRun(app: string, buf: Buffer, from: number, to: number, lines: number): void {
    this.runs++;
    this.longestRun = Math.max(this.longestRun, lines);
    const text = buf.toString('latin1', from, to);
    // one entry per line, so the two recordings compare frame by frame
    let at = 0;
    for (let k = 0; k < lines; k++) {
      const sp = text.indexOf(' ', at);
      const end = sp + 1 + Number(text.slice(at, sp));
      (this as RecordingDrains).deliverCanonical.call(this, app, Buffer.from(text.slice(sp + 1, end), 'latin1'), 0, end - sp - 1);
      at = end;
    }
    if (at !== text.length) throw new Error(`run of ${lines} lines has ${text.length - at} bytes more`);
  }
}

/** `general`: every frame parsed into a record (parseSyslogMessage, ShuttleCore.accept), no fast path */
function through(stream: Buffer, cuts: number[], general: boolean): { drains: RecordingDrains; rings: string[]; bad: string } {
  const core = new ShuttleCore({ history: 6 });
  const drains = general ? new RecordingDrains() : new RunDrains();
  core.setDrains(drains);
  const logger = pino({ level: 'silent' });
  const bad = new BadInput(logger);
  const handler = general ? {
    frame(buf: Buffer, start: number, end: number) {
      const r = parseSyslogMessage(buf, start, end, Date.now());
      if (typeof r === 'string') bad.report('syslog_tcp', r);
      else core.accept(r, 'syslog_tcp', buf.subarray(start, end));
    },
    bad(reason: string) {
      bad.report('syslog_tcp', reason);
    },
  } : syslogFrameHandler({ core, bad, logger });
  const framer = new SyslogFramer(handler);
  let at = 0;
  for (const c of [...cuts.filter((x) => x > 0 && x < stream.length)].sort((a, b) => a - b)) {
    framer.push(Buffer.from(stream.subarray(at, c)));
    at = c;
  }
  framer.push(Buffer.from(stream.subarray(at)));
  framer.end();
  const rings: string[] = [];
  for (const app of APPS) rings.push(...(core.rings.get(app)?.newestLines(6) ?? []));
  return { drains, rings, bad: JSON.stringify(bad.entries()) };
}

const APPS = ['api-prod', 'worker', 'z'];
const head = (app: string, ms: number, pri = '<14>'): string =>
  `${pri}1 2026-11-25T10:00:00.${String(ms).padStart(3, '0')}Z ${app} app web.1 - - `;

const item = fc.oneof(
  { weight: 8, arbitrary: fc.record({ app: fc.constantFrom(...APPS), ms: fc.nat(999), msg: fc.string({ maxLength: 30 }) })
    .map(({ app, ms, msg }) => { const m = head(app, ms) + msg.replace(/[\r\n]/g, '.'); return `${Buffer.byteLength(m)} ${m}`; }) },
  { weight: 1, arbitrary: fc.constantFrom(...APPS).map((app) => { const m = `${head(app, 5)}leading zero`; return `0${Buffer.byteLength(m)} ${m}`; }) },
  { weight: 1, arbitrary: fc.constantFrom(...APPS).map((app) => { const m = `${head(app, 6, '<13>')}declined`; return `${Buffer.byteLength(m)} ${m}`; }) },
  { weight: 1, arbitrary: fc.constantFrom(...APPS).map((app) => `${head(app, 7)}lf framed\n`) },
  { weight: 1, arbitrary: fc.constantFrom('garbage\n', '\n', ' ', '7 <1>1 x', '99999999 x\n') },
  // messages the fast path must look at: CR or LF inside, UTF-8, invalid UTF-8, a BOM
  { weight: 1, arbitrary: fc.record({ app: fc.constantFrom(...APPS), msg: fc.constantFrom('a\nb', 'a\rb', 'é ✓', '\ufeffbom', '\xff') })
    .map(({ app, msg }) => {
      const m = Buffer.concat([Buffer.from(head(app, 8)), msg === '\xff' ? Buffer.from([0x61, 0xff, 0x62]) : Buffer.from(msg)]);
      return Buffer.concat([Buffer.from(`${m.length} `), m]);
    }) },
);

t.test('a run of frames goes to the drains as the same bytes as line by line', async (t) => {
  let runsSeen = 0;
  await fuzz(t, 'runs = lines', fc.property(fc.array(item, { maxLength: 60 }), fc.array(fc.nat(4000), { maxLength: 8 }), (items, cuts) => {
    const stream = Buffer.concat(items.map((x) => (typeof x === 'string' ? Buffer.from(x) : x)));
    const a = through(stream, cuts, false);
    const b = through(stream, [], true);
    const ja = JSON.stringify({ drains: [...a.drains.byApp].sort(), rings: a.rings, bad: a.bad });
    const jb = JSON.stringify({ drains: [...b.drains.byApp].sort(), rings: b.rings, bad: b.bad });
    if (ja !== jb) throw new Error(`differs:\nruns    ${ja}\ngeneral ${jb}`);
    if (a.drains.longestRun > 1) runsSeen++;
  }), 1500);
  t.ok(runsSeen > 0, `runs of several lines were handed over (${runsSeen} streams)`);
});

t.test('one app\'s frames in one chunk are one run', async (t) => {
  const frames = Array.from({ length: 50 }, (_, i) => { const m = `${head('api-prod', i)}line ${i}`; return `${Buffer.byteLength(m)} ${m}`; });
  const a = through(Buffer.from(frames.join('')), [], false);
  t.equal(a.drains.runs, 1);
  t.equal(a.drains.longestRun, 50);
  t.same(a.drains.byApp.get('api-prod'), frames, 'the frames as received');
});
