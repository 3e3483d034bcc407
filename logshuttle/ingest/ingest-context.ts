import type { Logger } from '../../shared/logger.js';
import type { ShuttleCore } from '../shuttle-core.js';
import type { BadInput } from './bad-input.js';

/** What every ingest listener needs. */
export interface IngestContext {
  readonly core: ShuttleCore;
  readonly bad: BadInput;
  readonly logger: Logger;
}

/** A started listener: its bound port, and how to stop it. */
export interface Listening {
  readonly port: number;
  /** Stops accepting; with `force`, also ends open connections. */
  close(force?: boolean): Promise<void>;
}
