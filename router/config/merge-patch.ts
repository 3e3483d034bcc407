/**
 * JSON Merge Patch (RFC 7396), section 2's algorithm, with structural sharing: the result
 * reuses every part of `target` the patch does not reach (same object references), so a patch
 * to one app of a 10,000-site document copies the top level and the `apps` record and nothing
 * else. Neither argument is modified.
 *
 * Keys are defined as own data properties (a key `"__proto__"` parsed from JSON stays a key;
 * it never sets a prototype).
 */

type JsonObject = Record<string, unknown>;

export function isJsonObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function define(o: JsonObject, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isJsonObject(patch)) return patch;
  const out: JsonObject = isJsonObject(target) ? { ...target } : {};
  for (const key of Object.keys(patch)) {
    const value = patch[key];
    if (value === null) delete out[key];
    else define(out, key, applyMergePatch(Object.hasOwn(out, key) ? out[key] : undefined, value));
  }
  return out;
}
