import t from 'tap';
import { applyMergePatch } from '../../../router/config/merge-patch.js';
import { diffDocuments, isEmptyDiff, sameJson } from '../../../router/config/document-diff.js';
import { documentDigest } from '../../../router/config/document-digest.js';
import { deepFreeze } from '../../../shared/config-file.js';

// RFC 7396 Appendix A: every example, target + patch -> result
const EXAMPLES: [unknown, unknown, unknown][] = [
  [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
  [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
  [{ a: 'b' }, { a: null }, {}],
  [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
  [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
  [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
  [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
  [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
  [['a', 'b'], ['c', 'd'], ['c', 'd']],
  [{ a: 'b' }, ['c'], ['c']],
  [{ a: 'foo' }, null, null],
  [{ a: 'foo' }, 'bar', 'bar'],
  [{ e: null }, { a: 1 }, { e: null, a: 1 }],
  [[1, 2], { a: 'b', c: null }, { a: 'b' }],
  [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
];

t.test('RFC 7396 Appendix A', async (t) => {
  for (const [target, patch, result] of EXAMPLES) {
    t.same(applyMergePatch(target, patch), result, `${JSON.stringify(target)} + ${JSON.stringify(patch)}`);
  }
});

t.test('neither argument changes; untouched parts are shared (same objects), frozen ones included', async (t) => {
  const target = deepFreeze({ apps: { a: { dynos: ['x:1'] }, b: { dynos: ['y:1'] } }, sites: { s: { routes: [] } } });
  const patch = { apps: { a: { maintenance: true } } };
  const out = applyMergePatch(target, patch) as typeof target & { apps: { a: { maintenance?: boolean } } };
  t.same(out.apps.a, { dynos: ['x:1'], maintenance: true });
  t.equal(out.sites, target.sites, 'sites untouched: the same object');
  t.equal(out.apps.b, target.apps.b, 'app b untouched: the same object');
  t.equal(out.apps.a.dynos, target.apps.a.dynos, 'a.dynos untouched: the same array');
  t.not(out.apps, target.apps);
  t.same(patch, { apps: { a: { maintenance: true } } }, 'the patch is unchanged');
  t.notOk(Object.hasOwn(target.apps.a, 'maintenance'), 'the target is unchanged');
});

t.test('a "__proto__" key is a key, never a prototype', async (t) => {
  const out = applyMergePatch({ sites: {} }, JSON.parse('{"sites": {"__proto__": {"routes": []}}}')) as { sites: Record<string, unknown> };
  t.ok(Object.hasOwn(out.sites, '__proto__'));
  t.equal(Object.getPrototypeOf(out.sites), Object.prototype);
  t.same(Object.keys(out.sites), ['__proto__']);
});

t.test('diff: only what changed, equal parts shared with the old document; digest follows the JSON', async (t) => {
  const prev = deepFreeze({ domain: 'd', apps: { a: { dynos: ['x:1'] }, b: { dynos: ['y:1'] } }, sites: { s: { routes: [{ path: '/', app: 'a' }] } } });
  const next = JSON.parse(JSON.stringify(prev)) as Record<string, any>;
  next.apps.b.dynos.push('z:1');
  const d = diffDocuments(prev, next);
  t.same(d.records.apps, { changed: ['b'], removed: [], reordered: false });
  t.same(d.records.sites, { changed: [], removed: [], reordered: false });
  t.same(d.rest, []);
  t.equal(next.apps.a, prev.apps.a, 'equal app a now shared');
  t.equal(next.sites, prev.sites, 'the equal sites record itself is shared');
  t.equal(documentDigest(deepFreeze(next)).sha256, documentDigest(JSON.parse(JSON.stringify(next))).sha256, 'the digest is that of the JSON');
  t.not(documentDigest(next).sha256, documentDigest(prev).sha256);
  t.ok(isEmptyDiff(diffDocuments(prev, JSON.parse(JSON.stringify(prev)))), 'an equal document: no change');
  t.notOk(sameJson({ a: 1, b: 2 }, { b: 2, a: 1 }), 'key order counts');
  const moved = diffDocuments(prev, { ...JSON.parse(JSON.stringify(prev)), apps: { b: { dynos: ['y:1'] }, a: { dynos: ['x:1'] } } });
  t.equal(moved.records.apps?.reordered, true, 'a reordered record is seen');
});
