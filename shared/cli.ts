import { EdgeplaneError } from './errors.js';

/**
 * Runs a program's main; a usage or config error prints a clear message to stderr and exits 2
 * (DESIGN.md: bad command-line input or config, exit 2, nothing started).
 */
export function runMain(program: string, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    if (err instanceof EdgeplaneError && (err.code === 'E_USAGE' || err.code === 'E_CONFIG')) {
      process.stderr.write(`${program}: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`${program}: fatal: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  });
}
