import type { Logger } from '../../shared/logger.js';
import { resolveBusConfig } from '../../shared/bus/bus-config.js';
import type { RouterConfig } from '../config/schema.js';
import { StdoutAccessLog, type AccessLogSink } from './access-log-sink.js';
import { ShuttleShipper } from './shuttle-shipper.js';
import { BusShipper } from './bus-shipper.js';
import { TeeSink } from './tee-sink.js';

/**
 * Where a worker's access lines go (DESIGN.md "Commands", "Log bus"): to the bus with `bus`,
 * to the shuttle's TCP ingest with `logshuttle` (never both: a config error), else to stdout;
 * with --log-stdout, to stdout as well. Chosen once per worker at start.
 */
export function pickAccessLogSink(config: RouterConfig, logStdout: boolean, baseDir: string, logger: Logger): AccessLogSink {
  const remote: AccessLogSink | null = config.bus ? new BusShipper(resolveBusConfig(config.bus), logger, baseDir)
    : config.logshuttle ? new ShuttleShipper(config.logshuttle, logger)
      : null;
  if (remote === null) return new StdoutAccessLog();
  return logStdout ? new TeeSink([remote, new StdoutAccessLog()]) : remote;
}
