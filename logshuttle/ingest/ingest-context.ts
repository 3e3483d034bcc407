import type { Logger } from '../../shared/logger.js';
import type { ShuttleCore } from '../shuttle-core.js';
import type { BadInput } from './bad-input.js';
import type { BusIngest } from '../bus/bus-ingest.js';

/** What every ingest listener needs. */
export interface IngestContext {
  readonly core: ShuttleCore;
  readonly bad: BadInput;
  readonly logger: Logger;
  /** bus mode: accepted records go to the bus instead of the core */
  readonly bus?: BusIngest;
}

/** A started listener: its bound port, and how to stop it. */
export interface Listening {
  readonly port: number;
  /**
   * Stops accepting. Open connections get up to `graceMs` to deliver what they already sent
   * (until the sender closes); then they are cut. Everything read by then is ingested.
   */
  close(graceMs: number): Promise<void>;
}
