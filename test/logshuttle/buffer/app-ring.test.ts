import t from 'tap';
import fc from 'fast-check';
import { AppRing } from '../../../logshuttle/buffer/app-ring.js';
import { AppRings } from '../../../logshuttle/buffer/app-rings.js';

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

t.test('a small app costs little: the index and the store grow with the lines', async (t) => {
  const ring = new AppRing(1500);
  ring.push('2026-11-25T10:00:00.000Z api-prod app[web.1]: one line of about a hundred bytes, as apps mostly write them\n');
  t.ok(ring.bytesAllocated < 250, `one line: ${ring.bytesAllocated} bytes allocated`);
  for (let i = 0; i < 100; i++) ring.push(`2026-11-25T10:00:00.000Z api-prod app[web.1]: line ${i} ${'x'.repeat(60)}\n`);
  t.ok(ring.bytesAllocated < ring.bytesHeld * 1.6 + 1024, `101 lines: ${ring.bytesAllocated} for ${ring.bytesHeld}`);
  t.same(ring.newestLines(1), [`2026-11-25T10:00:00.000Z api-prod app[web.1]: line 99 ${'x'.repeat(60)}\n`]);
});

t.test('a full ring of ~100-byte lines: storage and index within 1.12x of the bytes held', async (t) => {
  const ring = new AppRing(1500);
  for (let i = 0; i < 4000; i++) ring.push(`2026-11-25T10:00:00.000Z app-${i % 7} app[web.1]: ${'m'.repeat(40 + (i % 30))}\n`);
  t.ok(ring.bytesAllocated <= ring.bytesHeld * 1.12, `allocated ${ring.bytesAllocated} for ${ring.bytesHeld} held`);
});

t.test('AppRings: exact least-recently-written eviction past maxApps and maxBytes', async (t) => {
  const rings = new AppRings({ history: 10, idleMs: 1e9, maxApps: 3 });
  for (const app of ['a', 'b', 'c', 'b', 'a', 'd']) rings.append(app, `${app}\n`, 0);
  t.equal(rings.get('c'), undefined, 'c was the least recently written');
  t.ok(rings.get('a') && rings.get('b') && rings.get('d'));
  rings.append('e', 'e\n', 0);
  t.equal(rings.get('b'), undefined, 'then b');
  t.same(rings.evictedApps, { idle: 0, max_apps: 2, max_bytes: 0 });
  t.equal(rings.evictedLines, 3);
  const byBytes = new AppRings({ history: 100, idleMs: 1e9, maxBytes: 5000 });
  for (let i = 0; i < 50; i++) byBytes.append(`app-${i % 10}`, 'x'.repeat(200) + '\n', 0);
  t.ok(byBytes.bytesAllocated <= 5000, `${byBytes.bytesAllocated} bytes`);
  t.ok(byBytes.get('app-9'), 'the app just written is kept');
  t.equal(byBytes.bytesAllocated, [...Array(10).keys()].reduce((s, i) => s + (byBytes.get(`app-${i}`)?.bytesAllocated ?? 0), 0), 'running total = sum of the rings');
  const one = new AppRings({ history: 100, idleMs: 1e9, maxBytes: 10 });
  one.append('alone', 'x'.repeat(100) + '\n', 0);
  t.ok(one.get('alone'), 'an app alone over the bound is kept (never the one being written)');
});
