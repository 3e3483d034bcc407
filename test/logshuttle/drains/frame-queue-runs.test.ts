// A drain queue holding runs of frames in blocks (appendFrame / appendFrames) against a model
// holding one frame per line: whatever mix of appended runs, single frames, takes under line
// and byte limits, requeues and overflows, the queue gives the same lines in the same batches,
// the same L10 counts and the same sizes as the line-by-line queue it replaces.
import t from 'tap';
import fc from 'fast-check';
import { FrameQueue, frameEnd, type FrameBatch } from '../../../logshuttle/drains/frame-queue.js';
import { fuzz } from '../../fuzz/fuzz-params.js';

const framed = (msg: string): string => `${Buffer.byteLength(msg, 'latin1')} ${msg}`;
const l10 = (count: number): Buffer => Buffer.from(framed(`L10 ${count}`), 'latin1');

/** the frames of a batch, chunk by chunk split on their octet counts */
function framesOf(batch: FrameBatch): string[] {
  const out: string[] = [];
  batch.frames.forEach((chunk, i) => {
    const expect = i === 0 && batch.l10 ? 1 : batch.counts ? batch.counts[i] : 1;
    let n = 0;
    for (let at = 0; at < chunk.length; n++) {
      const next = frameEnd(chunk, at);
      out.push(chunk.toString('latin1', at, next));
      at = next;
    }
    if (n !== expect) throw new Error(`chunk ${i} holds ${n} frames, counted ${expect}`);
  });
  return out;
}

/** The queue as it was: one frame per line. */
class LineModel {
  lines: string[] = [];
  unreported = 0;
  dropped = 0;
  constructor(readonly cap: number) {}
  add(frames: string[]): void {
    for (const f of frames) {
      if (this.lines.length === this.cap) {
        this.lines.shift();
        this.unreported++;
        this.dropped++;
      }
      this.lines.push(f);
    }
  }
  take(maxLines: number, maxBytes: number): { l10: number; lines: string[] } | null {
    if (this.lines.length === 0 && this.unreported === 0) return null;
    const l10n = this.unreported;
    this.unreported = 0;
    let bytes = l10n > 0 ? l10(l10n).length : 0;
    const lines: string[] = [];
    while (this.lines.length > 0 && lines.length < maxLines) {
      const f = this.lines[0];
      if (lines.length > 0 && bytes + f.length > maxBytes) break;
      lines.push(this.lines.shift()!);
      bytes += f.length;
    }
    return { l10: l10n, lines };
  }
  requeue(b: { l10: number; lines: string[] }): void {
    this.unreported += b.l10;
    for (let i = b.lines.length - 1; i >= 0; i--) {
      if (this.lines.length === this.cap) {
        this.unreported += i + 1;
        this.dropped += i + 1;
        break;
      }
      this.lines.unshift(b.lines[i]);
    }
  }
  get bytes(): number {
    return this.lines.reduce((a, f) => a + f.length, 0);
  }
}

const msg = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: fc.constantFrom(...'abcxyz =.0123456789'), maxLength: 40 }) },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 3000 }).map((n) => 'm'.repeat(n)) },
);
type Op =
  | { op: 'append'; msgs: string[] }
  | { op: 'run'; msgs: string[] }
  | { op: 'push'; msg: string }
  | { op: 'take'; maxLines: number; maxBytes: number }
  | { op: 'requeue'; which: number }
  | { op: 'done'; which: number };
const ops: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('append' as const), msgs: fc.array(msg, { minLength: 1, maxLength: 4 }) }),
  fc.record({ op: fc.constant('run' as const), msgs: fc.array(msg, { minLength: 1, maxLength: 30 }) }),
  fc.record({ op: fc.constant('push' as const), msg }),
  fc.record({ op: fc.constant('take' as const), maxLines: fc.integer({ min: 1, max: 40 }), maxBytes: fc.oneof(fc.integer({ min: 1, max: 2000 }), fc.constant(Infinity)) }),
  fc.record({ op: fc.constant('requeue' as const), which: fc.nat() }),
  fc.record({ op: fc.constant('done' as const), which: fc.nat() }),
);

t.test('runs in blocks give what one frame per line gives', async (t) => {
  await fuzz(t, 'block queue = line queue', fc.property(fc.integer({ min: 1, max: 50 }), fc.array(ops, { maxLength: 80 }), (cap, list) => {
    const q = new FrameQueue(cap, l10);
    const m = new LineModel(cap);
    const out: { batch: FrameBatch; model: { l10: number; lines: string[] } }[] = [];
    for (const o of list) {
      if (o.op === 'append') {
        for (const s of o.msgs) q.appendFrame(Buffer.from(`<${s}>`, 'latin1'), 1, 1 + Buffer.byteLength(s, 'latin1'));
        m.add(o.msgs.map(framed));
      } else if (o.op === 'run') {
        const run = Buffer.from(`xx${o.msgs.map(framed).join('')}yy`, 'latin1');
        q.appendFrames(run, 2, run.length - 2, o.msgs.length);
        m.add(o.msgs.map(framed));
      } else if (o.op === 'push') {
        q.push(Buffer.from(framed(o.msg), 'latin1'));
        m.add([framed(o.msg)]);
      } else if (o.op === 'take') {
        const b = q.take(o.maxLines, o.maxBytes);
        const e = m.take(o.maxLines, o.maxBytes);
        if ((b === null) !== (e === null)) throw new Error(`take: ${b === null ? 'null' : 'a batch'}, model ${e === null ? 'null' : 'a batch'}`);
        if (b !== null && e !== null) {
          const got = framesOf(b);
          const want = [...(e.l10 > 0 ? [framed(`L10 ${e.l10}`)] : []), ...e.lines];
          if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`batch ${JSON.stringify(got)}, model ${JSON.stringify(want)}`);
          if (b.lines !== e.lines.length) throw new Error(`lines ${b.lines}, model ${e.lines.length}`);
          if ((b.l10?.count ?? 0) !== e.l10) throw new Error(`l10 ${b.l10?.count}, model ${e.l10}`);
          if (b.bytes !== b.frames.reduce((a, f) => a + f.length, 0)) throw new Error('bytes');
          out.push({ batch: b, model: e });
        }
      } else if (out.length > 0) {
        const [x] = out.splice(o.which % out.length, 1);
        if (o.op === 'requeue') {
          q.requeue(x.batch);
          m.requeue(x.model);
        } else {
          q.done(x.batch);
        }
      }
      if (q.size !== m.lines.length) throw new Error(`size ${q.size}, model ${m.lines.length}`);
      if (q.bytes !== m.bytes) throw new Error(`bytes ${q.bytes}, model ${m.bytes}`);
      if (q.droppedTotal !== m.dropped) throw new Error(`dropped ${q.droppedTotal}, model ${m.dropped}`);
      if (q.unreportedDrops !== m.unreported) throw new Error(`unreported ${q.unreportedDrops}, model ${m.unreported}`);
    }
  }), 1500);
});

t.test('a full queue drops the oldest line from a run\'s front and reports it in the next batch', async (t) => {
  const q = new FrameQueue(3, l10);
  const run = Buffer.from(['a1', 'a2', 'a3'].map(framed).join(''), 'latin1');
  q.appendFrames(run, 0, run.length, 3);
  q.appendFrame(Buffer.from('b1'), 0, 2);
  t.equal(q.size, 3);
  t.equal(q.droppedTotal, 1);
  const b = q.take(10, 1 << 20)!;
  t.same(framesOf(b), [framed('L10 1'), framed('a2'), framed('a3'), framed('b1')]);
  t.equal(b.frames.length, 2, 'the L10 frame, then one chunk for the rest of the run and the line appended after it');
  t.same(b.counts, [0, 3]);
  t.equal(b.lines, 3);
});

t.test('a run longer than the queue keeps its newest lines', async (t) => {
  const q = new FrameQueue(2, l10);
  const run = Buffer.from(['r1', 'r2', 'r3', 'r4', 'r5'].map(framed).join(''), 'latin1');
  q.appendFrames(run, 0, run.length, 5);
  const b = q.take(10, 1 << 20)!;
  t.equal(b.l10!.count, 3);
  t.same(framesOf(b).slice(1), [framed('r4'), framed('r5')]);
});

t.test('a requeued run that no longer fits loses its oldest lines, counted', async (t) => {
  const q = new FrameQueue(4, l10);
  const run = Buffer.from(['a', 'b', 'c'].map(framed).join(''), 'latin1');
  q.appendFrames(run, 0, run.length, 3);
  const b = q.take(10, 1 << 20)!;
  q.appendFrame(Buffer.from('d'), 0, 1);
  q.appendFrame(Buffer.from('e'), 0, 1);
  q.requeue(b); // room for 2 of the 3
  t.equal(q.droppedTotal, 1);
  const all = q.take(10, 1 << 20)!;
  t.same(framesOf(all), [framed('L10 1'), framed('b'), framed('c'), framed('d'), framed('e')]);
  t.equal(all.lines + all.l10!.count, 5, 'lines + reported = appended');
});
