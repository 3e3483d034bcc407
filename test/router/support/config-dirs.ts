import { linkSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A config file the router's directory watcher cannot see change: the router reads
 * `<dir>/router.json`, a hard link to a file in another directory. Writing that file in place
 * changes what the router reads without any event in the watched directory.
 */
export function hiddenConfigFile(doc: unknown): { path: string; write(doc: unknown): void } {
  const watched = mkdtempSync(join(tmpdir(), 'edgeplane-watched-'));
  const elsewhere = mkdtempSync(join(tmpdir(), 'edgeplane-elsewhere-'));
  const real = join(elsewhere, 'real.json');
  const text = (d: unknown): string => (typeof d === 'string' ? d : JSON.stringify(d, null, 2));
  writeFileSync(real, text(doc));
  const path = join(watched, 'router.json');
  linkSync(real, path);
  return { path, write: (d) => writeFileSync(real, text(d)) };
}

/**
 * A Kubernetes ConfigMap volume: `<dir>/config.json -> ..data/config.json`,
 * `..data -> ..<timestamp>`; an update writes a new timestamped directory, points a temporary
 * symlink at it and renames that over `..data` (atomic), then removes the old directory.
 */
export function configMapVolume(doc: unknown): { path: string; update(doc: unknown): void } {
  const dir = mkdtempSync(join(tmpdir(), 'edgeplane-configmap-'));
  let generation = 0;
  let current = '';
  const text = (d: unknown): string => (typeof d === 'string' ? d : JSON.stringify(d, null, 2));
  const publish = (d: unknown): void => {
    generation++;
    const name = `..2026_01_01_00_00_${String(generation).padStart(2, '0')}.${process.pid}`;
    mkdirSync(join(dir, name));
    writeFileSync(join(dir, name, 'config.json'), text(d));
    symlinkSync(name, join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    if (current) rmSync(join(dir, current), { recursive: true, force: true });
    current = name;
  };
  publish(doc);
  symlinkSync(join('..data', 'config.json'), join(dir, 'config.json'));
  return { path: join(dir, 'config.json'), update: publish };
}
