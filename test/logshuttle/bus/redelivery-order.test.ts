import t from 'tap';
import { RedeliveryOrder } from '../../../logshuttle/bus/redelivery-order.js';

const msg = (seq: number, delivery = 1) => ({ seq, delivery });
const seqs = (ms: Array<{ seq: number }>) => ms.map((m) => m.seq);

t.test('nothing unacknowledged: every line goes at once', async (t) => {
  const o = new RedeliveryOrder<{ seq: number }>();
  t.same(seqs(o.take(msg(5), 0)), [5]);
  t.same(seqs(o.take(msg(6), 0)), [6]);
  t.notOk(o.holding);
});

t.test('newer lines before the redeliveries: held, then released in stream order', async (t) => {
  const o = new RedeliveryOrder<{ seq: number }>();
  // the old owner left lines 10 and 12 unacknowledged; the consumer delivered up to 14
  o.begin(14, 2, 10_000);
  t.ok(o.holding);
  t.same(seqs(o.take(msg(15), 0)), [], 'a new line waits for the older ones');
  t.same(seqs(o.take(msg(16), 0)), []);
  t.same(seqs(o.take(msg(12, 2), 0)), [], 'one redelivery of two');
  const out = o.take(msg(10, 2), 0);
  t.same(seqs(out), [10, 12, 15, 16], 'all of them, in stream order');
  t.equal(o.reordered, 2, 'two redeliveries came after newer lines');
  t.ok(o.released, 'the hold ended');
  t.equal(o.missing, 0);
  t.notOk(o.holding);
  t.same(seqs(o.take(msg(17), 0)), [17], 'after the release, lines go at once');
});

t.test('redeliveries first and out of order among themselves: sorted', async (t) => {
  const o = new RedeliveryOrder<{ seq: number }>();
  o.begin(30, 3, 10_000);
  t.same(seqs(o.take(msg(29, 2), 0)), []);
  t.same(seqs(o.take(msg(21, 2), 0)), []);
  t.same(seqs(o.take(msg(25, 2), 0)), [21, 25, 29]);
  t.equal(o.reordered, 2, 'two came after a higher one');
});

t.test('a held line delivered twice is released once (the later delivery kept)', async (t) => {
  const o = new RedeliveryOrder<{ seq: number; delivery: number }>();
  o.begin(5, 1, 10_000);
  t.same(o.take(msg(7, 1), 0), []);
  t.same(o.take(msg(7, 2), 0), [], 'the held line came again (its own ack wait ran out)');
  const out = o.take(msg(4, 2), 0);
  t.same(out, [msg(4, 2), msg(7, 2)]);
});

t.test('the deadline ends the hold: what is held goes out in order, the shortfall counted', async (t) => {
  const o = new RedeliveryOrder<{ seq: number }>();
  o.begin(100, 3, 1000);
  t.same(seqs(o.take(msg(102), 10)), []);
  t.same(seqs(o.take(msg(99, 2), 20)), []);
  t.same(seqs(o.expire(999)), [], 'not yet');
  t.same(seqs(o.expire(1000)), [99, 102]);
  t.equal(o.missing, 2, 'two redeliveries never came');
  t.notOk(o.holding);
  o.begin(200, 1, 50);
  t.same(seqs(o.take(msg(201), 60)), [201], 'a line taken after the deadline releases everything');
});

t.test('reset drops what is held and stops holding', async (t) => {
  const o = new RedeliveryOrder<{ seq: number }>();
  o.begin(10, 1, 10_000);
  t.same(seqs(o.take(msg(11), 0)), []);
  o.reset();
  t.notOk(o.holding);
  t.same(seqs(o.take(msg(12), 0)), [12], 'the dropped line stays unacknowledged (redelivered by the server)');
  t.same(seqs(o.expire(20_000)), []);
});
