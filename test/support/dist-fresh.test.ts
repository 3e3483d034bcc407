// The guard process tests call before they run dist/: a source newer than its build fails fast.
import t from 'tap';
import { mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { staleDist } from './dist-fresh.js';

function tree(): string {
  const root = mkdtempSync(join(tmpdir(), 'dist-fresh-'));
  for (const [file, at] of [['router/a.ts', 1000], ['router/sub/b.ts', 1000], ['router/types.d.ts', 5000], ['dist/router/a.js', 2000], ['dist/router/sub/b.js', 2000]] as const) {
    mkdirSync(join(root, file, '..'), { recursive: true });
    writeFileSync(join(root, file), '');
    utimesSync(join(root, file), at, at);
  }
  return root;
}

t.test('a build newer than every source passes (declaration files have no build)', async (t) => {
  t.equal(staleDist(tree(), ['router']), null);
});

t.test('a source edited after the build names the file and the command', async (t) => {
  const root = tree();
  utimesSync(join(root, 'router/sub/b.ts'), 3000, 3000);
  t.equal(staleDist(root, ['router']), 'dist/ is older than router/sub/b.ts: run npm run build');
});

t.test('a source never built is named too', async (t) => {
  const root = tree();
  writeFileSync(join(root, 'router/new.ts'), '');
  t.equal(staleDist(root, ['router']), 'dist/ has no build of router/new.ts: run npm run build');
});
