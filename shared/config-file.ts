import { readFileSync } from 'node:fs';
import type { TSchema, Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
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

/** Field path in the form operators read: `apps.api-prod.dynos[0]`. */
function fieldName(pointer: string): string {
  if (pointer === '') return '(document)';
  return pointer
    .slice(1)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`))
    .join('');
}

/**
 * Validates the whole document against a TypeBox schema and returns every problem as
 * `field: reason` (no early stop). Unknown keys are errors when the schema says so
 * (additionalProperties: false).
 */
export function schemaProblems(schema: TSchema, value: unknown): string[] {
  const seen = new Set<string>();
  const problems: string[] = [];
  for (const e of Value.Errors(schema, value)) {
    let msg: string;
    // report unknown keys by their own name, not their parent
    if (e.schema && (e.schema as { additionalProperties?: unknown }).additionalProperties === false && e.value && typeof e.value === 'object' && /additional/i.test(e.message)) {
      const allowed = Object.keys((e.schema as { properties?: object }).properties ?? {});
      const extra = Object.keys(e.value as object).filter((k) => !allowed.includes(k));
      for (const k of extra) {
        msg = `${fieldName(e.path + '/' + k)}: unknown key`;
        if (!seen.has(msg)) { seen.add(msg); problems.push(msg); }
      }
      continue;
    }
    msg = `${fieldName(e.path)}: ${e.message.toLowerCase()}`;
    if (!seen.has(msg)) { seen.add(msg); problems.push(msg); }
  }
  return problems;
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
