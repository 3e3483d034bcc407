import { internalRef, valueAt } from './json-pointer.js';

/** Keywords whose subschemas apply to the same value (no descent into the data). */
const SAME_VALUE_LISTS = ['allOf', 'anyOf', 'oneOf'] as const;
const SAME_VALUE_ONE = ['not', 'if', 'then', 'else'] as const;

function sameValueChildren(pointer: string, schema: Record<string, unknown>): string[] {
  const out: string[] = [];
  const ref = schema.$ref;
  if (typeof ref === 'string') {
    const target = internalRef(ref);
    if (target !== null) out.push(target);
  }
  for (const k of SAME_VALUE_LISTS) {
    const list = schema[k];
    if (Array.isArray(list)) list.forEach((_s, i) => out.push(`${pointer}/${k}/${i}`));
  }
  for (const k of SAME_VALUE_ONE) if (schema[k] !== undefined && typeof schema[k] === 'object') out.push(`${pointer}/${k}`);
  const dep = schema.dependentSchemas;
  if (dep !== null && typeof dep === 'object') for (const name of Object.keys(dep)) out.push(`${pointer}/dependentSchemas/${name.replace(/~/g, '~0').replace(/\//g, '~1')}`);
  return out;
}

/**
 * Finds a `$ref` cycle that never descends into the data (`A: { $ref: A }`, or A's allOf
 * naming B whose anyOf names A): validating any value against it would recurse forever, so
 * such a spec is refused at config load. Cycles through `properties`, `items` and the like are
 * fine (each step descends into the value, which is finite). Iterative: no recursion however
 * deep the document. Returns the pointers of the cycle, or null.
 */
export function findSameValueCycle(doc: unknown, roots: readonly string[]): string[] | null {
  const state = new Map<string, 1 | 2>(); // 1 on the path, 2 done
  for (const root of roots) {
    if (state.has(root)) continue;
    const stack: { pointer: string; children: string[]; next: number }[] = [];
    const enter = (pointer: string): void => {
      const v = valueAt(doc, pointer);
      const children = v !== null && typeof v === 'object' && !Array.isArray(v) ? sameValueChildren(pointer, v as Record<string, unknown>) : [];
      state.set(pointer, 1);
      stack.push({ pointer, children, next: 0 });
    };
    enter(root);
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      if (top.next >= top.children.length) {
        state.set(top.pointer, 2);
        stack.pop();
        continue;
      }
      const child = top.children[top.next++];
      const s = state.get(child);
      if (s === 1) {
        const from = stack.findIndex((f) => f.pointer === child);
        return [...stack.slice(from).map((f) => f.pointer), child];
      }
      if (s === undefined) enter(child);
    }
  }
  return null;
}
