import t from 'tap';
import { existsSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { anchors, links, markdownFiles, read, slug } from '../support/markdown.js';

// Every relative link of README.md and docs/**/*.md resolves: the file or folder exists inside
// the repository, and a `#anchor` names a heading of the target (GitHub's slug rules) or an
// explicit `<a id>`. Links with a scheme (https:, mailto:) are not followed.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Pages other helpers are writing at the same time as these docs. A link to one of them passes
 * while the file is missing; once they are merged this list is emptied, and every link to them
 * is checked like any other.
 */
const PENDING_DOCS: readonly string[] = [
  'docs/bus.md',
  'docs/logshuttle-bus.md',
  'docs/router/admin-api.md',
];

const FILES = ['README.md', ...markdownFiles(ROOT, 'docs')];

const anchorCache = new Map<string, Set<string>>();
function anchorsOf(file: string): Set<string> {
  let a = anchorCache.get(file);
  if (!a) anchorCache.set(file, (a = anchors(read(ROOT, file))));
  return a;
}

/** Why a link does not resolve, or null when it does. */
function problem(from: string, target: string): string | null {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) return null;
  const hash = target.indexOf('#');
  const rawPath = hash < 0 ? target : target.slice(0, hash);
  const anchor = hash < 0 ? null : decodeURIComponent(target.slice(hash + 1));
  let path: string;
  try {
    path = decodeURIComponent(rawPath.split('?')[0]);
  } catch {
    return 'bad percent-encoding';
  }
  const file = path === '' ? from : normalize(path.startsWith('/') ? path.slice(1) : join(dirname(from), path));
  if (file === '..' || file.startsWith(`..${sep}`)) return 'points outside the repository';
  const key = file.split(sep).join('/').replace(/\/$/, '');
  if (!existsSync(join(ROOT, file))) return PENDING_DOCS.includes(key) ? null : `${key} does not exist`;
  if (anchor === null || anchor === '') return null;
  if (statSync(join(ROOT, file)).isDirectory() || !file.endsWith('.md')) return null;
  if (anchorsOf(file).has(anchor)) return null;
  return `${key} has no heading for #${anchor}`;
}

t.test('the slug rules are GitHub\'s', async (t) => {
  t.equal(slug('The demo (`npm start`)'), 'the-demo-npm-start');
  t.equal(slug('Test hooks (`ROUTER_TEST_HOOKS=1`; never in production)'), 'test-hooks-router_test_hooks1-never-in-production');
  t.equal(slug('Upstream client (router → dynos)'), 'upstream-client-router--dynos');
  t.equal(slug('Limits of the uWebSockets.js build'), 'limits-of-the-uwebsocketsjs-build');
  t.equal(slug('Error lines (platform lines in the app\'s stream)'), 'error-lines-platform-lines-in-the-apps-stream');
  t.equal(slug('**Bold** and _emphasis_ and [a link](x.md)'), 'bold-and-emphasis-and-a-link');
  t.same([...anchors('# A\n\n## A\n\n```\n# not a heading\n```\n\n## A\n')], ['a', 'a-1', 'a-2']);
});

t.test('the link reader finds links outside code only', async (t) => {
  const found = links('[a](x.md) `[b](y.md)` ![c](z.png)\n\n```\n[d](w.md)\n```\n[e]: ref.md "title"\n');
  t.same(found.map((l) => l.target), ['x.md', 'z.png', 'ref.md']);
});

for (const file of FILES) {
  t.test(file, async (t) => {
    const found = links(read(ROOT, file));
    const bad = found.map((l) => ({ ...l, why: problem(file, l.target) })).filter((l) => l.why !== null);
    t.same(bad.map((l) => `${file}:${l.line} (${l.target}): ${l.why}`), [], `every relative link of ${file} resolves (${found.length} links)`);
  });
}

t.test('every page of docs/ is reachable from the README', async (t) => {
  const reached = new Set<string>();
  const queue = ['README.md'];
  while (queue.length > 0) {
    const file = queue.shift() as string;
    if (reached.has(file)) continue;
    reached.add(file);
    for (const l of links(read(ROOT, file))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(l.target)) continue;
      const path = l.target.split('#')[0];
      if (path === '' || !path.endsWith('.md')) continue;
      const next = relative(ROOT, join(ROOT, dirname(file), decodeURIComponent(path))).split(sep).join('/');
      if (existsSync(join(ROOT, next)) && (next === 'README.md' || next.startsWith('docs/'))) queue.push(next);
    }
  }
  const unreached = FILES.filter((f) => !reached.has(f.split(sep).join('/')));
  t.same(unreached, [], 'no page of docs/ is an orphan');
});
