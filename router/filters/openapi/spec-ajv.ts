import { createRequire } from 'node:module';
import type { Ajv, ErrorObject, Options } from 'ajv';
import type { Ajv2020 } from 'ajv/dist/2020.js';
import type { FormatsPlugin } from 'ajv-formats';

export type SpecAjv = Ajv | Ajv2020;

interface AjvModules {
  Ajv: typeof Ajv;
  Ajv2020: typeof Ajv2020;
  addFormats: FormatsPlugin;
}

let modules: AjvModules | null = null;

/**
 * Ajv and ajv-formats (CommonJS), loaded on the first spec compiled: a router without openapi
 * filters never pays for them (a few hundred ms per thread on a loaded machine).
 */
function ajvModules(): AjvModules {
  if (modules === null) {
    const require = createRequire(import.meta.url);
    const formats = require('ajv-formats') as FormatsPlugin & { default?: FormatsPlugin };
    modules = {
      Ajv: (require('ajv') as { Ajv: typeof Ajv }).Ajv,
      Ajv2020: (require('ajv/dist/2020.js') as { Ajv2020: typeof Ajv2020 }).Ajv2020,
      addFormats: formats.default ?? formats,
    };
  }
  return modules;
}

/** The id the whole OpenAPI document is added under: schemas are referenced as `spec#/<pointer>`. */
export const SPEC_ID = 'spec';

const INT32 = { min: -(2 ** 31), max: 2 ** 31 - 1 };

/**
 * An Ajv instance for one bundled spec: draft-07 with OpenAPI 3.0's `nullable` for 3.0
 * documents, JSON Schema 2020-12 for 3.1 ones; ajv-formats plus OpenAPI's own formats (int32,
 * int64, float, double, byte, binary, password). Unknown keywords (`example`, `xml`,
 * `discriminator`, …) are ignored (strict off), as OpenAPI validators do. `coerce`: parameters
 * arrive as strings and are coerced to the schema's types (and to one-element arrays).
 */
export function specAjv(version: '3.0' | '3.1', doc: object, coerce: boolean): SpecAjv {
  const opts: Options = {
    strict: false,
    allErrors: false,
    logger: false,
    validateSchema: false,
    coerceTypes: coerce ? 'array' : false,
    useDefaults: false,
    // patterns of OpenAPI specs are ECMA-262 regular expressions
    unicodeRegExp: true,
  };
  const m = ajvModules();
  const ajv = version === '3.1' ? new m.Ajv2020(opts) : new m.Ajv(opts);
  m.addFormats(ajv);
  ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= INT32.min && n <= INT32.max });
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) });
  ajv.addFormat('float', { type: 'number', validate: () => true });
  ajv.addFormat('double', { type: 'number', validate: () => true });
  ajv.addFormat('byte', /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/);
  ajv.addFormat('binary', true);
  ajv.addFormat('password', true);
  ajv.addSchema(doc, SPEC_ID);
  return ajv;
}

/** One Ajv error as a short sentence (`must be integer`, `must NOT have additional properties ("x")`). */
export function errorSentence(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  let msg = e.message ?? 'is invalid';
  if (typeof p.additionalProperty === 'string') msg += ` ("${p.additionalProperty}")`;
  else if (Array.isArray(p.allowedValues)) msg += `: ${p.allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  return msg;
}
