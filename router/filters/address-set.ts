import { compareAddress, type Address, type AddressRange } from './ip-address.js';

/**
 * A set of CIDR ranges compiled once: sorted, overlapping and adjacent ranges merged, looked up
 * by binary search (O(log n) per request, whatever the number of rules).
 */
export class AddressSet {
  private readonly firsts: readonly Readonly<Address>[];
  private readonly lasts: readonly Readonly<Address>[];

  constructor(ranges: readonly AddressRange[]) {
    const sorted = [...ranges].sort((a, b) => compareAddress(a.first, b.first));
    const firsts: Readonly<Address>[] = [];
    const lasts: Readonly<Address>[] = [];
    for (const r of sorted) {
      const n = lasts.length;
      if (n > 0 && (compareAddress(r.first, lasts[n - 1]) <= 0 || isNext(lasts[n - 1], r.first))) {
        if (compareAddress(r.last, lasts[n - 1]) > 0) lasts[n - 1] = r.last;
      } else {
        firsts.push(r.first);
        lasts.push(r.last);
      }
    }
    this.firsts = firsts;
    this.lasts = lasts;
  }

  /** number of disjoint ranges after merging */
  get size(): number {
    return this.firsts.length;
  }

  has(a: Readonly<Address>): boolean {
    let lo = 0;
    let hi = this.firsts.length - 1;
    // the last range whose first address is <= a
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (compareAddress(this.firsts[mid], a) <= 0) {
        at = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return at !== -1 && compareAddress(a, this.lasts[at]) <= 0;
  }
}

/** is b the address right after a? */
function isNext(a: Readonly<Address>, b: Readonly<Address>): boolean {
  const c: Address = [a[0], a[1], a[2], a[3]];
  for (let i = 3; i >= 0; i--) {
    if (c[i] !== 0xffffffff) {
      c[i] = c[i] + 1;
      return compareAddress(c, b) === 0;
    }
    c[i] = 0;
  }
  return false;
}
