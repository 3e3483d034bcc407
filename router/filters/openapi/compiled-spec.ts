import type { ValidateFunction } from 'ajv';
import { PathMatcher } from './path-matcher.js';
import { escapeToken, pointerOf, refTo, resolveObject, valueAt, internalRef } from './json-pointer.js';
import { findSameValueCycle } from './schema-cycles.js';
import { errorSentence, specAjv, SPEC_ID, type SpecAjv } from './spec-ajv.js';
import { bareMediaType, isJsonMediaType, parseJsonBody } from './json-body.js';
import { queryPairs } from '../query-params.js';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
type Where = 'path' | 'query' | 'header';

interface Param {
  readonly name: string;
  /** header names lower-cased */
  readonly key: string;
  readonly array: boolean;
  readonly explode: boolean;
}

interface ParamGroup {
  readonly params: readonly Param[];
  readonly validate: ValidateFunction;
}

interface MediaCheck {
  /** `application/json`, `application/*`, `*\/*` */
  readonly type: string;
  readonly json: boolean;
  readonly validate: ValidateFunction | null;
}

interface BodyCheck {
  readonly required: boolean;
  readonly media: readonly MediaCheck[];
}

/** One operation of the spec, its checks compiled. */
export interface Operation {
  readonly method: string;
  readonly template: string;
  readonly groups: Readonly<Partial<Record<Where, ParamGroup>>>;
  readonly body: BodyCheck | null;
}

/** What a request looks like to the parameter checks. */
export interface RequestParts {
  readonly query: string;
  header(lowerCaseName: string): string;
}

/** A spec that cannot be used: every problem names a JSON pointer of the bundled document. */
export class SpecCompileError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
  }
}

/**
 * An OpenAPI 3.0 or 3.1 document compiled once (spec-cache.ts keeps one per content): a path
 * template trie to the operations, and per operation one Ajv validator per parameter location
 * (path, query, header: coerced from strings) and per request-body media type. Schemas are
 * compiled by reference into the whole document (added to Ajv as `spec`), so `$ref`s, also
 * recursive ones, resolve as Ajv resolves them; a `$ref` cycle that never descends into the
 * value (which would recurse forever) is refused here (schema-cycles.ts).
 * Cookie parameters and object-typed query parameters are not checked.
 */
export class CompiledSpec {
  readonly version: '3.0' | '3.1';
  private readonly paths = new PathMatcher<Map<string, Operation>>();
  /** operations compiled */
  readonly operations: number;

  constructor(doc: unknown) {
    const problems: string[] = [];
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new SpecCompileError(['/: the document is not an object']);
    const d = doc as Record<string, unknown>;
    const v = typeof d.openapi === 'string' ? d.openapi : '';
    if (/^3\.0\.\d+$/.test(v)) this.version = '3.0';
    else if (/^3\.1\.\d+$/.test(v)) this.version = '3.1';
    else throw new SpecCompileError([`/openapi: ${v === '' ? 'missing' : `"${v}"`} (OpenAPI 3.0.x or 3.1.x documents only)`]);
    if (this.version === '3.0') fixExclusiveBounds(doc);
    const paths = d.paths;
    if (paths === null || typeof paths !== 'object' || Array.isArray(paths)) throw new SpecCompileError(['/paths: must be an object']);

    const roots: string[] = [];
    const components = (d.components as Record<string, unknown> | undefined)?.schemas;
    if (components !== null && typeof components === 'object') for (const name of Object.keys(components)) roots.push(pointerOf(['components', 'schemas', name]));
    const ops: { template: string; method: string; pointer: string; pathItem: string }[] = [];
    for (const template of Object.keys(paths)) {
      const item = resolveObject(doc, pointerOf(['paths', template]));
      if (typeof item === 'string') {
        problems.push(item);
        continue;
      }
      for (const m of METHODS) if (item.value[m] !== undefined) ops.push({ template, method: m.toUpperCase(), pointer: `${item.pointer}/${m}`, pathItem: item.pointer });
    }
    const plans = ops.map((op) => planOperation(doc, op.pointer, op.pathItem, problems, roots));
    const cycle = findSameValueCycle(doc, roots);
    if (cycle !== null) throw new SpecCompileError([`${cycle[0]}: $ref cycle that never descends into the value (${cycle.join(' -> ')})`]);
    if (problems.length > 0) throw new SpecCompileError(problems);

    const paramAjv = specAjv(this.version, doc, true);
    const bodyAjv = specAjv(this.version, doc, false);
    for (const pointer of roots) {
      const schema = valueAt(doc, pointer);
      if (schema !== null && typeof schema === 'object' && !paramAjv.validateSchema(schema as object)) {
        problems.push(`${pointer}: not a valid schema (${paramAjv.errorsText(paramAjv.errors, { dataVar: 'schema' })})`);
      }
    }
    if (problems.length > 0) throw new SpecCompileError(problems);

    const byPath = new Map<string, Map<string, Operation>>();
    ops.forEach((op, i) => {
      const plan = plans[i];
      const groups: Partial<Record<Where, ParamGroup>> = {};
      for (const where of ['path', 'query', 'header'] as const) {
        const list = plan.params.filter((p) => p.where === where);
        if (list.length === 0) continue;
        const schema = {
          type: 'object',
          properties: Object.fromEntries(list.filter((p) => p.schema !== null).map((p) => [p.param.key, { $ref: refTo(SPEC_ID, p.schema!) }])),
          required: list.filter((p) => p.required).map((p) => p.param.key),
        };
        const validate = compile(paramAjv, schema, `${op.pointer}/parameters`, problems);
        if (validate !== null) groups[where] = { params: list.map((p) => p.param), validate };
      }
      let body: BodyCheck | null = null;
      if (plan.body !== null) {
        body = {
          required: plan.body.required,
          media: plan.body.media.map((m) => ({
            type: m.type,
            json: isJsonMediaType(m.type) || m.type === '*/*' || m.type === 'application/*',
            validate: m.schema === null ? null : compile(bodyAjv, { $ref: refTo(SPEC_ID, m.schema) }, m.schema, problems),
          })),
        };
      }
      const operation: Operation = Object.freeze({ method: op.method, template: op.template, groups: Object.freeze(groups), body });
      let methods = byPath.get(op.template);
      if (methods === undefined) {
        methods = new Map();
        byPath.set(op.template, methods);
      }
      methods.set(op.method, operation);
    });
    for (const [template, methods] of byPath) {
      const why = this.paths.add(template, methods);
      if (why !== undefined) problems.push(`${pointerOf(['paths', template])}: ${why}`);
    }
    if (problems.length > 0) throw new SpecCompileError(problems);
    this.operations = ops.length;
  }

  /**
   * The operation for a path and method, with its path parameters; 'no_path' when no template
   * matches, 'no_method' when the path has no such method (HEAD falls back to GET).
   */
  match(method: string, path: string): { op: Operation; pathParams: Record<string, string> } | 'no_path' | 'no_method' {
    const m = this.paths.match(path);
    if (m === null) return 'no_path';
    const op = m.value.get(method) ?? (method === 'HEAD' ? m.value.get('GET') : undefined);
    return op === undefined ? 'no_method' : { op, pathParams: m.params };
  }
}

/** The first parameter problem of a request (path, query, headers), or null. */
export function checkParameters(op: Operation, pathParams: Record<string, string>, req: RequestParts): string | null {
  for (const where of ['path', 'query', 'header'] as const) {
    const g = op.groups[where];
    if (g === undefined) continue;
    const data: Record<string, unknown> = {};
    if (where === 'path') {
      for (const p of g.params) if (Object.hasOwn(pathParams, p.name)) data[p.key] = p.array ? pathParams[p.name].split(',') : pathParams[p.name];
    } else if (where === 'header') {
      for (const p of g.params) {
        const v = req.header(p.key);
        if (v !== '') data[p.key] = p.array ? v.split(',').map((s) => s.trim()) : v;
      }
    } else {
      const pairs = queryPairs(req.query);
      for (const p of g.params) {
        const values: string[] = [];
        for (const [n, v] of pairs) if (n === p.name) values.push(v);
        if (values.length === 0) continue;
        data[p.key] = !p.array ? values[0] : p.explode ? values : values[0].split(',');
      }
    }
    if (!g.validate(data)) {
      const e = g.validate.errors![0];
      const label = where === 'header' ? 'header' : `${where} parameter`;
      if (e.keyword === 'required' && e.instancePath === '') return `${label} "${(e.params as { missingProperty: string }).missingProperty}" is required`;
      const [, name, ...rest] = e.instancePath.split('/');
      return `${label} "${name}"${rest.length > 0 ? ` at /${rest.join('/')}` : ''} ${errorSentence(e)}`;
    }
  }
  return null;
}

/** Does the operation need the body read (validate_body): a JSON media type with a schema for this content type. */
export function bodyMedia(op: Operation, contentType: string): MediaCheck | null | 'unsupported' {
  if (op.body === null) return null;
  const type = bareMediaType(contentType);
  const slash = type.indexOf('/');
  const range = slash === -1 ? '' : type.slice(0, slash) + '/*';
  const m = op.body.media.find((x) => x.type === type) ?? op.body.media.find((x) => x.type === range) ?? op.body.media.find((x) => x.type === '*/*');
  return m === undefined ? 'unsupported' : m;
}

/** The first problem of a JSON body against its media type's schema, or null. */
export function checkJsonBody(m: MediaCheck, bytes: Buffer): string | null {
  if (m.validate === null) return null;
  const parsed = parseJsonBody(bytes);
  if ('problem' in parsed) return parsed.problem;
  let ok: boolean;
  try {
    ok = m.validate(parsed.value) as boolean;
  } catch (err) {
    return `request body could not be validated (${(err as Error).message})`;
  }
  if (ok) return null;
  const e = m.validate.errors![0];
  return `request body${e.instancePath === '' ? '' : ` at ${e.instancePath}`} ${errorSentence(e)}`;
}

interface ParamPlan {
  readonly where: Where;
  readonly param: Param;
  readonly required: boolean;
  /** pointer of its schema, null when it has none to check (content-encoded, object-typed) */
  readonly schema: string | null;
}

interface OperationPlan {
  readonly params: ParamPlan[];
  readonly body: { required: boolean; media: { type: string; schema: string | null }[] } | null;
}

/** Reads an operation's parameters (path-level ones, overridden by the operation's) and request body. */
function planOperation(doc: unknown, opPointer: string, itemPointer: string, problems: string[], roots: string[]): OperationPlan {
  const byKey = new Map<string, ParamPlan>();
  for (const listPointer of [`${itemPointer}/parameters`, `${opPointer}/parameters`]) {
    const list = valueAt(doc, listPointer);
    if (list === undefined) continue;
    if (!Array.isArray(list)) {
      problems.push(`${listPointer}: must be an array`);
      continue;
    }
    list.forEach((_p, i) => {
      const r = resolveObject(doc, `${listPointer}/${i}`);
      if (typeof r === 'string') {
        problems.push(r);
        return;
      }
      const p = r.value;
      const where = p.in;
      if (typeof p.name !== 'string' || p.name === '') {
        problems.push(`${r.pointer}/name: must be a non-empty string`);
        return;
      }
      if (where === 'cookie') return;
      if (where !== 'path' && where !== 'query' && where !== 'header') {
        problems.push(`${r.pointer}/in: must be path, query, header or cookie`);
        return;
      }
      const hasSchema = p.schema !== null && typeof p.schema === 'object';
      const schemaPointer = hasSchema ? `${r.pointer}/schema` : null;
      if (schemaPointer !== null) roots.push(schemaPointer);
      const type = schemaPointer === null ? undefined : schemaType(doc, schemaPointer);
      const array = type === 'array';
      const style = typeof p.style === 'string' ? p.style : where === 'query' ? 'form' : 'simple';
      const explode = typeof p.explode === 'boolean' ? p.explode : style === 'form';
      const key = where === 'header' ? p.name.toLowerCase() : p.name;
      byKey.set(`${where}\u0000${key}`, {
        where,
        param: { name: p.name, key, array, explode },
        required: where === 'path' || p.required === true,
        schema: type === 'object' ? null : schemaPointer,
      });
    });
  }
  let body: OperationPlan['body'] = null;
  if (valueAt(doc, `${opPointer}/requestBody`) !== undefined) {
    const r = resolveObject(doc, `${opPointer}/requestBody`);
    if (typeof r === 'string') problems.push(r);
    else {
      const content = r.value.content;
      const media: { type: string; schema: string | null }[] = [];
      if (content !== null && typeof content === 'object') {
        for (const [type, m] of Object.entries(content as Record<string, unknown>)) {
          const has = m !== null && typeof m === 'object' && (m as Record<string, unknown>).schema !== undefined;
          const pointer = has ? `${r.pointer}/content/${escapeToken(type)}/schema` : null;
          if (pointer !== null) roots.push(pointer);
          media.push({ type: bareMediaType(type), schema: pointer });
        }
      }
      body = { required: r.value.required === true, media };
    }
  }
  return { params: [...byKey.values()], body };
}

/** The `type` of the schema at a pointer, following `$ref`s ('array' when a 3.1 type list has it). */
function schemaType(doc: unknown, pointer: string): string | undefined {
  let at = pointer;
  for (let hops = 0; hops < 64; hops++) {
    const s = valueAt(doc, at) as Record<string, unknown> | undefined;
    if (s === null || typeof s !== 'object') return undefined;
    if (typeof s.$ref === 'string') {
      const next = internalRef(s.$ref);
      if (next === null) return undefined;
      at = next;
      continue;
    }
    if (Array.isArray(s.type)) return s.type.includes('array') ? 'array' : s.type.includes('object') ? 'object' : undefined;
    return typeof s.type === 'string' ? s.type : undefined;
  }
  return undefined;
}

function compile(ajv: SpecAjv, schema: object, pointer: string, problems: string[]): ValidateFunction | null {
  try {
    return ajv.compile(schema);
  } catch (err) {
    const msg = err instanceof RangeError ? 'the schema nests too deeply to compile' : (err as Error).message;
    problems.push(`${pointer}: ${msg}`);
    return null;
  }
}

/** OpenAPI 3.0 (JSON Schema draft 4 style) boolean exclusiveMinimum/Maximum to draft 7 numbers, in place; iterative. */
function fixExclusiveBounds(doc: unknown): void {
  const seen = new Set<object>();
  const stack: unknown[] = [doc];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object' || seen.has(v)) continue;
    seen.add(v);
    if (!Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      for (const [flag, bound] of [['exclusiveMinimum', 'minimum'], ['exclusiveMaximum', 'maximum']] as const) {
        if (o[flag] === true && typeof o[bound] === 'number') {
          o[flag] = o[bound];
          delete o[bound];
        } else if (o[flag] === false) {
          delete o[flag];
        }
      }
    }
    for (const child of Object.values(v)) if (child !== null && typeof child === 'object') stack.push(child);
  }
}
