import t from 'tap';
import fc from 'fast-check';
import { AppRing } from '../../../logshuttle/buffer/app-ring.js';
import { AppRings } from '../../../logshuttle/buffer/app-rings.js';
import { readCanonicalFrame } from '../../../logshuttle/ingest/canonical-frame.js';
import { parseSyslogMessage } from '../../../logshuttle/ingest/syslog-message.js';
import { formatTailLine } from '../../../logshuttle/tail/format-line.js';
import type { LogRecord } from '../../../shared/log-record.js';

// The ring keeps syslog frames as received (`LEN SP MSG`, a run of them with one copy) and the
// tail lines of other records as formatted; whatever the mix, capacity, wrapping and resizing,
// a reader gets exactly the tail lines the general path (parseSyslogMessage + formatTailLine)
// gives for the same input, the newest `capacity` of them, and every line pushed out counted.

const T0 = Date.UTC(2026, 10, 25, 10, 0, 0, 0);

interface Canon { app: string; kind: 'app' | 'router' | 'build' | 'platform'; proc: string; ms: number; msg: string }

/** the message from PRI on, in the drains' own form (what the fast path stores) */
function canonicalMessage(c: Canon): Buffer {
  const ts = new Date(T0 + c.ms).toISOString();
  const head = c.kind === 'app' ? `<14>1 ${ts} ${c.app} app ${c.proc} - - ` : `<14>1 ${ts} ${c.app} akkeris ${c.kind} - - `;
  return Buffer.from(head + c.msg, 'utf8');
}

/** the tail line the general path makes of that message */
function generalTailLine(msg: Buffer): string {
  const r = parseSyslogMessage(msg, 0, msg.length, 0);
  if (typeof r === 'string') throw new Error(`not a message: ${r}`);
  return formatTailLine(r);
}

const canon: fc.Arbitrary<Canon> = fc.record({
  app: fc.constantFrom('api-prod', 'w', 'a'.repeat(60)),
  kind: fc.constantFrom('app', 'app', 'app', 'router', 'build', 'platform'),
  proc: fc.constantFrom('web.1', 'worker.12', 'run.1562910588-cg82f'),
  ms: fc.nat(86_400_000),
  msg: fc.oneof(
    fc.string({ maxLength: 40 }).map((s) => s.replace(/[\r\n]/g, '.').replace(/^\ufeff/, '')),
    fc.constantFrom('é ✓ ☃ 𝄞', 'at=info status=200', ''),
    fc.integer({ min: 200, max: 2000 }).map((n) => 'x'.repeat(n)),
  ),
});

const record: fc.Arbitrary<LogRecord> = fc.record({
  app: fc.constantFrom('api-prod', 'w'),
  source: fc.constantFrom('app' as const, 'router' as const, 'build' as const, 'platform' as const),
  process: fc.constantFrom('web.1', 'x\ny', ''),
  stream: fc.constantFrom('stdout' as const, 'stderr' as const),
  time: fc.integer({ min: T0, max: T0 + 86_400_000 }),
  message: fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('a\nb\r\nc', '☃')),
});

type Op =
  | { op: 'run'; frames: Canon[]; pad: number }
  | { op: 'frame'; frame: Canon }
  | { op: 'line'; record: LogRecord };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('run' as const), frames: fc.array(canon, { minLength: 1, maxLength: 30 }), pad: fc.nat(5) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('frame' as const), frame: canon }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('line' as const), record }) },
);

t.test('frames and tail lines mixed: readers get the general path\'s tail lines, newest `capacity` (model check)', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 40 }), fc.array(op, { maxLength: 60 }), fc.integer({ min: 0, max: 60 }), (capacity, ops, n) => {
      const ring = new AppRing(capacity);
      const model: { tail: string; stored: number }[] = [];
      let pushed = 0;
      for (const o of ops) {
        if (o.op === 'run') {
          // frames with their octet counts, back to back, between other bytes of the chunk
          const msgs = o.frames.map(canonicalMessage);
          for (const m of msgs) if (readCanonicalFrame(m, 0, m.length) === null) throw new Error(`not canonical: ${m.toString()}`);
          const frames = msgs.map((m) => Buffer.concat([Buffer.from(`${m.length} `), m]));
          const chunk = Buffer.concat([Buffer.from('9'.repeat(o.pad)), ...frames, Buffer.from('7 <1>1 x')]);
          ring.pushFrames(chunk, o.pad, o.pad + frames.reduce((s, f) => s + f.length, 0), frames.length);
          for (let i = 0; i < msgs.length; i++) model.push({ tail: generalTailLine(msgs[i]), stored: frames[i].length });
          pushed += frames.length;
        } else if (o.op === 'frame') {
          const m = canonicalMessage(o.frame);
          const chunk = Buffer.concat([Buffer.from('12 '), m, Buffer.from('junk')]);
          ring.pushFrame(chunk, 3, 3 + m.length);
          model.push({ tail: generalTailLine(m), stored: String(m.length).length + 1 + m.length });
          pushed++;
        } else {
          const line = formatTailLine(o.record);
          ring.push(line);
          model.push({ tail: line, stored: Buffer.byteLength(line) });
          pushed++;
        }
        while (model.length > capacity) model.shift();
        if (ring.length !== model.length) throw new Error(`length ${ring.length}, want ${model.length}`);
      }
      const want = model.slice(Math.max(0, model.length - n)).map((m) => m.tail);
      const got = ring.newestLines(n);
      if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`lines differ:\n got ${JSON.stringify(got)}\nwant ${JSON.stringify(want)}`);
      if (ring.newest(n).toString('utf8') !== want.join('')) throw new Error('newest() differs from newestLines()');
      const all = model.map((m) => m.tail);
      if (JSON.stringify(ring.newestLines(capacity)) !== JSON.stringify(all)) throw new Error('whole ring differs');
      const held = model.reduce((s, m) => s + m.stored, 0);
      if (ring.bytesHeld !== held) throw new Error(`bytesHeld ${ring.bytesHeld}, want ${held}`);
      if (ring.evicted !== pushed - model.length) throw new Error(`evicted ${ring.evicted}, want ${pushed - model.length}`);
      return true;
    }),
    { numRuns: 400, seed: 20261207 },
  );
  t.pass('model check held');
});

t.test('a run longer than the ring keeps its newest `capacity` frames and counts the rest', async (t) => {
  const ring = new AppRing(3);
  ring.push('2026-11-25T10:00:00.000Z api-prod app[web.1]: before\n');
  const msgs = Array.from({ length: 7 }, (_, i) => canonicalMessage({ app: 'api-prod', kind: 'app', proc: 'web.1', ms: i, msg: `line ${i}` }));
  const chunk = Buffer.concat(msgs.map((m) => Buffer.concat([Buffer.from(`${m.length} `), m])));
  ring.pushFrames(chunk, 0, chunk.length, 7);
  t.equal(ring.length, 3);
  t.equal(ring.evicted, 5, 'the line before and the run\'s 4 oldest');
  t.same(ring.newestLines(10), [4, 5, 6].map((i) => `2026-11-25T10:00:00.00${i}Z api-prod app[web.1]: line ${i}\n`));
  t.equal(ring.newest(2).toString(), [5, 6].map((i) => `2026-11-25T10:00:00.00${i}Z api-prod app[web.1]: line ${i}\n`).join(''));
});

t.test('a full ring of frames: storage within 1.12x of the bytes held, tail lines ~10% shorter than frames', async (t) => {
  const ring = new AppRing(1500);
  let frameBytes = 0;
  for (let r = 0; r < 200; r++) {
    const msgs = Array.from({ length: 20 }, (_, i) => canonicalMessage({ app: `app-${r % 7}`, kind: 'app', proc: 'web.1', ms: r * 20 + i, msg: 'm'.repeat(40 + ((r + i) % 30)) }));
    const chunk = Buffer.concat(msgs.map((m) => Buffer.concat([Buffer.from(`${m.length} `), m])));
    ring.pushFrames(chunk, 0, chunk.length, msgs.length);
    frameBytes = chunk.length;
  }
  t.ok(frameBytes > 0);
  t.equal(ring.length, 1500);
  t.equal(ring.evicted, 4000 - 1500);
  t.ok(ring.bytesAllocated <= ring.bytesHeld * 1.12, `allocated ${ring.bytesAllocated} for ${ring.bytesHeld} held`);
  const tailBytes = ring.newest(1500).length;
  t.ok(tailBytes < ring.bytesHeld, `tail lines ${tailBytes} bytes, frames held ${ring.bytesHeld}`);
});

t.test('AppRings: frames count towards maxApps, maxBytes and evicted lines like tail lines', async (t) => {
  const m = canonicalMessage({ app: 'a', kind: 'router', proc: 'router', ms: 1, msg: 'at=info' });
  const frame = Buffer.concat([Buffer.from(`${m.length} `), m]);
  const two = Buffer.concat([frame, frame]);
  const rings = new AppRings({ history: 10, idleMs: 1e9, maxApps: 2 });
  rings.appendFrames('a', two, 0, two.length, 2, 0);
  const mb = canonicalMessage({ app: 'b', kind: 'router', proc: 'router', ms: 2, msg: 'at=info' });
  rings.appendFrame('b', mb, 0, mb.length, 0);
  rings.append('b', 'x\n', 0);
  rings.appendFrames('c', frame, 0, frame.length, 1, 0);
  t.equal(rings.get('a'), undefined, 'a was the least recently written');
  t.same(rings.evictedApps, { idle: 0, max_apps: 1, max_bytes: 0 });
  t.equal(rings.evictedLines, 2);
  t.same(rings.get('b')!.newestLines(5), ['2026-11-25T10:00:00.002Z b akkeris/router: at=info\n', 'x\n']);
  t.same(rings.totals(), { lines: 3, bytesHeld: String(mb.length).length + 1 + mb.length + 2 + frame.length, bytesAllocated: rings.get('b')!.bytesAllocated + rings.get('c')!.bytesAllocated });
  const byBytes = new AppRings({ history: 100, idleMs: 1e9, maxBytes: 5000 });
  for (let i = 0; i < 50; i++) byBytes.appendFrames(`app-${i % 10}`, two, 0, two.length, 2, 0);
  t.ok(byBytes.bytesAllocated <= 5000, `${byBytes.bytesAllocated} bytes`);
  t.ok(byBytes.get('app-9'), 'the app just written is kept');
  t.equal(byBytes.bytesAllocated, [...Array(10).keys()].reduce((s, i) => s + (byBytes.get(`app-${i}`)?.bytesAllocated ?? 0), 0), 'running total = sum of the rings');
});
