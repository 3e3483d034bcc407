/**
 * CPU pinning for every bench: the program under test (and its backend or sink) on one core,
 * the load generator on the other, the same for every peer. On this 2-core machine that is
 * CPU 0 for the proxy/relay and CPU 1 for the load (autocannon runs inside the bench process,
 * which pins itself to CPU 1; wrk is started on CPU 1).
 */
import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';

export const SUBJECT_CPU = '0';
export const LOAD_CPU = '1';
export const ALL_CPUS = '0,1';

export const PINNING_TEXT = `program under test + its backend on CPU ${SUBJECT_CPU}, load generator (autocannon in the bench process, wrk, syslog generator and sinks) on CPU ${LOAD_CPU} (taskset)`;

/** Pins this process (every thread) to `cpu`; false when taskset failed. */
export function pinSelf(cpu: string = LOAD_CPU): boolean {
  return spawnSync('taskset', ['-a', '-p', '-c', cpu, String(process.pid)], { stdio: 'ignore' }).status === 0;
}

export interface PinnedSpawnOptions {
  stdio?: StdioOptions;
  env?: NodeJS.ProcessEnv;
  /** raise RLIMIT_NOFILE (soft and hard) of the child with prlimit */
  nofile?: number;
}

/** Starts `cmd` on `cpu` (taskset execs the command: the child's pid is the program's pid). */
export function spawnPinned(cpu: string, cmd: string, args: readonly string[], opts: PinnedSpawnOptions = {}): ChildProcess {
  const pinned = ['taskset', '-c', cpu, cmd, ...args];
  const argv = opts.nofile ? ['prlimit', `--nofile=${opts.nofile}:${opts.nofile}`, ...pinned] : pinned;
  return spawn(argv[0], argv.slice(1), { stdio: opts.stdio ?? ['ignore', 'ignore', 'ignore'], env: opts.env ?? process.env });
}
