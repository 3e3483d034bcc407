/**
 * Self time per function from a V8 .cpuprofile (node --cpu-prof): the top N, with the share of
 * all samples, the function's file:line, and the share of time spent outside JS (GC, idle,
 * program). For bench/PROFILE.md.
 *
 *   node dist/bench/profile-top.js FILE.cpuprofile [N]
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }
interface CpuProfile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

export interface SelfTime { fn: string; where: string; ms: number; share: number }

export function topSelfTime(profile: CpuProfile, n = 15): { total: number; rows: SelfTime[] } {
  const byId = new Map(profile.nodes.map((x) => [x.id, x]));
  const self = new Map<string, { fn: string; where: string; us: number }>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]);
    const dt = profile.timeDeltas[i] ?? 0;
    if (!node) continue;
    total += dt;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.replace(/^file:\/\//, '').replace(/^.*\/(node_modules|dist)\//, '$1/');
    const where = url ? `${file}:${lineNumber + 1}` : '';
    const key = `${functionName}|${where}`;
    const e = self.get(key) ?? { fn: functionName || '(anonymous)', where, us: 0 };
    e.us += dt;
    self.set(key, e);
  }
  const rows = [...self.values()].sort((a, b) => b.us - a.us).slice(0, n)
    .map((e) => ({ fn: e.fn, where: e.where, ms: e.us / 1000, share: e.us / total }));
  return { total: total / 1000, rows };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: profile-top FILE.cpuprofile [N]');
  const { total, rows } = topSelfTime(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, Number(process.argv[3] ?? 15));
  process.stdout.write(`${(total / 1000).toFixed(2)} s sampled\n\n| # | function | where | self ms | share |\n|---:|---|---|---:|---:|\n`);
  rows.forEach((r, i) => process.stdout.write(`| ${i + 1} | \`${r.fn}\` | ${r.where} | ${r.ms.toFixed(0)} | ${(100 * r.share).toFixed(1)}% |\n`));
}
