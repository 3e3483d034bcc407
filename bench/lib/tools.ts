/**
 * The outside programs the bench drives (peers and load tools): whether each is installed, the
 * Debian package that brings it, and its version for RESULTS.md. The bench installs nothing:
 * a missing tool is reported with the apt-get line and its rows are marked "not installed".
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

export type Tool = 'nginx' | 'haproxy' | 'wrk' | 'rsyslogd' | 'taskset' | 'prlimit' | 'openssl' | 'nats-server';

const PACKAGE: Record<Tool, string> = {
  nginx: 'nginx', haproxy: 'haproxy', wrk: 'wrk', rsyslogd: 'rsyslog', taskset: 'util-linux', prlimit: 'util-linux', openssl: 'openssl', 'nats-server': 'nats-server',
};

const VERSION_ARGS: Record<Tool, string[]> = {
  nginx: ['-v'], haproxy: ['-v'], wrk: ['-v'], rsyslogd: ['-v'], taskset: ['--version'], prlimit: ['--version'], openssl: ['version'], 'nats-server': ['--version'],
};

const known = new Map<Tool, boolean>();

export function hasTool(tool: Tool): boolean {
  let ok = known.get(tool);
  if (ok === undefined) {
    ok = spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
    known.set(tool, ok);
  }
  return ok;
}

/** The apt-get line that installs the missing tools ('' when none is missing). */
export function installHint(tools: readonly Tool[]): string {
  const missing = [...new Set(tools.filter((t) => !hasTool(t)).map((t) => PACKAGE[t]))];
  return missing.length === 0 ? '' : `apt-get install -y ${missing.join(' ')}`;
}

/** Throws NotInstalled naming the apt-get line when any tool is missing. */
export function requireTools(tools: readonly Tool[]): void {
  const hint = installHint(tools);
  if (hint) throw new NotInstalled(tools.filter((t) => !hasTool(t)), hint);
}

export class NotInstalled extends Error {
  readonly code = 'E_BENCH_NOT_INSTALLED';
  constructor(readonly tools: readonly Tool[], readonly hint: string) {
    super(`${tools.join(', ')} not installed: ${hint}`);
  }
}

/** One line of version text per tool ('<tool> not installed' when missing). */
export function toolVersion(tool: Tool): string {
  if (!hasTool(tool)) return `${tool} not installed`;
  const r = spawnSync(tool, VERSION_ARGS[tool], { encoding: 'utf8' });
  const text = `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
  const line = text.split('\n').map((l) => l.trim()).find((l) => /\d+\.\d+/.test(l)) ?? '?';
  return line.replace(/^nginx version: /, '').replace(/ - https?:.*$/, '').replace(/,? compiled with:?.*$/, '').replace(/ Copyright .*$/, '').replace(/\s+/g, ' ').trim().slice(0, 80);
}

/** The version of an npm package the bench loads (from its package.json). */
export function npmVersion(name: string): string {
  try {
    const require = createRequire(import.meta.url);
    const file = require.resolve(`${name}/package.json`);
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}
