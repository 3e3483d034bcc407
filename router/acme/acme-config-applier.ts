import type { ConfigApplier } from '../config/reload-owner.js';
import type { LoadedConfig } from '../config/load.js';
import type { DocumentDiff } from '../config/document-diff.js';
import type { ApplyStats } from '../workers/worker-pool.js';
import type { AcmeController } from './acme-controller.js';

/** The part of the WorkerPool a config apply needs. */
export interface PoolApplier {
  apply(next: LoadedConfig, diff: DocumentDiff | null): Promise<ApplyStats>;
  readonly config: LoadedConfig;
}

/**
 * The ReloadOwner's applier: the worker pool, then the ACME controller. A config applied by
 * every worker (PUT, PATCH, rollback, SIGHUP, a file change) is synced to the controller (new
 * names ordered, removed ones no longer served, the config's certificates winning); a failed
 * apply resyncs it to what the pool still runs.
 */
export class AcmeConfigApplier implements ConfigApplier {
  constructor(private readonly pool: PoolApplier, private readonly acme: AcmeController) {}

  async apply(next: LoadedConfig, diff: DocumentDiff | null): Promise<ApplyStats> {
    try {
      const stats = await this.pool.apply(next, diff);
      this.acme.sync(next);
      return stats;
    } catch (err) {
      this.acme.sync(this.pool.config);
      throw err;
    }
  }
}
