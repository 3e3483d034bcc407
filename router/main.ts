#!/usr/bin/env node
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';
import { runMain } from '../shared/cli.js';
import { UsageError } from '../shared/errors.js';
import { createLogger } from '../shared/logger.js';
import { loadRouterConfigFile, parseRouterConfigText, type LoadedConfig } from './config/load.js';
import { DEFAULTS } from './config/schema.js';
import { ConfigReloader, type ReloadTrigger } from './config/config-reloader.js';
import { certificateDirs, certificateFingerprint } from './config/certificate-fingerprint.js';
import { WorkerPool } from './workers/worker-pool.js';
import { AdminServer } from './admin/admin-server.js';
import { renderWorkerMetrics } from './admin/worker-metrics.js';
import { mergeStats, renderStats } from './metrics/worker-stats.js';
import { CanaryBoard } from './canary/canary-board.js';
import { canariesFromApps } from './canary/canary-schema.js';

const USAGE = 'usage: edgeplane-router --config FILE [--log-stdout]';

/** how a trigger shows in the router's log (`reason`) */
const REASONS: Record<ReloadTrigger, string> = { put: 'PUT /config', sighup: 'SIGHUP', watch: 'file change' };

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
  const testHooks = process.env.ROUTER_TEST_HOOKS === '1';
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'edgeplane_router_process_' });
  const reloads = new Counter({ name: 'edgeplane_router_config_reloads_total', help: 'Config reloads by result (applied, refused, failed) and trigger (put, sighup, watch).',
    labelNames: ['result', 'trigger'], registers: [registry] });
  const restarts = new Counter({ name: 'edgeplane_router_worker_restarts_total', help: 'Worker threads replaced after a crash.', registers: [registry] });

  const workers = loaded.config.workers ?? availableParallelism();
  const board = new CanaryBoard();
  const pool = new WorkerPool(workers, loaded, (l) => board.apply(canariesFromApps(l.config.apps).canaries), logger, {
    workerData: { logStdout: cli.logStdout, testHooks },
    onRestart: () => restarts.inc(),
  });
  await pool.start();
  let draining = false;

  const reloader = new ConfigReloader(cli.config, (trigger) => reload(() => loadRouterConfigFile(cli.config), trigger), logger);
  let serial: Promise<unknown> = Promise.resolve();
  let runningCertificates = certificateFingerprint(loaded);
  /**
   * Every reload takes this path, one at a time: validate the whole document (refused: the
   * running config stays), skip it when neither the document nor its certificate files
   * changed, apply it to every worker (all or none), then count and log the outcome with what
   * triggered it.
   */
  const reload = (read: () => LoadedConfig, trigger: ReloadTrigger): Promise<LoadedConfig> => {
    const run = serial.then(async () => {
      const reason = REASONS[trigger];
      let next: LoadedConfig;
      try {
        next = read();
      } catch (err) {
        reloads.inc({ result: 'refused', trigger });
        logger.error({ reason, problems: (err as { problems?: readonly string[] }).problems, err: (err as Error).message }, 'config reload refused; keeping the running config');
        throw err;
      }
      const running = pool.config.version;
      // the version hashes the document; certificates renewed in place change the fingerprint only
      const fingerprint = certificateFingerprint(next);
      const certificates = fingerprint === runningCertificates ? 'unchanged' : 'changed';
      if (next.version === running && certificates === 'unchanged') {
        if (trigger !== 'watch') logger.info({ version: running, reason }, 'config unchanged');
        return next;
      }
      try {
        await pool.apply(next);
      } catch (err) {
        reloads.inc({ result: 'failed', trigger });
        logger.error({ reason, version: next.version, running, problems: (err as { problems?: readonly string[] }).problems, err: (err as Error).message },
          'config reload failed; every worker keeps the running config');
        throw err;
      }
      reloads.inc({ result: 'applied', trigger });
      runningCertificates = fingerprint;
      reloader.watchAlso(certificateDirs(next));
      logger.info({ version: next.version, previous: running, certificates, reason }, 'config applied');
      return next;
    });
    serial = run.catch(() => undefined);
    return run;
  };

  const admin = new AdminServer({
    ready: () => !draining,
    currentConfig: () => ({ version: pool.config.version, config: pool.config.config }),
    applyConfigText: async (text) => (await reload(() => parseRouterConfigText(text, pool.config.baseDir), 'put')).version,
    metricsText: async () => {
      const stats = await pool.stats();
      return renderStats(mergeStats(stats.map((s) => s.snapshot))) + renderWorkerMetrics(stats, pool.size, pool.config.version) + (await registry.metrics());
    },
    canaries: () => board.snapshot(),
    testHooks: testHooks ? { crashWorker: (i) => pool.crash(i), failNextApply: (i) => pool.failNextApply(i) } : undefined,
  }, logger);
  const adminSpec = loaded.config.listen.admin ?? DEFAULTS.admin;
  const adminPort = await admin.listen(adminSpec.host, adminSpec.port);

  reloader.start();
  reloader.watchAlso(certificateDirs(loaded));
  if (testHooks) logger.warn('ROUTER_TEST_HOOKS=1: fault injection routes are open on the admin listener');
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
