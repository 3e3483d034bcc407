import { isIPv4, isIPv6 } from 'node:net';

/**
 * An IP address as four unsigned 32-bit words of the IPv6 space, most significant first. IPv4
 * addresses live in the IPv4-mapped range (`::ffff:a.b.c.d`), so an IPv4 rule matches a peer on
 * a dual-stack listener (which sees `::ffff:10.1.2.3`) and an IPv6 rule for `::ffff:0:0/96`
 * matches plain IPv4 peers: mapped addresses are handled both ways.
 */
export type Address = [number, number, number, number];

const MAPPED_WORD = 0xffff;

function ipv4Word(text: string): number {
  const p = text.split('.');
  return ((Number(p[0]) << 24) | (Number(p[1]) << 16) | (Number(p[2]) << 8) | Number(p[3])) >>> 0;
}

/**
 * Parses an IPv4 or IPv6 address (any textual form: `10.0.0.1`, `::1`, `2001:db8::`,
 * `::ffff:1.2.3.4`, uWS's full `0000:…:0001`), or null when it is not one (zone ids are not).
 */
export function parseAddress(text: string): Address | null {
  if (isIPv4(text)) return [0, 0, MAPPED_WORD, ipv4Word(text)];
  if (!isIPv6(text) || text.includes('%')) return null;
  let head = text;
  let tailV4: number | null = null;
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) !== -1) {
    tailV4 = ipv4Word(text.slice(lastColon + 1));
    head = text.slice(0, lastColon + 1) + '0:0';
  }
  const groups = new Array<number>(8).fill(0);
  const dbl = head.indexOf('::');
  if (dbl === -1) {
    const g = head.split(':');
    for (let i = 0; i < 8; i++) groups[i] = parseInt(g[i], 16);
  } else {
    const left = head.slice(0, dbl) === '' ? [] : head.slice(0, dbl).split(':');
    const right = head.slice(dbl + 2) === '' ? [] : head.slice(dbl + 2).split(':');
    left.forEach((g, i) => (groups[i] = parseInt(g, 16)));
    right.forEach((g, i) => (groups[8 - right.length + i] = parseInt(g, 16)));
  }
  const words: Address = [
    ((groups[0] << 16) | groups[1]) >>> 0,
    ((groups[2] << 16) | groups[3]) >>> 0,
    ((groups[4] << 16) | groups[5]) >>> 0,
    ((groups[6] << 16) | groups[7]) >>> 0,
  ];
  if (tailV4 !== null) words[3] = tailV4;
  return words;
}

let lastPeerText = '';
let lastPeer: Readonly<Address> | null = null;

/**
 * parseAddress for a request's peer (read-only): the last one is remembered, as the requests of
 * a kept-alive connection come one after another from the same peer.
 */
export function peerAddress(text: string): Readonly<Address> | null {
  if (text !== lastPeerText) {
    lastPeer = parseAddress(text);
    lastPeerText = text;
  }
  return lastPeer;
}

/** Is it in the IPv4-mapped range (an IPv4 address)? */
export function isMappedV4(a: Readonly<Address>): boolean {
  return a[0] === 0 && a[1] === 0 && a[2] === MAPPED_WORD;
}

/** The address as the canonical text a rate-limit bucket uses: dotted IPv4 for mapped ones, else 8 hex groups. */
export function canonicalAddress(a: Readonly<Address>): string {
  if (isMappedV4(a)) return `${a[3] >>> 24}.${(a[3] >>> 16) & 255}.${(a[3] >>> 8) & 255}.${a[3] & 255}`;
  return a.map((w) => `${(w >>> 16).toString(16)}:${(w & 0xffff).toString(16)}`).join(':');
}

/** -1, 0, 1 as a < b, a = b, a > b. */
export function compareAddress(a: Readonly<Address>, b: Readonly<Address>): number {
  for (let i = 0; i < 4; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return 0;
}

/** A CIDR range as its first and last address. */
export interface AddressRange {
  readonly first: Readonly<Address>;
  readonly last: Readonly<Address>;
}

/**
 * Parses `addr/prefix` (or a bare address: a single-address range). An IPv4 CIDR's prefix
 * counts in the mapped space (96 + n). Returns why it is not one as a string.
 */
export function parseCidr(text: string): AddressRange | string {
  const slash = text.indexOf('/');
  const addrText = slash === -1 ? text : text.slice(0, slash);
  const addr = parseAddress(addrText);
  if (addr === null) return `"${addrText}" is not an IPv4 or IPv6 address`;
  const v4 = isIPv4(addrText);
  const max = v4 ? 32 : 128;
  let prefix = max;
  if (slash !== -1) {
    const p = text.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(p) || Number(p) > max) return `"/${p}" is not a prefix length of 0 to ${max}`;
    prefix = Number(p);
  }
  const bits = v4 ? 96 + prefix : prefix;
  const first: Address = [0, 0, 0, 0];
  const last: Address = [0, 0, 0, 0];
  for (let i = 0; i < 4; i++) {
    const keep = Math.max(0, Math.min(32, bits - i * 32));
    const mask = keep === 0 ? 0 : keep === 32 ? 0xffffffff : (0xffffffff << (32 - keep)) >>> 0;
    first[i] = (addr[i] & mask) >>> 0;
    last[i] = (first[i] | (~mask >>> 0)) >>> 0;
  }
  if (compareAddress(first, addr) !== 0) return `"${text}" has host bits set (the network is ${rangeText(first, bits, v4)})`;
  return { first, last };
}

function rangeText(first: Address, bits: number, v4: boolean): string {
  if (v4) return `${canonicalAddress(first)}/${bits - 96}`;
  return `${canonicalAddress(first)}/${bits}`;
}
