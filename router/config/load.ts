import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../../shared/errors.js';
import { deepFreeze, parseJsonDocument, readJsonFile, schemaProblems } from '../../shared/config-file.js';
import { RouterConfigSchema, type RouterConfig } from './schema.js';
import { normalisePath } from '../http/normalise-path.js';
import { filterProblems, filterRefProblems } from '../pipeline/filter-factory.js';
import { canariesFromApps, type AppWithCanary } from '../canary/canary-schema.js';

/** A validated, frozen config document with its version and the directory relative paths resolve against. */
export interface LoadedConfig {
  readonly config: RouterConfig;
  /** content hash: the same document always has the same version */
  readonly version: string;
  /** certificate paths in the document are relative to this directory */
  readonly baseDir: string;
}

/** Problems the schema cannot see: cross references, listener needs, readable files. */
function semanticProblems(c: RouterConfig, baseDir: string): string[] {
  const problems: string[] = [];
  const apps = c.apps ?? {};
  const filters = c.filters ?? {};
  if (c.filters && typeof c.filters === 'object') problems.push(...filterProblems(c.filters));
  if (c.listen?.https && (!c.certificates || c.certificates.length === 0)) {
    problems.push('listen.https: needs at least one entry in certificates');
  }
  for (const [name, app] of Object.entries(apps)) {
    if (Array.isArray(app?.filters)) problems.push(...filterRefProblems(name, app.filters, filters));
  }
  if (apps && typeof apps === 'object') problems.push(...canariesFromApps(apps as Record<string, AppWithCanary>).problems);
  for (const [host, site] of Object.entries(c.sites ?? {})) {
    const seen = new Set<string>();
    (site.routes ?? []).forEach((route, i) => {
      if (!route || typeof route.path !== 'string') return;
      if (!(route.app in apps)) problems.push(`sites.${host}.routes[${i}].app: no app named "${route.app}"`);
      const key = normalisePath(route.path).toLowerCase().replace(/\/+$/, '');
      if (seen.has(key)) problems.push(`sites.${host}.routes[${i}].path: duplicate route "${route.path}"`);
      seen.add(key);
    });
  }
  (c.certificates ?? []).forEach((cert, i) => {
    for (const field of ['cert', 'key'] as const) {
      const file = cert?.[field];
      if (typeof file !== 'string') continue;
      try {
        const pem = readFileSync(resolve(baseDir, file), 'utf8');
        if (!pem.includes('-----BEGIN ')) problems.push(`certificates[${i}].${field}: ${file} is not a PEM file`);
      } catch (err) {
        problems.push(`certificates[${i}].${field}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    }
    if (typeof cert?.cert === 'string' && typeof cert?.key === 'string') {
      try {
        createSecureContext({ cert: readFileSync(resolve(baseDir, cert.cert)), key: readFileSync(resolve(baseDir, cert.key)) });
      } catch (err) {
        if (!problems.some((p) => p.startsWith(`certificates[${i}].`))) {
          problems.push(`certificates[${i}]: certificate and key are not usable together (${(err as Error).message})`);
        }
      }
    }
  });
  return problems;
}

/** Validates a parsed document whole (schema, then cross references); every problem is listed. */
export function validateRouterConfig(doc: unknown, source: string, baseDir: string): LoadedConfig {
  const problems = schemaProblems(RouterConfigSchema, doc);
  // cross-reference checks only make sense on a document of the right shape at the top
  if (doc && typeof doc === 'object' && !Array.isArray(doc)) {
    problems.push(...semanticProblems(doc as RouterConfig, baseDir));
  }
  if (problems.length > 0) throw new ConfigError(problems, source);
  const canonical = JSON.stringify(doc);
  const version = createHash('sha256').update(canonical).digest('hex').slice(0, 12);
  return Object.freeze({ config: deepFreeze(doc as RouterConfig), version, baseDir });
}

/** Reads and validates the router config file. Throws ConfigError (exit 2 in main). */
export function loadRouterConfigFile(path: string): LoadedConfig {
  const abs = resolve(path);
  return validateRouterConfig(readJsonFile(abs), path, dirname(abs));
}

/** Validates a document received as text (PUT /config). */
export function parseRouterConfigText(text: string, baseDir: string): LoadedConfig {
  return validateRouterConfig(parseJsonDocument(text, 'config'), 'config', baseDir);
}
