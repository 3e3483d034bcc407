import { readFileSync, statSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { resolve } from 'node:path';
import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { schemaProblems } from '../../shared/config-file.js';
import { RouterConfigSchema } from './schema.js';
import { AppFilterRefSchema, FilterDefSchema, type FilterDef } from './filter-schema.js';
import { lowerAscii } from './route-table.js';
import { normalisePath } from '../http/normalise-path.js';
import { filterProblems, filterRefProblems } from '../pipeline/filter-factory.js';
import { prefixProblem } from '../pipeline/path-scope.js';
import { CanaryDefSchema, canariesFromApps, type AppWithCanary } from '../canary/canary-schema.js';
import { isJsonObject } from './merge-patch.js';
import type { DocumentDiff } from './document-diff.js';

/**
 * The router document's problems, whole or for a change. A change to a document that was valid
 * can only break what it touched and what refers to it, so `scopeOf(diff)` checks:
 * - the schema on a sparse copy of the document (every top-level key, but of `apps` and
 *   `sites` only the entries added or changed): the same paths and messages as the whole;
 * - the changed apps' filter and canary references (every app's when a filter changed, or an
 *   app was removed), every canary pair (cheap: one entry per app), every filter definition;
 * - the changed sites' routes whole, and when an app was removed, every route's app;
 * - the certificate files when the certificates changed (or the scope asks: PUT and file
 *   reloads read them every time, a renewal in place changes them without a document change).
 * The problems of a scoped check are those of the whole check (as a set): a property test
 * compares them on random documents and patches (test/router/config/scoped-validation.test.ts).
 */

export interface ValidationScope {
  /** app names whose entries and references to check, or every app */
  readonly apps: ReadonlySet<string> | 'all';
  /** site hosts whose entries to check whole, or every site */
  readonly sites: ReadonlySet<string> | 'all';
  /** check every app's filter references (a filter definition changed) */
  readonly allFilterRefs: boolean;
  /** check every reference to an app (an app was removed) */
  readonly allAppRefs: boolean;
  /** read and check the certificate files */
  readonly certificates: boolean;
}

export const WHOLE: ValidationScope = Object.freeze({ apps: 'all', sites: 'all', allFilterRefs: true, allAppRefs: true, certificates: true });

/** What a change needs checked (see the module comment). */
export function scopeOf(diff: DocumentDiff, certificates: boolean): ValidationScope {
  const { apps, sites, filters } = diff.records;
  return Object.freeze({
    apps: apps === null ? 'all' : new Set(apps.changed),
    sites: sites === null ? 'all' : new Set(sites.changed),
    allFilterRefs: filters === null || filters.changed.length > 0 || filters.removed.length > 0,
    allAppRefs: apps === null || apps.removed.length > 0,
    certificates: certificates || diff.rest.includes('certificates'),
  });
}

const FilterRefsSchema = Type.Array(AppFilterRefSchema);

/** Longest certificate or key file read (a PEM chain is a few KiB). */
const MAX_PEM_BYTES = 1024 * 1024;

type Doc = Record<string, unknown>;

const inScope = (set: ReadonlySet<string> | 'all', key: string): boolean => set === 'all' || set.has(key);

/** The document with only the scoped entries of `apps` and `sites` (the schema's paths stay the same). */
function sparseCopy(doc: Doc, scope: ValidationScope): Doc {
  if (scope.apps === 'all' && scope.sites === 'all') return doc;
  const out: Doc = { ...doc };
  for (const [name, keys] of [['apps', scope.apps], ['sites', scope.sites]] as const) {
    const record = doc[name];
    if (keys === 'all' || !Object.hasOwn(doc, name) || !isJsonObject(record)) continue;
    const picked: Doc = {};
    for (const k of keys) if (Object.hasOwn(record, k)) Object.defineProperty(picked, k, { value: record[k], enumerable: true });
    out[name] = picked;
  }
  return out;
}

/** Every problem of `doc` within `scope` (all of them with WHOLE), as `field: reason`. */
export function documentProblems(doc: unknown, baseDir: string, scope: ValidationScope = WHOLE): string[] {
  if (!isJsonObject(doc)) return schemaProblems(RouterConfigSchema, doc);
  const problems = schemaProblems(RouterConfigSchema, sparseCopy(doc, scope));
  problems.push(...semanticProblems(doc, baseDir, scope));
  return [...new Set(problems)];
}

/**
 * Problems the schema cannot see: cross references, listener needs, readable files. Runs on a
 * document of any shape (the schema's own problems are reported beside these): each check only
 * reads the parts that have the shape it needs, so no input throws anything but ConfigError.
 * References use own keys only (`"app": "toString"` names no app).
 */
function semanticProblems(c: Doc, baseDir: string, scope: ValidationScope): string[] {
  const problems: string[] = [];
  const apps = isJsonObject(c.apps) ? c.apps : {};
  const filters: Record<string, FilterDef> = {};
  if (isJsonObject(c.filters)) {
    for (const [name, def] of Object.entries(c.filters)) if (Value.Check(FilterDefSchema, def)) filters[name] = def;
    problems.push(...filterProblems(filters));
  }
  const listen = c.listen as { https?: unknown } | undefined;
  const certificates = Array.isArray(c.certificates) ? c.certificates : [];
  if (isJsonObject(listen) && listen.https !== undefined && certificates.length === 0) {
    problems.push('listen.https: needs at least one entry in certificates');
  }
  // the canary module reads apps of the right shape: others are kept (they exist) without their canary
  const canaryApps: Record<string, AppWithCanary> = {};
  for (const [name, app] of Object.entries(apps)) {
    if (!isJsonObject(app)) {
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
  const sites = isJsonObject(c.sites) ? c.sites : {};
  if (scope.sites === 'all' || scope.allAppRefs) {
    for (const [host, site] of Object.entries(sites)) {
      if (inScope(scope.sites, host)) problems.push(...siteProblems(host, site, apps));
      else problems.push(...routeAppProblems(host, site, apps));
    }
  } else {
    for (const host of scope.sites) if (Object.hasOwn(sites, host)) problems.push(...siteProblems(host, sites[host], apps));
  }
  if (scope.certificates) problems.push(...certificateProblems(certificates, baseDir));
  return problems;
}

function routeAppProblems(host: string, site: unknown, apps: Doc): string[] {
  if (!isJsonObject(site) || !Array.isArray(site.routes)) return [];
  const problems: string[] = [];
  site.routes.forEach((route: unknown, i: number) => {
    if (isJsonObject(route) && typeof route.app === 'string' && !Object.hasOwn(apps, route.app)) {
      problems.push(`sites.${host}.routes[${i}].app: no app named "${route.app}"`);
    }
  });
  return problems;
}

function siteProblems(host: string, site: unknown, apps: Doc): string[] {
  if (!isJsonObject(site) || !Array.isArray(site.routes)) return [];
  const problems: string[] = [];
  const seen = new Set<string>();
  site.routes.forEach((route: unknown, i: number) => {
    if (!isJsonObject(route)) return;
    const at = `sites.${host}.routes[${i}]`;
    if (typeof route.app === 'string' && !Object.hasOwn(apps, route.app)) problems.push(`${at}.app: no app named "${route.app}"`);
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
  return problems;
}

function certificateProblems(certificates: unknown[], baseDir: string): string[] {
  const problems: string[] = [];
  certificates.forEach((cert: unknown, i: number) => {
    if (!isJsonObject(cert)) return;
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
