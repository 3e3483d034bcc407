// test/unit-tests.txt, the files `npm run test:unit` runs: each exists, and neither it nor a test
// helper it imports starts a process or loads dist/ (docs/testing.md, "Unit tests").
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT } from './router-harness.js';

/** Text that means a child process or the build: in a unit test or any helper it imports. */
const PROCESS = /node:child_process|playwright|\bassertDistFresh\(|\/dist\/|\bstart(?:Router|Shuttle|RouterProcess|ChildDyno)\(|\bspawnTail\(|\brunRouterOnce\(|\bblackholeAddress\(/;
/** Helpers mixing in-process parts with process starters: only these names may be imported. */
const MIXED: Record<string, RegExp> = {
  'test/support/router-harness.ts': /\b(startRouter|runRouterOnce|blackholeAddress|ROUTER_MAIN)\b/,
  'test/support/dist-fresh.ts': /\bassertDistFresh\b/,
};
/** Helpers that are all about processes. */
const PROCESS_HELPERS = ['test/support/nats-cluster.ts', 'test/logshuttle/helpers/shuttle-process.ts', 'test/reliability/support/router-process.ts', 'test/router/filters/support/router-process.ts'];

function unitTestFiles(): string[] {
  return readFileSync(join(ROOT, 'test/unit-tests.txt'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
}

/** What in `file` (a test or a test helper) or the test helpers it imports starts a process; null if nothing. */
function processUse(file: string, seen = new Set<string>()): string | null {
  if (seen.has(file)) return null;
  seen.add(file);
  const text = readFileSync(join(ROOT, file), 'utf8');
  const hit = PROCESS.exec(text);
  if (hit) return `${file}: ${hit[0]}`;
  for (const m of text.matchAll(/import\s+(type\s+)?([^'";]*?)\s*from\s*'(\.[^']+)'/g)) {
    if (m[1]) continue; // types only
    const target = relative(ROOT, join(ROOT, dirname(file), m[3]!)).replace(/\.js$/, '.ts');
    if (!target.startsWith('test/') || !existsSync(join(ROOT, target))) continue;
    if (PROCESS_HELPERS.includes(target)) return `${file} imports ${target}`;
    const mixed = MIXED[target];
    if (mixed) {
      const name = mixed.exec(m[2]!);
      if (name) return `${file} imports ${name[0]} from ${target}`;
      continue;
    }
    const deeper = processUse(target, seen);
    if (deeper) return deeper;
  }
  return null;
}

t.test('every listed unit test exists and starts no process, directly or through its helpers', async (t) => {
  const files = unitTestFiles();
  t.ok(files.length > 20, `${files.length} files listed`);
  t.same(files.filter((f) => !f.endsWith('.test.ts') || !existsSync(join(ROOT, f))), [], 'every line names a test file');
  t.same(files.filter((f, i) => files.indexOf(f) !== i), [], 'no file listed twice');
  const self = relative(ROOT, fileURLToPath(import.meta.url)); // holds the patterns themselves
  t.same(files.filter((f) => f !== self).map((f) => processUse(f)).filter((p) => p !== null), [], 'no process starter in a unit test');
});

t.test('the check recognises a process test', async (t) => {
  t.match(processUse('test/e2e/demo.test.ts'), /node:child_process|assertDistFresh/);
  t.match(processUse('test/router/config/config.test.ts'), /runRouterOnce/);
  t.match(processUse('test/router/filters/firewall-filter.test.ts'), /startRouter/);
  t.equal(processUse('test/router/upstream/h1/client-flow.test.ts'), null);
});
