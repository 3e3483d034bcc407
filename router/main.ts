#!/usr/bin/env node
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';
import { runMain } from '../shared/cli.js';
import { UsageError } from '../shared/errors.js';
import { createLogger } from '../shared/logger.js';
import { loadRouterConfigFile, parseRouterConfigText, type LoadedConfig } from './config/load.js';
import { DEFAULTS } from './config/schema.js';
import { ConfigReloader } from './config/config-reloader.js';
import { WorkerPool } from './worker-pool.js';
import { AdminServer } from './admin/admin-server.js';
import { mergeStats, renderStats } from './metrics/worker-stats.js';
import { CanaryBoard } from './canary/canary-board.js';
import { canariesFromApps } from './canary/canary-schema.js';

const USAGE = 'usage: edgeplane-router --config FILE [--log-stdout]';

function parseCli(): { config: string; logStdout: boolean } | null {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        config: { type: 'string', short: 'c' },
        'log-stdout': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return null;
  }
  if (!values.config) throw new UsageError(`--config is required\n${USAGE}`);
  return { config: values.config, logStdout: values['log-stdout'] === true };
}

async function main(): Promise<void> {
  const cli = parseCli();
  if (!cli) return;
  const loaded = loadRouterConfigFile(cli.config);
  const logger = createLogger('router');
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'edgeplane_router_process_' });
  const reloads = new Counter({ name: 'edgeplane_router_config_reloads_total', help: 'Config reloads by result.', labelNames: ['result'], registers: [registry] });
  const restarts = new Counter({ name: 'edgeplane_router_worker_restarts_total', help: 'Worker threads replaced after a crash.', registers: [registry] });

  const workers = loaded.config.workers ?? availableParallelism();
  const board = new CanaryBoard();
  const canariesOf = (l: LoadedConfig) => canariesFromApps(l.config.apps).canaries;
  const pool = new WorkerPool(workers, loaded, board.apply(canariesOf(loaded)), logger, { logStdout: cli.logStdout });
  await pool.start();
  let draining = false;
  let reported = 0;

  const applyLoaded = async (next: LoadedConfig, reason: string): Promise<void> => {
    try {
      await pool.apply(next, board.apply(canariesOf(next)));
      reloads.inc({ result: 'applied' });
      logger.info({ version: next.version, reason }, 'config applied');
    } catch (err) {
      reloads.inc({ result: 'failed' });
      throw err;
    }
  };

  const admin = new AdminServer({
    ready: () => !draining,
    currentConfig: () => ({ version: pool.config.version, config: pool.config.config }),
    applyConfigText: async (text) => {
      let next: LoadedConfig;
      try {
        next = parseRouterConfigText(text, pool.config.baseDir);
      } catch (err) {
        reloads.inc({ result: 'refused' });
        throw err;
      }
      await applyLoaded(next, 'PUT /config');
      return next.version;
    },
    metricsText: async () => {
      restarts.inc(pool.restarts - reported);
      reported = pool.restarts;
      const merged = mergeStats(await pool.stats());
      return renderStats(merged) + (await registry.metrics());
    },
    canaries: () => board.snapshot(),
  }, logger);
  const adminSpec = loaded.config.listen.admin ?? DEFAULTS.admin;
  const adminPort = await admin.listen(adminSpec.host, adminSpec.port);

  const reloader = new ConfigReloader(cli.config, () => pool.config.version, applyLoaded, logger);
  reloader.start();
  logger.info({ version: loaded.version, workers, ports: { ...pool.ports, admin: adminPort } }, 'router ready');

  const stop = (signal: string): void => {
    if (draining) return;
    draining = true;
    reloader.stop();
    logger.info({ signal }, 'router stopping');
    const deadline = pool.config.config.shutdownMs ?? DEFAULTS.shutdownMs;
    void pool.stop(deadline).then(async () => {
      await admin.close();
      logger.info('router stopped');
      logger.flush();
      setTimeout(() => process.exit(0), 20);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

runMain('edgeplane-router', main);
