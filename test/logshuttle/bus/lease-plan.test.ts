import t from 'tap';
import { planLeases, shareOf } from '../../../logshuttle/bus/lease-plan.js';

t.test('shares add up to the partitions and differ by at most one', async (t) => {
  for (const partitions of [1, 7, 16, 100]) {
    for (let n = 1; n <= 6; n++) {
      const members = Array.from({ length: n }, (_, i) => `r${i}`);
      const shares = members.map((m) => shareOf(partitions, members, m));
      t.equal(shares.reduce((a, b) => a + b, 0), partitions, `${partitions} partitions, ${n} members: every partition has a share`);
      t.ok(Math.max(...shares) - Math.min(...shares) <= 1, `${partitions}/${n}: even (${shares.join(',')})`);
    }
  }
  t.equal(shareOf(16, ['a', 'b'], 'a'), 8);
  t.equal(shareOf(16, ['a'], 'b'), 8, 'a replica not yet listed counts itself');
});

t.test('over the share: release the highest; under it: candidates are the free ones', async (t) => {
  const over = planLeases({ partitions: 16, members: ['a', 'b'], me: 'a', held: new Set(Array.from({ length: 16 }, (_, i) => i)), taken: new Set(Array.from({ length: 16 }, (_, i) => i)) });
  t.equal(over.target, 8);
  t.same(over.release, [15, 14, 13, 12, 11, 10, 9, 8]);
  t.same(over.candidates, []);
  const under = planLeases({ partitions: 16, members: ['a', 'b'], me: 'b', held: new Set(), taken: new Set([0, 1, 2, 3, 4, 5, 6, 7]) });
  t.same([...under.candidates].sort((x, y) => x - y), [8, 9, 10, 11, 12, 13, 14, 15]);
  t.same(under.release, []);
  const alone = planLeases({ partitions: 4, members: [], me: 'a', held: new Set([1]), taken: new Set([1, 2]) });
  t.equal(alone.target, 4);
  t.same([...alone.candidates].sort(), [0, 3], 'taken by others and held are not candidates');
});
