/** JSON pointers (RFC 6901) into a bundled OpenAPI document. */

export function escapeToken(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

export function unescapeToken(token: string): string {
  return token.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** `/paths/~1users/get` from tokens */
export function pointerOf(tokens: readonly (string | number)[]): string {
  return tokens.map((t) => '/' + escapeToken(String(t))).join('');
}

/** The value at a pointer (`''` = the root), undefined when it is not there. */
export function valueAt(doc: unknown, pointer: string): unknown {
  if (pointer === '') return doc;
  let cur: unknown = doc;
  for (const raw of pointer.slice(1).split('/')) {
    const token = unescapeToken(raw);
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, token)) return undefined;
    cur = (cur as Record<string, unknown>)[token];
  }
  return cur;
}

/** The pointer of an internal `$ref` (`#/components/schemas/X`, percent-escapes decoded), null for others. */
export function internalRef(ref: string): string | null {
  if (!ref.startsWith('#')) return null;
  try {
    return decodeURIComponent(ref.slice(1));
  } catch {
    return ref.slice(1);
  }
}

/** A `$ref` to `pointer` of the document added to Ajv under `id` (fragment percent-encoded as URIs need). */
export function refTo(id: string, pointer: string): string {
  return `${id}#${pointer.split('/').map((t) => encodeURIComponent(t)).join('/')}`;
}

const MAX_REF_HOPS = 64;

/**
 * Follows `$ref` chains from the object at `pointer` (OpenAPI reference objects: parameters,
 * request bodies, path items) to the object they name; its pointer and value, or why not.
 */
export function resolveObject(doc: unknown, pointer: string): { pointer: string; value: Record<string, unknown> } | string {
  let at = pointer;
  for (let hops = 0; hops <= MAX_REF_HOPS; hops++) {
    const v = valueAt(doc, at);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return `${at || '/'} is not an object`;
    const ref = (v as Record<string, unknown>).$ref;
    if (typeof ref !== 'string') return { pointer: at, value: v as Record<string, unknown> };
    const next = internalRef(ref);
    if (next === null) return `${at}: $ref "${ref}" is not resolvable`;
    at = next;
  }
  return `${pointer}: $ref chain longer than ${MAX_REF_HOPS} (a cycle?)`;
}
