import { dirname, isAbsolute, resolve } from 'node:path';
import { readJsonFile, schemaProblems, deepFreeze } from '../../shared/config-file.js';
import { ConfigError } from '../../shared/errors.js';
import { parseDrainUrl } from '../drains/drain-url.js';
import {
  ShuttleConfigSchema,
  DEFAULT_DRAIN_BUFFER,
  DEFAULT_HISTORY,
  DEFAULT_WORKERS,
  DEFAULT_SHUTDOWN_MS,
  DEFAULT_APP_IDLE_MS,
  DEFAULT_MAX_APPS,
  DEFAULT_MAX_RING_BYTES,
  type ShuttleConfig,
  type ShuttleConfigDocument,
} from './schema.js';
import { appNameProblem } from '../ingest/app-name.js';
import { resolveBusConfig } from '../../shared/bus/index.js';
import { DEFAULT_BUS_TUNING, busTuningProblem, type BusTuning } from '../bus/bus-tuning.js';

/**
 * Validates a shuttle config document whole (schema, then drain URLs and app names), applies
 * defaults and returns it frozen. Throws ConfigError listing every problem.
 */
export function validateShuttleConfig(value: unknown, source = 'config'): ShuttleConfig {
  const problems = schemaProblems(ShuttleConfigSchema, value);
  const doc = value as ShuttleConfigDocument;
  if (doc && typeof doc === 'object' && doc.drains && typeof doc.drains === 'object' && !Array.isArray(doc.drains)) {
    for (const [app, urls] of Object.entries(doc.drains)) {
      const nameProblem = appNameProblem(app);
      if (nameProblem) problems.push(`drains.${app}: app name ${nameProblem}`);
      if (!Array.isArray(urls)) continue;
      urls.forEach((url, i) => {
        if (typeof url !== 'string') return;
        try {
          parseDrainUrl(url);
        } catch (err) {
          const reason = (err as { reason?: string }).reason ?? (err as Error).message;
          problems.push(`drains.${app}[${i}]: ${reason}`);
        }
      });
    }
  }
  let busTuning: BusTuning = DEFAULT_BUS_TUNING;
  if (problems.length === 0) {
    if (doc.bus && doc.stateFile !== undefined) {
      problems.push(`stateFile: not used with bus (the drain set lives in the KV bucket ${doc.bus.stream ?? 'EDGEPLANE_LOGS'}_DRAINS); remove one of them`);
    }
    busTuning = Object.freeze({ ...DEFAULT_BUS_TUNING, ...doc.busTuning });
    const tuningProblem = busTuningProblem(busTuning);
    if (tuningProblem) problems.push(tuningProblem);
  }
  if (problems.length > 0) throw new ConfigError(problems, source);
  const listen: Record<string, { host: string; port: number }> = {};
  for (const [k, v] of Object.entries(doc.listen)) if (v) listen[k] = { host: v.host, port: v.port };
  const drains: Record<string, string[]> = {};
  for (const [app, urls] of Object.entries(doc.drains ?? {})) drains[app] = [...urls];
  const config: ShuttleConfig = {
    listen,
    history: doc.history ?? DEFAULT_HISTORY,
    drainBuffer: doc.drainBuffer ?? DEFAULT_DRAIN_BUFFER,
    workers: doc.workers ?? DEFAULT_WORKERS,
    drains,
    ...(doc.stateFile !== undefined ? { stateFile: doc.stateFile } : {}),
    shutdownMs: doc.shutdownMs ?? DEFAULT_SHUTDOWN_MS,
    appIdleMs: doc.appIdleMs ?? DEFAULT_APP_IDLE_MS,
    maxApps: doc.maxApps ?? DEFAULT_MAX_APPS,
    maxRingBytes: doc.maxRingBytes ?? DEFAULT_MAX_RING_BYTES,
    ...(doc.bus ? { bus: resolveBusConfig(doc.bus) } : {}),
    busTuning,
  };
  return deepFreeze(config);
}

/** Reads, validates and freezes the config file at `path`. */
export function loadShuttleConfig(path: string): ShuttleConfig {
  const doc = readJsonFile(path) as { bus?: { credentials?: unknown } } | null;
  // a relative credentials file is relative to the config file
  const creds = doc?.bus?.credentials;
  if (typeof creds === 'string' && creds !== '' && !isAbsolute(creds)) doc!.bus!.credentials = resolve(dirname(path), creds);
  return validateShuttleConfig(doc, path);
}
