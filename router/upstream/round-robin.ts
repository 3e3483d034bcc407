import type { Dyno } from './dyno.js';
import type { Rotation, RotationDyno } from './dyno-attempts.js';

/**
 * Round robin over an app's dynos, skipping ejected ones, never all of them: when every
 * candidate is ejected, ejection is ignored (a dyno that might work beats a certain 503).
 */
export class RoundRobin<D extends RotationDyno = Dyno> implements Rotation<D> {
  readonly dynos: readonly D[];
  private next = 0;

  constructor(dynos: readonly D[]) {
    this.dynos = dynos;
  }

  /**
   * The next dyno not tried yet, or -1 when all were tried. `tried` is a bit set of the indexes
   * below 31; `triedMore` holds the others (an app with more than 31 dynos).
   */
  pick(tried: number, now: number, triedMore: ReadonlySet<number> | null = null): number {
    const n = this.dynos.length;
    let fallback = -1;
    for (let k = 0; k < n; k++) {
      const i = (this.next + k) % n;
      if (i < 31 ? (tried & (1 << i)) !== 0 : triedMore !== null && triedMore.has(i)) continue;
      if (this.dynos[i].isEjected(now)) {
        if (fallback === -1) fallback = i;
        continue;
      }
      this.next = (i + 1) % n;
      return i;
    }
    if (fallback !== -1) this.next = (fallback + 1) % n;
    return fallback;
  }
}
