/**
 * A JSON Schema (draft-07) checker for the keywords the rendered config schemas use, so the
 * deploy tests can check what an editor would say about a document with the COMMITTED schema
 * files (plain JSON, no TypeBox). An unknown keyword throws: the checker never silently passes.
 */
type Schema = Record<string, any>;

const KNOWN = new Set(['$schema', 'title', 'description', 'default', 'type', 'properties', 'required',
  'additionalProperties', 'patternProperties', 'items', 'minItems', 'minLength', 'pattern', 'minimum',
  'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'anyOf', 'const']);

function typeOk(type: string, v: unknown): boolean {
  switch (type) {
    case 'object': return typeof v === 'object' && v !== null && !Array.isArray(v);
    case 'array': return Array.isArray(v);
    case 'string': return typeof v === 'string';
    case 'integer': return Number.isInteger(v);
    case 'number': return typeof v === 'number' && Number.isFinite(v);
    case 'boolean': return typeof v === 'boolean';
    default: throw new Error(`unknown type ${type}`);
  }
}

/** Every problem of `value` under `schema`, as `path: reason`; [] when valid. */
export function jsonSchemaProblems(schema: Schema, value: unknown, path = '(document)'): string[] {
  for (const k of Object.keys(schema)) if (!KNOWN.has(k)) throw new Error(`${path}: keyword ${k} not supported by the checker`);
  if (schema.type !== undefined && !typeOk(schema.type, value)) return [`${path}: not ${schema.type}`];
  const out: string[] = [];
  if (schema.const !== undefined && value !== schema.const) out.push(`${path}: not ${JSON.stringify(schema.const)}`);
  if (schema.anyOf && !schema.anyOf.some((s: Schema) => jsonSchemaProblems(s, value, path).length === 0)) out.push(`${path}: matches none of anyOf`);
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) out.push(`${path}: shorter than ${schema.minLength}`);
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) out.push(`${path}: does not match ${schema.pattern}`);
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) out.push(`${path}: below ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) out.push(`${path}: above ${schema.maximum}`);
    if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) out.push(`${path}: not above ${schema.exclusiveMinimum}`);
    if (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum) out.push(`${path}: not below ${schema.exclusiveMaximum}`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) out.push(`${path}: fewer than ${schema.minItems} items`);
    if (schema.items) value.forEach((v, i) => out.push(...jsonSchemaProblems(schema.items, v, `${path}[${i}]`)));
  }
  if (typeOk('object', value)) {
    const obj = value as Record<string, unknown>;
    for (const r of schema.required ?? []) if (!(r in obj)) out.push(`${path}.${r}: required`);
    for (const [k, v] of Object.entries(obj)) {
      let matched = false;
      if (schema.properties && k in schema.properties) {
        matched = true;
        out.push(...jsonSchemaProblems(schema.properties[k], v, `${path}.${k}`));
      }
      for (const [re, s] of Object.entries(schema.patternProperties ?? {})) {
        if (new RegExp(re, 'u').test(k)) {
          matched = true;
          out.push(...jsonSchemaProblems(s as Schema, v, `${path}.${k}`));
        }
      }
      if (!matched && schema.additionalProperties === false) out.push(`${path}.${k}: unknown key`);
    }
  }
  return out;
}
