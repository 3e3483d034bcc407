// Settle tickets through a drain's queue (bus mode acknowledges a line's message by them): each
// held line is settled exactly once, whether it is delivered, dropped on overflow, dropped when a
// requeue does not fit, or discarded with its drain.
import t from 'tap';
import { FrameQueue } from '../../../logshuttle/drains/frame-queue.js';
import type { SettleTicket } from '../../../logshuttle/drains/settle-ticket.js';

class Ticket implements SettleTicket {
  holds = 0;
  settled = 0;
  hold(): void { this.holds++; }
  settle(): void { this.settled++; }
}

const frame = (s: string): Buffer => Buffer.from(`${s.length} ${s}`);
const l10 = (count: number): Buffer => frame(`L10 ${count}`);

t.test('delivered batches settle their tickets; lines without one are untouched', async (t) => {
  const q = new FrameQueue(10, l10);
  const a = new Ticket();
  const b = new Ticket();
  q.push(frame('a'), a);
  q.push(frame('plain'));
  q.push(frame('b'), b);
  const batch = q.take(10, Infinity)!;
  t.equal(batch.frames.length, 3);
  t.equal(a.settled + b.settled, 0, 'not settled before delivery');
  q.done(batch);
  t.same([a.settled, b.settled], [1, 1], 'settled once each on delivery');
  q.done(batch);
  t.same([a.settled, b.settled], [1, 1], 'a second done settles nothing');
});

t.test('overflow settles the dropped line; the L10 frame carries no ticket', async (t) => {
  const q = new FrameQueue(2, l10);
  const ts = [new Ticket(), new Ticket(), new Ticket()];
  ts.forEach((x, i) => q.push(frame(`l${i}`), x));
  t.same(ts.map((x) => x.settled), [1, 0, 0], 'the oldest, dropped, is settled');
  const batch = q.take(10, Infinity)!;
  t.ok(batch.l10, 'the batch starts with the L10 report');
  t.equal(batch.tickets?.[0], undefined);
  for (let i = 0; i < batch.frames.length; i++) q.doneAt(batch, i);
  t.same(ts.map((x) => x.settled), [1, 1, 1], 'frame by frame (UDP), each settled once');
});

t.test('a requeued batch keeps its tickets; what no longer fits is settled as dropped', async (t) => {
  const q = new FrameQueue(3, l10);
  const ts = [new Ticket(), new Ticket(), new Ticket()];
  ts.forEach((x, i) => q.push(frame(`l${i}`), x));
  const batch = q.take(3, Infinity)!;
  const late = new Ticket();
  q.push(frame('late1'), late);
  q.push(frame('late2'));
  q.requeue(batch); // room for one of the three: the two oldest are dropped
  t.same(ts.map((x) => x.settled), [1, 1, 0], 'the lines that did not fit are settled');
  const again = q.take(10, Infinity)!;
  q.done(again);
  t.same([...ts.map((x) => x.settled), late.settled], [1, 1, 1, 1], 'the rest settle on delivery');
});

t.test('a removed drain settles everything it held', async (t) => {
  const q = new FrameQueue(5, l10);
  const ts = [new Ticket(), new Ticket()];
  ts.forEach((x, i) => q.push(frame(`l${i}`), x));
  t.equal(q.clear(), 2);
  t.same(ts.map((x) => x.settled), [1, 1]);
});
