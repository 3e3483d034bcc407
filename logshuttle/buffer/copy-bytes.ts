/** Runs up to this long are copied byte by byte (a tail line's timestamp, names, typical messages). */
const LOOP_MAX = 32;

/**
 * Copies `src[from, to)` into `dst` at `at` and returns the offset after it. The hot paths copy
 * fields of a few bytes, where Buffer#copy (argument checks, a view made per call) costs more
 * than the copy itself: those go byte by byte, longer runs with TypedArray#set.
 */
export function copyBytes(src: Uint8Array, from: number, to: number, dst: Uint8Array, at: number): number {
  if (to - from > LOOP_MAX) {
    dst.set(src.subarray(from, to), at);
    return at + (to - from);
  }
  for (let i = from; i < to; i++) dst[at++] = src[i];
  return at;
}
