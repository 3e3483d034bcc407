import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The source folders whose compiled files process tests run (node dist/...). */
export const BUILT_SOURCES = ['router', 'logshuttle', 'shared', 'examples'];

/**
 * The first source under `root`/`dirs` whose compiled file in `root`/dist is missing or older
 * than it, as the message a test fails with; null when dist/ is up to date.
 */
export function staleDist(root: string, dirs: readonly string[] = BUILT_SOURCES): string | null {
  for (const dir of dirs) {
    const entries = readdirSync(join(root, dir), { recursive: true, withFileTypes: true });
    for (const e of entries) {
      if (!e.isFile() || !e.name.endsWith('.ts') || e.name.endsWith('.d.ts')) continue;
      const source = join(e.parentPath, e.name);
      const rel = relative(root, source);
      const built = statSync(join(root, 'dist', rel.replace(/\.ts$/, '.js')), { throwIfNoEntry: false });
      if (!built) return `dist/ has no build of ${rel}: run npm run build`;
      if (built.mtimeMs < statSync(source).mtimeMs) return `dist/ is older than ${rel}: run npm run build`;
    }
  }
  return null;
}

let verdict: string | null | undefined;

/**
 * Fails fast when dist/ is older than the sources: a process test runs the built programs, and
 * would otherwise test the code as it was at the last build. Checked once per test process.
 */
export function assertDistFresh(): void {
  verdict ??= staleDist(ROOT);
  if (verdict !== null) throw new Error(verdict);
}
