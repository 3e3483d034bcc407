#!/usr/bin/env node
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { runMain } from '../shared/cli.js';
import { UsageError } from '../shared/errors.js';
import { createLogger } from '../shared/logger.js';
import { loadRouterConfigFile } from './config/load.js';
import { DEFAULTS } from './config/schema.js';
import { WorkerPool } from './worker-pool.js';

const USAGE = 'usage: edgeplane-router --config FILE [--log-stdout]';

async function main(): Promise<void> {
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
    return;
  }
  if (!values.config) throw new UsageError(`--config is required\n${USAGE}`);

  const loaded = loadRouterConfigFile(values.config);
  const logger = createLogger('router');
  const workers = loaded.config.workers ?? availableParallelism();
  const pool = new WorkerPool(workers, loaded, logger);
  await pool.start();
  logger.info({ version: loaded.version, workers, ports: pool.ports }, 'router ready');

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'router stopping');
    const deadline = loaded.config.shutdownMs ?? DEFAULTS.shutdownMs;
    void pool.stop(deadline).then(() => {
      logger.info('router stopped');
      logger.flush();
      setTimeout(() => process.exit(0), 20);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

runMain('edgeplane-router', main);
