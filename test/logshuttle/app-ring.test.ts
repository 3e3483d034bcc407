import t from 'tap';
import fc from 'fast-check';
import { AppRing } from '../../logshuttle/buffer/app-ring.js';
import { AppRings } from '../../logshuttle/buffer/app-rings.js';

t.test('the ring holds exactly the newest `capacity` lines, in order (model check)', async (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 40 }),
      fc.array(fc.oneof(fc.string({ minLength: 0, maxLength: 30 }), fc.string({ minLength: 200, maxLength: 3000 }), fc.constant('☃€𝄞')), { maxLength: 300 }),
      fc.integer({ min: 0, max: 60 }),
      (capacity, messages, n) => {
        const ring = new AppRing(capacity);
        const model: string[] = [];
        for (const m of messages) {
          const line = m + '\n';
          ring.push(line);
          model.push(line);
          if (model.length > capacity) model.shift();
          if (ring.length !== model.length) return false;
        }
        const want = model.slice(Math.max(0, model.length - n));
        const got = ring.newestLines(n);
        if (JSON.stringify(got) !== JSON.stringify(want)) return false;
        if (ring.newest(n).toString('utf8') !== want.join('')) return false;
        const held = model.reduce((s, l) => s + Buffer.byteLength(l), 0);
        return ring.bytesHeld === held && ring.evicted === messages.length - model.length;
      },
    ),
    { numRuns: 300 },
  );
  t.pass('model check held');
});

t.test('storage stays close to the bytes held once full', async (t) => {
  const ring = new AppRing(1500);
  for (let i = 0; i < 5000; i++) ring.push(`2026-11-25T10:00:00.000Z api-prod app[web.1]: request ${i} ${'x'.repeat(i % 150)}\n`);
  t.equal(ring.length, 1500);
  t.ok(ring.bytesAllocated <= ring.bytesHeld * 1.3, `allocated ${ring.bytesAllocated} for ${ring.bytesHeld} held`);
  // lines shrink: storage follows
  for (let i = 0; i < 3000; i++) ring.push('short\n');
  t.equal(ring.bytesHeld, 1500 * 6);
  t.ok(ring.bytesAllocated <= ring.bytesHeld * 1.3 + 1500 * 4 + 1024, `allocated ${ring.bytesAllocated} after shrinking`);
});

t.test('idle apps are evicted unless tailed', async (t) => {
  const rings = new AppRings({ history: 10, idleMs: 1000 });
  rings.append('a', 'x\n', 0);
  rings.append('b', 'x\n', 0);
  rings.append('c', 'x\n', 900);
  t.equal(rings.evictIdle(1500, (app) => app === 'b'), 1);
  t.equal(rings.get('a'), undefined);
  t.ok(rings.get('b'), 'tailed app kept');
  t.ok(rings.get('c'), 'recent app kept');
  t.same(rings.totals(), { lines: 2, bytesHeld: 4, bytesAllocated: rings.totals().bytesAllocated });
});
