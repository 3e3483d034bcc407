import { CompiledSpec, SpecCompileError } from './compiled-spec.js';
import { loadSpecSync, SpecLoadError } from './spec-loader.js';

/** compiled specs of this thread by content hash (a reload with the same content compiles nothing) */
const compiled = new Map<string, CompiledSpec>();
const MAX_COMPILED = 32;

/** Why a spec cannot be used: each problem names the file and a JSON pointer. */
export class OpenApiSpecError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
  }
}

/**
 * The compiled spec of the file at `absPath`: read and bundled (spec-loader.ts, cached by the
 * content of every file it reads), compiled once per content per thread (CompiledSpec).
 * Throws OpenApiSpecError.
 */
export function compiledSpecFor(absPath: string): CompiledSpec {
  let loaded;
  try {
    loaded = loadSpecSync(absPath);
  } catch (err) {
    if (err instanceof SpecLoadError) throw new OpenApiSpecError(err.problems);
    throw err;
  }
  const hit = compiled.get(loaded.contentHash);
  if (hit !== undefined) {
    // most recently used last
    compiled.delete(loaded.contentHash);
    compiled.set(loaded.contentHash, hit);
    return hit;
  }
  let spec: CompiledSpec;
  try {
    // the bundled document is this thread's own copy (structured clone): compiling may adjust it
    spec = new CompiledSpec(loaded.doc);
  } catch (err) {
    if (err instanceof SpecCompileError) throw new OpenApiSpecError(err.problems.map((p) => `${absPath} at ${p}`));
    if (err instanceof RangeError) throw new OpenApiSpecError([`${absPath}: the document nests too deeply`]);
    throw err;
  }
  if (compiled.size >= MAX_COMPILED) compiled.delete(compiled.keys().next().value!);
  compiled.set(loaded.contentHash, spec);
  return spec;
}
