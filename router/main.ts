#!/usr/bin/env node
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';
import { runMain } from '../shared/cli.js';
import { UsageError } from '../shared/errors.js';
import { createLogger } from '../shared/logger.js';
import { readRouterConfigFile } from './config/load.js';
import { DEFAULTS } from './config/schema.js';
import { ConfigReloader } from './config/config-reloader.js';
import { certificateDirs } from './config/certificate-fingerprint.js';
import { ReloadOwner } from './config/reload-owner.js';
import { ReloadLog } from './admin/reload-log.js';
import { StatsCollector } from './admin/stats-collector.js';
import { canariesWithEvidence } from './admin/canary-evidence.js';
import { WorkerPool } from './workers/worker-pool.js';
import { AdminServer } from './admin/admin-server.js';
import { renderWorkerMetrics } from './admin/worker-metrics.js';
import { mergeStats, renderStats } from './metrics/worker-stats.js';
import { CanaryBoard } from './canary/canary-board.js';
import { canariesFromApps } from './canary/canary-schema.js';
import { resolveBusConfig } from '../shared/bus/bus-config.js';
import { pickAccessLogSink } from './access-log/pick-sink.js';
import { RouterCluster } from './cluster/router-cluster.js';

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
  const { loaded, textSha256 } = readRouterConfigFile(cli.config);
  const logger = createLogger('router');
  const testHooks = process.env.ROUTER_TEST_HOOKS === '1';
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'edgeplane_router_process_' });
  const restarts = new Counter({ name: 'edgeplane_router_worker_restarts_total', help: 'Worker threads replaced after a crash.', registers: [registry] });

  const workers = loaded.config.workers ?? availableParallelism();
  const board = new CanaryBoard();
  // the dashboard's per-second stats (GET /stats): every worker's counts collected once a second
  const collector = new StatsCollector();
  const pool = new WorkerPool(workers, loaded, (l) => board.apply(canariesFromApps(l.config.apps).canaries), logger, {
    workerData: { logStdout: cli.logStdout, testHooks },
    onRestart: () => restarts.inc(),
    onSecond: collector.onSecond,
  });
  await pool.start();
  collector.start(pool);
  // with a bus, the routers share canary counts and verdicts and rate limits (docs/router/cluster.md)
  const bus = loaded.config.bus;
  const cluster = bus === undefined ? null : new RouterCluster({
    bus: resolveBusConfig(bus), baseDir: loaded.baseDir, board, rateLimits: pool.rateLimits, registry, logger,
    sink: pickAccessLogSink(loaded.config, cli.logStdout, loaded.baseDir, logger),
  });
  cluster?.start();
  const canaries = cluster === null ? () => board.snapshot() : () => cluster.snapshot();
  let draining = false;

  // the one owner of config changes (file, SIGHUP, PUT, PATCH, rollback): one queue, revisions, metrics
  // the config metrics, keeping the last changes' outcomes for the dashboard
  const metrics = new ReloadLog(registry, () => owner.history);
  const owner: ReloadOwner = new ReloadOwner(cli.config, loaded, textSha256, pool, metrics, logger, (l) => reloader.watchAlso(certificateDirs(l)));
  const reloader = new ConfigReloader(cli.config, (trigger) => owner.reloadFile(trigger), logger);

  const admin = new AdminServer({
    ready: () => !draining,
    config: owner,
    metricsText: async () => {
      const stats = await pool.stats();
      return renderStats(mergeStats(stats.map((s) => s.snapshot))) + renderWorkerMetrics(stats, pool.size, pool.config.version) + (await registry.metrics());
    },
    canaries,
    dashboard: {
      collector, workers,
      running: () => owner.current,
      reloads: () => metrics.list(),
      canaries: () => canariesWithEvidence(canaries(), board.description()),
    },
    testHooks: testHooks ? { crashWorker: (i) => pool.crash(i), failNextApply: (i) => pool.failNextApply(i) } : undefined,
  }, logger);
  const adminSpec = loaded.config.listen.admin ?? DEFAULTS.admin;
  const adminPort = await admin.listen(adminSpec.host, adminSpec.port);

  reloader.start();
  reloader.watchAlso(certificateDirs(loaded));
  if (testHooks) logger.warn('ROUTER_TEST_HOOKS=1: fault injection routes are open on the admin listener');
  logger.info({ version: loaded.version, revision: owner.current.revision, workers, ports: { ...pool.ports, admin: adminPort } }, 'router ready');

  const stop = (signal: string): void => {
    if (draining) return;
    draining = true;
    reloader.stop();
    collector.stop();
    logger.info({ signal }, 'router stopping');
    const deadline = pool.config.config.shutdownMs ?? DEFAULTS.shutdownMs;
    void pool.stop(deadline).then(async () => {
      await cluster?.close();
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
