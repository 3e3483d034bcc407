/**
 * Reads a sampling heap profile written by bench/lib/heap-probe.ts (allocations that survived
 * scavenges) and prints where they were allocated: bytes by allocating function, and by the
 * nearest frame in the project's own code (dist/router, dist/bench, dist/shared).
 *
 *   node dist/bench/heap-survivors.js FILE.heapprofile [--top 25]
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

interface Frame { functionName: string; url: string; lineNumber: number; columnNumber: number }
interface Node { callFrame: Frame; selfSize: number; id: number; children: Node[] }
interface Profile { head: Node; samples: { size: number; nodeId: number }[] }

const where = (f: Frame): string => `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/dist\//, '').replace(/^node:/, 'node:')}:${f.lineNumber + 1}`;
const own = (f: Frame): boolean => /\/dist\/(router|bench|shared)\//.test(f.url);

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values, positionals } = parseArgs({ options: { top: { type: 'string', default: '25' } }, allowPositionals: true });
  const p = JSON.parse(readFileSync(positionals[0], 'utf8')) as Profile;
  const bySelf = new Map<string, number>();
  const byOwn = new Map<string, number>();
  let total = 0;
  const walk = (n: Node, stack: Frame[]): void => {
    const s = [...stack, n.callFrame];
    if (n.selfSize > 0) {
      total += n.selfSize;
      bySelf.set(where(n.callFrame), (bySelf.get(where(n.callFrame)) ?? 0) + n.selfSize);
      const o = [...s].reverse().find(own);
      const k = o ? where(o) : '(no project frame)';
      byOwn.set(k, (byOwn.get(k) ?? 0) + n.selfSize);
    }
    for (const c of n.children) walk(c, s);
  };
  walk(p.head, []);
  const top = Number(values.top);
  const show = (title: string, m: Map<string, number>): void => {
    process.stdout.write(`\n${title} (sampled bytes still live after scavenges; total ${(total / 1024).toFixed(0)} KiB)\n`);
    for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`${(v / 1024).toFixed(0).padStart(8)} KiB ${((v / total) * 100).toFixed(1).padStart(5)}%  ${k}\n`);
  };
  show('by allocating function', bySelf);
  show('by nearest project frame', byOwn);
}
