import { readFileSync } from 'node:fs';
import type { TSchema, Static } from '@sinclair/typebox';
import { Value, ValueErrorType } from '@sinclair/typebox/value';
import { ConfigError } from './errors.js';

/** Parses JSON text; a syntax error becomes a ConfigError naming the source. */
export function parseJsonDocument(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ConfigError([`not valid JSON: ${(err as Error).message}`], source);
  }
}

/** Reads and parses a JSON config file; unreadable or malformed files become ConfigErrors. */
export function readJsonFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`cannot read file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`], path);
  }
  return parseJsonDocument(text, path);
}

/**
 * A JSON pointer as the field name people read: `apps.api-prod.dynos[0]`. Whether a segment is
 * an array index or an object key is read from the document itself (an app named `1` is
 * `apps.1`, not `apps[1]`); a key that would not read as one (empty, spaces, brackets, quotes)
 * is quoted: `apps[""]`.
 */
function fieldName(pointer: string, root: unknown): string {
  if (pointer === '') return '(document)';
  let node: unknown = root;
  let out = '';
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node) && /^\d+$/.test(key)) out += `[${key}]`;
    else if (/^[A-Za-z0-9_$.*:@-]+$/.test(key)) out += out === '' ? key : `.${key}`;
    else out += out === '' ? JSON.stringify(key) : `[${JSON.stringify(key)}]`;
    node = node !== null && typeof node === 'object' && Object.hasOwn(node, key) ? (node as Record<string, unknown>)[key] : undefined;
  }
  return out;
}

/**
 * Validates the whole document against a TypeBox schema and returns every problem as
 * `field: reason` (no early stop). Unknown keys (additionalProperties: false) are reported by
 * their own name. A union of objects told apart by a `type` literal reports the errors of the
 * member the value names, not a bare "expected union value".
 */
export function schemaProblems(schema: TSchema, value: unknown, prefix = '', root: unknown = value): string[] {
  const problems: string[] = [];
  for (const e of Value.Errors(schema, value)) {
    const path = prefix + e.path;
    if (e.type === ValueErrorType.Union) {
      const member = unionMemberByType(e.schema, e.value);
      if (member) {
        problems.push(...schemaProblems(member, e.value, path, root));
        continue;
      }
      const types = unionTypes(e.schema);
      if (types.length > 0) {
        problems.push(`${fieldName(path, root)}.type: must be one of ${types.join(', ')}`);
        continue;
      }
    }
    const reason = e.type === ValueErrorType.ObjectAdditionalProperties || e.type === ValueErrorType.IntersectUnevaluatedProperties
      ? 'unknown key'
      : e.message.charAt(0).toLowerCase() + e.message.slice(1);
    problems.push(`${fieldName(path, root)}: ${reason}`);
  }
  return [...new Set(problems)];
}

function unionTypes(schema: TSchema): string[] {
  const anyOf = (schema as { anyOf?: TSchema[] }).anyOf ?? [];
  return anyOf
    .map((m) => (m as { properties?: { type?: { const?: unknown } } }).properties?.type?.const)
    .filter((c): c is string => typeof c === 'string');
}

function unionMemberByType(schema: TSchema, value: unknown): TSchema | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const t = (value as { type?: unknown }).type;
  const anyOf = (schema as { anyOf?: TSchema[] }).anyOf ?? [];
  return anyOf.find((m) => (m as { properties?: { type?: { const?: unknown } } }).properties?.type?.const === t);
}

/** Validates, throws ConfigError with every problem, returns the typed value. */
export function validateDocument<T extends TSchema>(schema: T, value: unknown, source: string): Static<T> {
  const problems = schemaProblems(schema, value);
  if (problems.length > 0) throw new ConfigError(problems, source);
  return value as Static<T>;
}

/** Deep-freezes a plain JSON-like value (config is validated whole, then frozen). */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}
