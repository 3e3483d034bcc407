import type { Logger } from '../../shared/logger.js';
import type { RouterConfig } from '../config/schema.js';
import type { RouteTable } from '../routing/route-table.js';
import { TableCompiler, type ConfigDelta, type PreparedTable } from '../routing/table-compiler.js';
import type { CompileOptions } from '../routing/compile.js';
import { CanaryView, type CanaryAbortEvent } from '../canary/canary-view.js';
import type { BoardDescription } from '../canary/board-layout.js';

/** What the switch needs from its worker. */
export interface SwitchHost {
  readonly logger: Logger;
  /** the worker's HTTPS listener, when it has one: new certificates are applied at prepare */
  tlsApply?(config: RouterConfig, baseDir: string): void;
  /** after a swap: close the dynos and WebSockets the new table no longer uses */
  afterSwap(table: RouteTable): void;
  onCanaryAbort(e: CanaryAbortEvent): void;
}

interface Pending {
  readonly seq: number;
  readonly prepared: PreparedTable;
  readonly canary: CanaryView;
  /** the certificates applied at prepare, to put back if the change is aborted */
  readonly tls: { config: RouterConfig; baseDir: string } | null;
}

/**
 * A worker's current route table and the next one (DESIGN.md "Config revisions"): the main
 * thread asks every worker to prepare a table (compiled off the request path, whole or from a
 * delta), and once every worker has, it commits: it stores the change's sequence number in a
 * word of shared memory and posts `commit`. A worker reads `table` at the start of each
 * request; when a prepared table's number is in the shared word, that read swaps it in. So all
 * workers switch at the same instant (the store), not each when its message arrives, and a
 * request keeps the table it started with. `commit` then does what may wait: closing dynos and
 * WebSockets the new table no longer uses, and the filters of replaced app routes.
 */
export class TableSwitch {
  private readonly compiler: TableCompiler;
  private live: RouteTable;
  private view: CanaryView;
  private pending: Pending | null = null;
  /** swapped in (by a request or by commit) and not cleaned up yet */
  private swapped: Pending | null = null;
  /** the running document's certificates (to restore after an aborted change that replaced them) */
  private tlsNow: { config: RouterConfig; baseDir: string };

  constructor(private readonly host: SwitchHost, opts: Omit<CompileOptions, 'version' | 'canarySlots'>, private readonly word: Int32Array | null,
    start: { config: RouterConfig; version: string; baseDir: string; canary: BoardDescription }) {
    this.compiler = new TableCompiler(opts);
    const first = this.compiler.full(start.config, start.version, slotsOf(start.canary));
    first.commit();
    this.live = first.table;
    this.view = this.newView(start.canary);
    this.tlsNow = { config: start.config, baseDir: start.baseDir };
  }

  /** The table a request starting now uses. */
  get table(): RouteTable {
    if (this.pending !== null && this.word !== null && Atomics.load(this.word, 0) === this.pending.seq) this.swap();
    return this.live;
  }

  get canary(): CanaryView {
    if (this.pending !== null) void this.table;
    return this.view;
  }

  /** Compiles the next table (whole with `config`, else from `delta`); throws when it cannot. */
  prepare(seq: number, version: string, baseDir: string, board: BoardDescription, change: { config: RouterConfig } | { delta: ConfigDelta }): void {
    if (this.pending !== null) this.abort(this.pending.seq);
    let tls: Pending['tls'] = null;
    let prepared: PreparedTable;
    if ('config' in change) {
      this.host.tlsApply?.(change.config, baseDir);
      tls = { config: change.config, baseDir };
      try {
        prepared = this.compiler.full(change.config, version, slotsOf(board));
      } catch (err) {
        this.restoreTls();
        throw err;
      }
    } else {
      prepared = this.compiler.delta(change.delta, version, slotsOf(board));
    }
    this.pending = { seq, prepared, canary: this.newView(board), tls };
  }

  /** Makes the prepared table current (if a request has not already), then cleans up. */
  commit(seq: number): boolean {
    if (this.pending?.seq === seq) this.swap();
    if (this.swapped?.seq !== seq) return false;
    const { prepared, tls } = this.swapped;
    this.swapped = null;
    if (tls) this.tlsNow = tls;
    this.host.afterSwap(prepared.table);
    // after the swap: caches shared with the new table stay warm (they are reference counted)
    for (const app of prepared.retired) for (const f of app.filters) f.close?.();
    return true;
  }

  /** Drops the prepared table: its own filters are closed, the certificates put back. */
  abort(seq: number): void {
    if (this.pending?.seq !== seq) return;
    const { prepared, tls } = this.pending;
    this.pending = null;
    for (const app of prepared.created) for (const f of app.filters) f.close?.();
    if (tls) this.restoreTls();
  }

  /** One step (a worker brought to the running config): prepare and commit at once. */
  applyNow(config: RouterConfig, version: string, baseDir: string, board: BoardDescription): void {
    this.prepare(-1, version, baseDir, board, { config });
    this.commit(-1);
  }

  private swap(): void {
    const p = this.pending!;
    this.pending = null;
    this.swapped = p;
    p.prepared.commit();
    this.live = p.prepared.table;
    this.view = p.canary;
  }

  private restoreTls(): void {
    try {
      this.host.tlsApply?.(this.tlsNow.config, this.tlsNow.baseDir);
    } catch (err) {
      this.host.logger.error({ err }, 'could not put the running certificates back');
    }
  }

  private newView(board: BoardDescription): CanaryView {
    return new CanaryView(board, { onAbort: (e) => this.host.onCanaryAbort(e) });
  }
}

function slotsOf(board: BoardDescription): Record<string, number> {
  const slots: Record<string, number> = {};
  for (const e of board.canaries) slots[e.prodApp] = e.slot;
  return slots;
}
