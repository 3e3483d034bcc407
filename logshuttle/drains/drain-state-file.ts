import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';

/** `{ "version": 1, "drains": { "<app>": [ { "id": "…", "url": "…" } ] } }` */
export type DrainState = Record<string, Array<{ id: string; url: string }>>;

/** Reads the drain state file; a missing file is an empty set, a bad one is logged and ignored. */
export function loadDrainState(path: string, logger: Logger): DrainState {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') logger.warn({ path, err: (err as Error).message }, 'drain state file unreadable; starting without it');
    return {};
  }
  try {
    const doc = JSON.parse(text) as { version?: unknown; drains?: unknown };
    if (doc.version !== 1 || !doc.drains || typeof doc.drains !== 'object') throw new Error('expected {"version":1,"drains":{…}}');
    const out: DrainState = {};
    for (const [app, list] of Object.entries(doc.drains as Record<string, unknown>)) {
      if (!Array.isArray(list)) continue;
      out[app] = list.filter((d): d is { id: string; url: string } =>
        !!d && typeof d === 'object' && typeof (d as { id?: unknown }).id === 'string' && typeof (d as { url?: unknown }).url === 'string');
    }
    return out;
  } catch (err) {
    logger.warn({ path, err: (err as Error).message }, 'drain state file malformed; starting without it');
    return {};
  }
}

/** Writes the drain state atomically (temporary file in the same directory, then rename). */
export function saveDrainState(path: string, drains: DrainState, logger: Logger): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(tmp, JSON.stringify({ version: 1, drains }, null, 2) + '\n', { mode: 0o600 });
    renameSync(tmp, path);
  } catch (err) {
    logger.error({ path, err: (err as Error).message }, 'drain state file not written');
  }
}
