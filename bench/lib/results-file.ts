/**
 * bench/RESULTS.md: the table of one `npm run bench`, with what it was measured on and how:
 * date, machine (nproc, CPU model, memory, load average before and after), node and package
 * versions, peer versions, pinning, the exact command.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { PINNING_TEXT } from './pinning.js';
import { npmVersion, toolVersion } from './tools.js';

export interface RunFacts {
  command: string;
  quick: boolean;
  groups: readonly string[];
  settings: string;
  startedAt: Date;
  loadBefore: number;
}

function kernel(): string {
  try { return readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(); } catch { return '?'; }
}

/** Online CPUs of the machine (not this process's affinity: the bench pins itself to one). */
function cpuCount(): number {
  return cpus().length;
}

export function machineFacts(): string[] {
  const n = cpuCount();
  return [
    `machine: ${n} CPUs online (nproc), ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${kernel()}`,
    `node ${process.version}; autocannon ${npmVersion('autocannon')}; undici ${npmVersion('undici')}; uWebSockets.js ${npmVersion('uWebSockets.js')}; fastify ${npmVersion('fastify')}; @fastify/http-proxy ${npmVersion('@fastify/http-proxy')}`,
    `peers: ${toolVersion('nginx')}; ${toolVersion('haproxy')}; ${toolVersion('wrk')}; ${toolVersion('rsyslogd')}; ${toolVersion('nats-server')}`,
  ];
}

/** True when the machine is too busy for numbers of record (1-min load average above half the cores). */
export function isBusy(load: number): boolean {
  return load > cpuCount() / 2;
}

export function renderResults(facts: RunFacts, table: string, sections: readonly string[]): string {
  const loadAfter = loadavg()[0];
  const warnings: string[] = [];
  if (facts.quick) warnings.push('a **quick validation run** (`--quick`: short runs, 1 round)');
  // only the load before counts: the bench itself keeps both cores busy, so the load after is
  // always high (it is printed for the record)
  if (isBusy(facts.loadBefore)) {
    warnings.push(`taken on a **busy machine** (1-min load average ${facts.loadBefore.toFixed(1)} before the run, on ${cpuCount()} cores)`);
  }
  const head = warnings.length ? `> **Not numbers of record**: ${warnings.join(', ')}. They show the harness works, not how fast anything is; the run of record is \`npm run bench\` on a quiet machine.\n\n` : '';
  return `# Bench results

${head}\`${facts.command}\` — ${facts.startedAt.toISOString()}

- ${machineFacts().join('\n- ')}
- load average (1 min): ${facts.loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after
- pinning: ${PINNING_TEXT}
- settings: ${facts.settings}
- groups: ${facts.groups.join(', ')}

Medians over the rounds with the spread (min–max) in brackets; ratios from the same run (see
bench/README.md for what each row measures and how to read it).

${table}
${sections.length ? `\n${sections.join('\n')}` : ''}`;
}

export function writeResults(file: string, text: string): void {
  writeFileSync(file, text.endsWith('\n') ? text : `${text}\n`);
}
