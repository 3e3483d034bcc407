import t from 'tap';
import { FrameQueue } from '../../../logshuttle/drains/frame-queue.js';

const f = (s: string) => Buffer.from(s);
const l10 = (count: number, since: number) => Buffer.from(`L10 ${count} ${since}`);

t.test('bounded: overflow drops the oldest and the next batch starts with the L10 report', async (t) => {
  const q = new FrameQueue(3, l10);
  for (let i = 0; i < 5; i++) q.push(f(`l${i}`));
  t.equal(q.size, 3);
  t.equal(q.droppedTotal, 2);
  const b = q.take(10, 1 << 20)!;
  t.same(b.frames.map(String).slice(1), ['l2', 'l3', 'l4']);
  t.match(String(b.frames[0]), /^L10 2 \d+$/);
  t.equal(b.lines, 3);
  t.equal(b.l10!.count, 2);
  t.equal(q.take(10, 100), null, 'empty');
});

t.test('take respects line and byte limits, at least one line', async (t) => {
  const q = new FrameQueue(10, l10);
  for (let i = 0; i < 6; i++) q.push(f(`line${i}`));
  t.same(q.take(2, 1 << 20)!.frames.map(String), ['line0', 'line1']);
  t.same(q.take(10, 1)!.frames.map(String), ['line2'], 'one line even over the byte limit');
  t.same(q.take(10, 10)!.frames.map(String), ['line3', 'line4']);
  t.equal(q.bytes, 5);
});

t.test('requeue puts a failed batch back in order and owes its L10 again; exact counts when it no longer fits', async (t) => {
  const q = new FrameQueue(4, l10);
  for (let i = 0; i < 6; i++) q.push(f(`a${i}`)); // drops a0 a1
  const b = q.take(2, 1 << 20)!; // L10(2), a2, a3
  q.push(f('b0'));
  q.push(f('b1'));
  q.push(f('b2')); // queue: a4 a5 b0 b1 -> full after b1, b2 drops a4
  t.equal(q.droppedTotal, 3);
  q.requeue(b); // no room for a2 a3: both dropped
  t.equal(q.droppedTotal, 5);
  const all = q.take(100, 1 << 20)!;
  t.equal(all.l10!.count, 5, 'the undelivered L10 report (2) plus 3 new drops');
  t.same(all.frames.slice(1).map(String), ['a5', 'b0', 'b1', 'b2']);
  t.equal(all.lines + all.l10!.count, 9, 'lines + reported = pushed');

  const q2 = new FrameQueue(5, l10);
  for (let i = 0; i < 4; i++) q2.push(f(`c${i}`));
  const b2 = q2.take(2, 1 << 20)!;
  q2.push(f('c4'));
  q2.requeue(b2);
  t.same(q2.take(100, 1 << 20)!.frames.map(String), ['c0', 'c1', 'c2', 'c3', 'c4'], 'order kept');
});
