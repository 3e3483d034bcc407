/**
 * Self time per function from a V8 .cpuprofile (node --cpu-prof): the top N, with the share of
 * all samples, the function's file:line, and the share of time spent outside JS (GC, idle,
 * program). For bench/PROFILE.md. SKIP_MS leaves out the first milliseconds (start-up: module
 * loading and compiling).
 *
 *   node dist/bench/profile-top.js FILE.cpuprofile [N] [SKIP_MS]
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }
interface CpuProfile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

export interface SelfTime { fn: string; where: string; ms: number; share: number }

/**
 * Self time per function, biggest first, `(idle)` left out; `share` is of the busy time (all
 * samples but idle), `total` and `idle` in ms.
 */
export function topSelfTime(profile: CpuProfile, n = 15, skipMs = 0): { total: number; idle: number; rows: SelfTime[] } {
  const byId = new Map(profile.nodes.map((x) => [x.id, x]));
  const self = new Map<string, { fn: string; where: string; us: number }>();
  let total = 0;
  let at = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]);
    const dt = profile.timeDeltas[i] ?? 0;
    at += dt;
    if (!node || at < skipMs * 1000) continue;
    total += dt;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.replace(/^file:\/\//, '').replace(/^.*\/(node_modules|dist)\//, '$1/');
    const where = url ? `${file}:${lineNumber + 1}` : '';
    const key = `${functionName}|${where}`;
    const e = self.get(key) ?? { fn: functionName || '(anonymous)', where, us: 0 };
    e.us += dt;
    self.set(key, e);
  }
  const idle = [...self.values()].filter((e) => e.fn === '(idle)').reduce((a, e) => a + e.us, 0);
  const busy = Math.max(1, total - idle);
  const rows = [...self.values()].filter((e) => e.fn !== '(idle)').sort((a, b) => b.us - a.us).slice(0, n)
    .map((e) => ({ fn: e.fn, where: e.where, ms: e.us / 1000, share: e.us / busy }));
  return { total: total / 1000, idle: idle / 1000, rows };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: profile-top FILE.cpuprofile [N] [SKIP_MS]');
  const { total, idle, rows } = topSelfTime(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, Number(process.argv[3] ?? 15), Number(process.argv[4] ?? 0));
  process.stdout.write(`${(total / 1000).toFixed(2)} s sampled, ${((total - idle) / 1000).toFixed(2)} s busy\n\n| # | function | where | self ms | share of busy |\n|---:|---|---|---:|---:|\n`);
  rows.forEach((r, i) => process.stdout.write(`| ${i + 1} | \`${r.fn}\` | ${r.where} | ${r.ms.toFixed(0)} | ${(100 * r.share).toFixed(1)}% |\n`));
}
