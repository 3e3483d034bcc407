import type { FirewallFilterDef } from '../config/filter-schema.js';
import type { Filter, FilterRequest, FilterVerdict } from './filter.js';
import { AddressSet } from './address-set.js';
import { parseCidr, peerAddress, type AddressRange } from './ip-address.js';
import { problemAnswer } from './problem-answer.js';
import { countRefusal, type FilterCount } from './filter-counters.js';

/**
 * Firewall (`type: firewall`): the client IP is the TCP peer address (never X-Forwarded-For).
 * Refused (403 `firewall_denied`) when it is in `deny`, or when `allow` is given and it is
 * outside it; deny wins. IPv4 and IPv6, IPv4-mapped IPv6 both ways (ip-address.ts). The rules
 * are compiled once into sorted, merged ranges (AddressSet).
 */
export class FirewallFilter implements Filter {
  readonly type = 'firewall';
  private readonly allow: AddressSet | null;
  private readonly deny: AddressSet;

  constructor(readonly name: string, def: FirewallFilterDef, private readonly count: FilterCount) {
    this.allow = def.allow === undefined ? null : new AddressSet(ranges(def.allow));
    this.deny = new AddressSet(ranges(def.deny ?? []));
  }

  apply(req: FilterRequest): FilterVerdict {
    const verdict = this.verdict(req.peer);
    if (verdict === null) {
      this.count.passed++;
      return undefined;
    }
    countRefusal(this.count, 'firewall_denied');
    return problemAnswer('firewall_denied', verdict);
  }

  /** null when the address may pass, else why not */
  verdict(peer: string): string | null {
    const a = peerAddress(peer);
    if (a === null) return 'the client address cannot be read';
    if (this.deny.has(a)) return 'the client address is denied';
    if (this.allow !== null && !this.allow.has(a)) return 'the client address is not allowed';
    return null;
  }
}

function ranges(list: readonly string[]): AddressRange[] {
  const out: AddressRange[] = [];
  for (const text of list) {
    const r = parseCidr(text.trim());
    if (typeof r === 'string') throw new Error(r); // validated before (firewallProblems)
    out.push(r);
  }
  return out;
}

/** Problems of a firewall definition: every entry a CIDR or an address. */
export function firewallProblems(def: FirewallFilterDef, at: (field: string, reason: string) => void): void {
  for (const key of ['allow', 'deny'] as const) {
    (def[key] ?? []).forEach((text, i) => {
      const r = parseCidr(text.trim());
      if (typeof r === 'string') at(`${key}[${i}]`, r);
    });
  }
  if (def.allow === undefined && def.deny === undefined) at('allow', 'give allow, deny or both');
}
