import t from 'tap';
import fc from 'fast-check';
import { documentProblems } from '../../../router/config/load.js';
import { WHOLE, scopeOf } from '../../../router/config/scoped-validation.js';
import { applyMergePatch } from '../../../router/config/merge-patch.js';
import { diffDocuments } from '../../../router/config/document-diff.js';
import { deepFreeze } from '../../../shared/config-file.js';
import { fuzz } from '../../fuzz/fuzz-params.js';
import { baseDoc, copy, patch } from './support/doc-generator.js';

// A change validated in scope (only what it touched and what refers to it) finds exactly the
// problems of validating the whole new document: the partial apply refuses what a whole reload
// would refuse, and accepts what it would accept.

const sorted = (xs: string[]): string[] => [...xs].sort();

t.test('scoped problems equal whole problems, for random valid documents and patches', async (t) => {
  let invalid = 0;
  let checked = 0;
  await fuzz(t, 'scoped = whole', fc.property(baseDoc, fc.array(patch, { minLength: 1, maxLength: 3 }), (base, patches) => {
    if (documentProblems(base, '/tmp').length > 0) return;
    let running: Record<string, unknown> = deepFreeze(copy(base));
    for (const p of patches) {
      const next = applyMergePatch(running, copy(p)) as Record<string, unknown>;
      const diff = diffDocuments(running, next);
      const scoped = documentProblems(next, '/tmp', scopeOf(diff, false));
      const whole = documentProblems(JSON.parse(JSON.stringify(next)), '/tmp', WHOLE);
      checked++;
      if (JSON.stringify(sorted(scoped)) !== JSON.stringify(sorted(whole))) {
        throw new Error(`scoped ${JSON.stringify(scoped)} != whole ${JSON.stringify(whole)}\nrunning ${JSON.stringify(running)}\npatch ${JSON.stringify(p)}`);
      }
      if (whole.length > 0) {
        invalid++;
        continue; // refused: the running document stays
      }
      running = deepFreeze(next);
    }
  }), 400);
  t.ok(checked > 300, `${checked} changes checked`);
  t.ok(invalid > 20 && invalid < checked - 20, `both outcomes seen (${invalid} invalid of ${checked})`);
});
