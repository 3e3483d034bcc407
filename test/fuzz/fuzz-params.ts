import fc from 'fast-check';

/**
 * Fixed seed and run counts for the property tests, so `npm test` is reproducible. A longer run:
 * `FUZZ_RUNS=200000 FUZZ_SEED=12345 npx tap --timeout=0 test/fuzz/` (FUZZ_SEED=random picks one
 * and prints it). A failure prints the seed and the shrunk counterexample; rerun with that seed.
 */
export const DEFAULT_SEED = 20261125;

function envInt(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  if (v === 'random') return Date.now() % 2 ** 31;
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new Error(`${name} must be an integer, got ${v}`);
  return n;
}

export const SEED = envInt('FUZZ_SEED') ?? DEFAULT_SEED;
const RUNS = envInt('FUZZ_RUNS');

/** Runs for one property: FUZZ_RUNS when set, else the property's default (sized for CI). */
export function runs(defaultRuns: number): number {
  return RUNS ?? defaultRuns;
}

interface Assertions {
  pass(message: string): void;
}

/**
 * Checks a property with the fixed seed and records one passing assertion naming the runs and
 * seed; a counterexample throws (fast-check's report: seed, path, shrunk value), failing the test.
 */
export async function fuzz<Ts extends [unknown, ...unknown[]]>(
  t: Assertions,
  name: string,
  property: fc.IProperty<Ts> | fc.IAsyncProperty<Ts>,
  defaultRuns: number,
): Promise<void> {
  const numRuns = runs(defaultRuns);
  const started = Date.now();
  await fc.assert(property, { seed: SEED, numRuns, endOnFailure: false });
  t.pass(`${name}: ${numRuns} runs, seed ${SEED}, ${Date.now() - started} ms`);
}
