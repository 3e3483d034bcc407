import { randomUUID } from 'node:crypto';
import type { KV, KvEntry } from '@nats-io/kv';
import { asBusUnavailable, isWrongLastSequence } from '../../shared/bus/nats-errors.js';
import type { Logger } from '../../shared/logger.js';
import type { DrainManager } from '../drains/drain-manager.js';
import { parseDrainUrl } from '../drains/drain-url.js';
import type { DrainApi, DrainInfo } from '../drains/types.js';
import { appKey, appOfKey } from './kv-key.js';

/** The value of an app's key in `<stream>_DRAINS`. */
interface Entry {
  drains: DrainInfo[];
}

const MAX_CAS_ATTEMPTS = 20;

function parseEntry(e: KvEntry | null): DrainInfo[] {
  if (!e || e.operation !== 'PUT' || e.length === 0) return [];
  try {
    const v = e.json<Entry>();
    return Array.isArray(v?.drains) ? v.drains.filter((d) => typeof d?.id === 'string' && typeof d?.url === 'string') : [];
  } catch {
    return [];
  }
}

/**
 * The drain set in bus mode: KV bucket `<stream>_DRAINS`, one key per app (kv-key.ts) holding
 * `{"drains":[{"id","url"}]}`. The drains API on any replica writes it (compare-and-set on the
 * key's revision, retried on a conflict); every replica watches the bucket and makes its own
 * DrainManager match, so a change takes effect everywhere within a round trip, and the set
 * survives restarts of every replica. Config `drains` seed an app's key only when it has none.
 * The API's calls fail with BusUnavailable (E_BUS_UNAVAILABLE) when the bus did not answer.
 */
export class DrainRegistry implements DrainApi {
  private closed = false;
  private watching: { stop(): void } | null = null;
  private synced = false;

  constructor(private readonly kv: KV, private readonly manager: DrainManager, private readonly logger: Logger) {}

  /** true once the watch has delivered the bucket's content */
  get ready(): boolean {
    return this.synced;
  }

  /** Watches the bucket for good (retried while the bus is away). */
  start(): void {
    void this.watch();
  }

  close(): void {
    this.closed = true;
    this.watching?.stop();
  }

  /** Writes the config's drains for apps that have no key yet. */
  async seed(drains: Readonly<Record<string, readonly string[]>>): Promise<void> {
    for (const [app, urls] of Object.entries(drains)) {
      const list = urls.map((url) => ({ id: randomUUID(), url: parseDrainUrl(url).url }));
      try {
        await this.kv.create(appKey(app), JSON.stringify({ drains: list } satisfies Entry));
        this.logger.info({ app, drains: list.length }, 'drains seeded from the config into the bus registry');
      } catch (err) {
        if (!isWrongLastSequence(err)) throw err; // else: the app has a key already
      }
    }
  }

  async add(app: string, url: string): Promise<DrainInfo> {
    const target = parseDrainUrl(url); // DrainUrlError (400) before anything is written
    return this.change(app, (list) => {
      const existing = list.find((d) => d.url === target.url);
      if (existing) return { list: null, result: existing };
      const d = { id: randomUUID(), url: target.url };
      return { list: [...list, d], result: d };
    });
  }

  async list(app: string): Promise<DrainInfo[]> {
    return parseEntry(await this.read(appKey(app))).map((d) => ({ id: d.id, url: d.url }));
  }

  async remove(app: string, id: string): Promise<boolean> {
    return this.change(app, (list) => {
      const rest = list.filter((d) => d.id !== id);
      return rest.length === list.length ? { list: null, result: false } : { list: rest, result: true };
    });
  }

  /** Read, change, compare-and-set; `list: null` = nothing to write. */
  private async change<T>(app: string, edit: (list: DrainInfo[]) => { list: DrainInfo[] | null; result: T }): Promise<T> {
    const key = appKey(app);
    for (let attempt = 1; ; attempt++) {
      const entry = await this.read(key);
      const { list, result } = edit(parseEntry(entry));
      if (list === null) return result;
      const value = JSON.stringify({ drains: list } satisfies Entry);
      try {
        if (entry) await this.kv.update(key, value, entry.revision);
        else await this.kv.create(key, value);
        this.manager.syncApp(app, list); // here at once; the watch confirms
        return result;
      } catch (err) {
        if (!isWrongLastSequence(err) || attempt >= MAX_CAS_ATTEMPTS) throw asBusUnavailable(err);
      }
    }
  }

  /** The key's entry; a BusUnavailable when the bus did not answer. */
  private async read(key: string): Promise<KvEntry | null> {
    try {
      return await this.kv.get(key);
    } catch (err) {
      throw asBusUnavailable(err);
    }
  }

  private async watch(): Promise<void> {
    while (!this.closed) {
      try {
        const empty = (await this.kv.status()).values === 0;
        const it = await this.kv.watch();
        this.watching = it;
        const seen = new Set<string>();
        if (empty) this.finishSync(seen);
        for await (const e of it) {
          if (this.closed) break;
          const app = appOfKey(e.key);
          if (app === null) continue;
          seen.add(app);
          this.manager.syncApp(app, parseEntry(e));
          if (e.isUpdate && !this.synced) this.finishSync(seen);
        }
      } catch (err) {
        this.logger.debug({ err: (err as Error).message }, 'drain registry watch failed; retrying');
      }
      if (!this.closed) await new Promise((r) => setTimeout(r, 1000));
    }
  }

  private finishSync(seen: Set<string>): void {
    this.synced = true;
    // apps with local drains but no key any more (a restart of the watch after deletes)
    for (const app of this.manager.apps()) if (!seen.has(app)) this.manager.syncApp(app, []);
  }
}
