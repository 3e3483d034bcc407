import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { createSecureContext } from 'node:tls';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../../shared/errors.js';
import { deepFreeze, parseJsonDocument, schemaProblems } from '../../shared/config-file.js';
import { RouterConfigSchema, sectionConflicts, type RouterConfig } from './schema.js';
import { AppFilterRefSchema, FilterDefSchema, type FilterDef } from './filter-schema.js';
import { lowerAscii } from '../routing/route-table.js';
import { normalisePath } from '../routing/normalise-path.js';
import { filterProblems, filterRefProblems } from '../filters/filter-factory.js';
import { prefixProblem } from '../filters/path-scope.js';
import { CanaryDefSchema, canariesFromApps, type AppWithCanary } from '../canary/canary-schema.js';
import { WHOLE, inScope, sparseCopy, type ValidationScope } from './scoped-validation.js';
import { documentDigest } from './document-digest.js';
import { acmeProblems } from '../acme/acme-schema.js';

const FilterRefsSchema = Type.Array(AppFilterRefSchema);

/** A validated, frozen config document with its version and the directory relative paths resolve against. */
export interface LoadedConfig {
  readonly config: RouterConfig;
  /** content hash: the same document always has the same version (the first 12 digits of sha256) */
  readonly version: string;
  /** the document's content digest (document-digest.ts), 64 hex digits */
  readonly sha256: string;
  /** certificate paths in the document are relative to this directory */
  readonly baseDir: string;
}

/** Longest certificate or key file read (a PEM chain is a few KiB). */
const MAX_PEM_BYTES = 1024 * 1024;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Problems the schema cannot see: cross references, listener needs, readable files. Runs on a
 * document of any shape (the schema's own problems are reported beside these): each check only
 * reads the parts that have the shape it needs, so no input throws anything but ConfigError.
 * References use own keys only (`"app": "toString"` names no app). With a scope (a change to a
 * valid document, scoped-validation.ts), only what the change can break is checked.
 */
function semanticProblems(c: Record<string, unknown>, baseDir: string, scope: ValidationScope): string[] {
  // sections that exclude each other (bus and logshuttle): cheap, checked whatever the scope
  const problems: string[] = sectionConflicts(c);
  problems.push(...acmeProblems(c.acme));
  const apps = isObject(c.apps) ? c.apps : {};
  const filters: Record<string, FilterDef> = {};
  if (isObject(c.filters)) {
    for (const [name, def] of Object.entries(c.filters)) if (Value.Check(FilterDefSchema, def)) filters[name] = def;
    problems.push(...filterProblems(filters, baseDir));
  }
  const listen = c.listen as { https?: unknown } | undefined;
  const certificates = Array.isArray(c.certificates) ? c.certificates : [];
  if (isObject(listen) && listen.https !== undefined && certificates.length === 0) {
    problems.push('listen.https: needs at least one entry in certificates');
  }
  // the canary module reads apps of the right shape: others are kept (they exist) without their canary
  const canaryApps: Record<string, AppWithCanary> = {};
  for (const [name, app] of Object.entries(apps)) {
    if (!isObject(app)) {
      canaryApps[name] = {};
      continue;
    }
    const own = inScope(scope.apps, name);
    if ((own || scope.allFilterRefs) && Value.Check(FilterRefsSchema, app.filters)) problems.push(...filterRefProblems(name, app.filters, filters));
    const canary = Value.Check(CanaryDefSchema, app.canary) ? app.canary : undefined;
    if (canary !== undefined && !Object.hasOwn(apps, canary.app)) {
      if (own || scope.allAppRefs) problems.push(`apps.${name}.canary.app: no app named "${canary.app}"`);
      canaryApps[name] = {};
    } else {
      canaryApps[name] = canary === undefined ? {} : { canary };
    }
  }
  problems.push(...canariesFromApps(canaryApps).problems);
  const sites = isObject(c.sites) ? c.sites : {};
  // a scoped check reads the changed sites whole, and the others' route apps when an app was removed
  const hosts = scope.sites === 'all' || scope.allAppRefs ? Object.keys(sites) : [...scope.sites].filter((h) => Object.hasOwn(sites, h));
  for (const host of hosts) {
    const site = sites[host];
    if (!isObject(site) || !Array.isArray(site.routes)) continue;
    const whole = inScope(scope.sites, host);
    const seen = new Set<string>();
    site.routes.forEach((route: unknown, i: number) => {
      if (!isObject(route)) return;
      const at = `sites.${host}.routes[${i}]`;
      if (typeof route.app === 'string' && !Object.hasOwn(apps, route.app)) problems.push(`${at}.app: no app named "${route.app}"`);
      if (!whole) return;
      for (const field of ['path', 'target'] as const) {
        const value = route[field];
        if (typeof value !== 'string') continue;
        const why = prefixProblem(value);
        if (why !== undefined) problems.push(`${at}.${field}: ${why.replace('path prefix', 'path')}`);
      }
      if (typeof route.path !== 'string') return;
      const key = lowerAscii(normalisePath(route.path)).replace(/\/+$/, '');
      if (seen.has(key)) problems.push(`${at}.path: duplicate route "${route.path}"`);
      seen.add(key);
    });
  }
  if (scope.certificates) certificates.forEach((cert: unknown, i: number) => {
    if (!isObject(cert)) return;
    const pems: Partial<Record<'cert' | 'key', Buffer>> = {};
    for (const field of ['cert', 'key'] as const) {
      const file = cert[field];
      if (typeof file !== 'string' || file === '') continue;
      const why = pemProblem(resolve(baseDir, file));
      if (typeof why === 'string') problems.push(`certificates[${i}].${field}: ${file} ${why}`);
      else pems[field] = why;
    }
    if (pems.cert && pems.key) {
      try {
        createSecureContext({ cert: pems.cert, key: pems.key });
      } catch (err) {
        problems.push(`certificates[${i}]: certificate and key are not usable together (${(err as Error).message})`);
      }
    }
  });
  return problems;
}

/** The PEM file's bytes, or why it cannot be one (never a device, a directory or a huge file). */
function pemProblem(path: string): Buffer | string {
  try {
    const st = statSync(path);
    if (!st.isFile()) return 'is not a regular file';
    if (st.size > MAX_PEM_BYTES) return `is larger than ${MAX_PEM_BYTES} bytes`;
    const pem = readFileSync(path);
    return pem.includes('-----BEGIN ') ? pem : 'is not a PEM file';
  } catch (err) {
    return `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
  }
}

/**
 * Validates a parsed document (schema, then cross references); every problem is listed. Whole
 * by default; with a scope, `doc` is a change to a valid document and only what the change can
 * break is checked (scoped-validation.ts: the same problems as the whole check).
 */
export function validateRouterConfig(doc: unknown, source: string, baseDir: string, scope: ValidationScope = WHOLE): LoadedConfig {
  const problems = documentProblems(doc, baseDir, scope);
  if (problems.length > 0) throw new ConfigError(problems, source);
  const config = deepFreeze(doc as RouterConfig);
  const { sha256 } = documentDigest(config as unknown as Record<string, unknown>);
  return Object.freeze({ config, version: sha256.slice(0, 12), sha256, baseDir });
}

/** Every problem of `doc` within `scope`, as `field: reason`. */
export function documentProblems(doc: unknown, baseDir: string, scope: ValidationScope = WHOLE): string[] {
  // cross-reference checks only make sense on a document of the right shape at the top
  if (!isObject(doc)) return schemaProblems(RouterConfigSchema, doc);
  const problems = schemaProblems(RouterConfigSchema, sparseCopy(doc, scope));
  problems.push(...semanticProblems(doc, baseDir, scope));
  return [...new Set(problems)];
}

/** Reads and validates the router config file. Throws ConfigError (exit 2 in main). */
export function loadRouterConfigFile(path: string): LoadedConfig {
  return readRouterConfigFile(path).loaded;
}

/** loadRouterConfigFile, with the SHA-256 of the text read (the reload owner compares it on a change event). */
export function readRouterConfigFile(path: string): { loaded: LoadedConfig; textSha256: string } {
  const abs = resolve(path);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    throw new ConfigError([`cannot read file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`], path);
  }
  const loaded = validateRouterConfig(parseJsonDocument(text, path), path, dirname(abs));
  return { loaded, textSha256: createHash('sha256').update(text).digest('hex') };
}

/** Validates a document received as text (PUT /config). */
export function parseRouterConfigText(text: string, baseDir: string): LoadedConfig {
  return validateRouterConfig(parseJsonDocument(text, 'config'), 'config', baseDir);
}
