#!/usr/bin/env node
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import { existsSync } from 'node:fs';
import { runMain } from '../shared/cli.js';
import { UsageError } from '../shared/errors.js';
import { createLogger } from '../shared/logger.js';
import { loadShuttleConfig } from './config/load-config.js';
import { ShuttleCore } from './shuttle-core.js';
import { BadInput } from './ingest/bad-input.js';
import { createShuttleMetrics } from './metrics.js';
import { DrainManager } from './drains/drain-manager.js';
import { listenMsgpack } from './ingest/msgpack-tcp.js';
import { listenSyslogTcp } from './ingest/syslog-tcp.js';
import { listenSyslogUdp } from './ingest/syslog-udp.js';
import { listenHttp } from './http/http-server.js';
import type { IngestContext, Listening } from './ingest/ingest-context.js';
import { BusShuttle } from './bus/bus-shuttle.js';

// HTTPS drains: undici parses responses with llhttp compiled to WebAssembly. V8 first compiles it
// with its baseline compiler (Liftoff), then recompiles its big state-machine function with
// TurboFan on a background thread once it is hot: ~0.2 s of CPU during the first seconds of an
// HTTPS drain (a fifth of the shuttle's CPU over a 500,000-line relay run, `perf record`). A
// drain parses one short answer per batch of up to 5,000 lines, so baseline code is plenty: no
// wasm tier-up. Set before any drain connects (undici compiles llhttp at its first connection);
// the shuttle runs no other WebAssembly. Process-wide, so set here, by the program.
v8.setFlagsFromString('--liftoff-only');

const USAGE = 'usage: edgeplane-logshuttle --config FILE';
/** share of `shutdownMs` that open ingest connections get to deliver what they sent */
const INGEST_GRACE_SHARE = 0.25;

function parseCommandLine(argv: string[]): { config: string } {
  let values: { config?: string; help?: boolean };
  try {
    ({ values } = parseArgs({ args: argv, options: { config: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    process.exit(0);
  }
  if (!values.config) throw new UsageError(`--config FILE is required\n${USAGE}`);
  return { config: values.config };
}

async function main(): Promise<void> {
  const args = parseCommandLine(process.argv.slice(2));
  const config = loadShuttleConfig(args.config);
  const logger = createLogger('logshuttle');
  const core = new ShuttleCore({ history: config.history, idleMs: config.appIdleMs, maxApps: config.maxApps, maxRingBytes: config.maxRingBytes });
  const bad = new BadInput(logger);
  const registry = createShuttleMetrics(core, bad);
  const seedFromConfig = !(config.stateFile && existsSync(config.stateFile));
  const drains = new DrainManager({
    drainBuffer: config.drainBuffer,
    logger,
    registry,
    // with a bus, through the bus (every replica's tails and the history, never the drains)
    emitPlatformLine: (record) => (bus ? bus.platformLine(record) : core.acceptPlatformLine(record)),
    ...(config.stateFile ? { stateFile: config.stateFile } : {}),
  });
  // bus mode: the drain set comes from the bus registry (config drains seed it), not from here
  const bus = config.bus
    ? new BusShuttle({ bus: config.bus, tuning: config.busTuning, history: config.history, seedDrains: config.drains, core, drains, registry, logger })
    : null;
  if (!bus && seedFromConfig) for (const [app, urls] of Object.entries(config.drains)) for (const url of urls) drains.add(app, url);
  core.setDrains(bus ? bus.drainSet : drains);
  bus?.start();

  const ctx: IngestContext = bus ? { core, bad, logger, bus: bus.ingest } : { core, bad, logger };
  const listeners: Array<[string, Listening]> = [];
  const start = async (name: string, open: () => Promise<Listening>, address: { host: string }): Promise<void> => {
    const l = await open();
    listeners.push([name, l]);
    logger.info({ listener: name, host: address.host, port: l.port }, `listening: ${name} on ${address.host}:${l.port}`);
  };
  const { listen } = config;
  if (listen.ingest) await start('ingest', () => listenMsgpack(listen.ingest!, ctx), listen.ingest);
  if (listen.syslog_tcp) await start('syslog_tcp', () => listenSyslogTcp(listen.syslog_tcp!, ctx), listen.syslog_tcp);
  if (listen.syslog_udp) await start('syslog_udp', () => listenSyslogUdp(listen.syslog_udp!, ctx), listen.syslog_udp);
  if (listen.http) {
    const busHttp = bus ? { tails: bus.tails, gate: { ready: () => bus.ready, deadlineMs: config.busTuning.publishDeadlineMs }, readiness: () => bus.readiness() } : undefined;
    await start('http', () => listenHttp({
      address: listen.http!, ctx, history: config.history, drains: bus ? bus.drainApi : drains, registry,
      token: process.env.LOGSHUTTLE_TOKEN || undefined, ...(busHttp ? { bus: busHttp } : {}),
    }), listen.http);
  }
  // idle apps are looked for four times per appIdleMs (at most once a minute, at least every 50 ms)
  const evict = setInterval(() => {
    const n = core.evictIdle();
    if (n > 0) logger.info({ apps: n }, 'idle apps evicted');
  }, Math.min(60_000, Math.max(50, Math.floor(config.appIdleMs / 4))));
  evict.unref();
  logger.info({ history: config.history, drainBuffer: config.drainBuffer, maxApps: config.maxApps, maxRingBytes: config.maxRingBytes,
    ...(bus ? { bus: { servers: config.bus!.servers, stream: config.bus!.stream, replica: bus.replicaId } } : {}) }, 'log shuttle ready');

  let stopping = false;
  /**
   * SIGTERM/SIGINT, within `shutdownMs` in all: stop accepting; open ingest connections are
   * half-closed and read until their sender closes (or a quarter of the deadline), so bytes
   * already sent are ingested; POST /ingest answers 503; then live tails end and the drains
   * flush what they hold to the peers that are reachable, for the rest of the deadline.
   */
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    const deadline = Date.now() + config.shutdownMs;
    logger.info({ signal, shutdownMs: config.shutdownMs }, 'stopping: no new connections; reading what open ingest connections sent');
    clearInterval(evict);
    void (async () => {
      // bus mode: stop pulling and hand the partitions over while ingest closes
      const released = bus?.releaseAll().catch((err: Error) => logger.warn({ err: err.message }, 'partition leases not all released'));
      await Promise.all(listeners.map(([, l]) => l.close(Math.floor(config.shutdownMs * INGEST_GRACE_SHARE))));
      if (bus) {
        const flushed = await bus.flushIngest(Math.max(0, Math.floor((deadline - Date.now()) / 2)));
        if (!flushed) logger.warn({ outbox: bus.publisher.depth }, 'lines ingested but not yet on the bus at the deadline');
        await Promise.race([released, new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())))]);
        bus.tails.endAll();
      }
      core.tails.endAll();
      logger.info({ msLeft: Math.max(0, deadline - Date.now()) }, 'ingest closed; flushing drains');
      await drains.close(Math.max(0, deadline - Date.now()));
      await bus?.close(Math.max(0, deadline - Date.now()));
      logger.info('stopped');
      logger.flush?.();
      setTimeout(() => process.exit(0), 50);
    })();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // Node's default for SIGHUP ends the process at once, losing what the drains hold; the config
  // is read once at start, so there is nothing to reload: say so and keep running
  process.on('SIGHUP', () => logger.warn({ signal: 'SIGHUP' }, 'SIGHUP ignored: the shuttle reads its config only at start (restart to apply a change; drains change through the HTTP API)'));
}

runMain('edgeplane-logshuttle', main);
