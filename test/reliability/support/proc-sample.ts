import { readdirSync, readFileSync } from 'node:fs';

/** Resident set size of a process in bytes (VmRSS from /proc/<pid>/status); 0 when unreadable. */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Open file descriptors of a process (sockets included); -1 when unreadable. */
export function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return -1;
  }
}

/** An IPv4 address as /proc/net/tcp writes it: the four bytes in host (little-endian) order, hex. */
function procHex(ipv4: string): string {
  return ipv4.split('.').reverse().map((b) => Number(b).toString(16).padStart(2, '0')).join('').toUpperCase();
}

/**
 * TCP connections in ESTABLISHED or CLOSE_WAIT whose remote end is `port` (any process), on the
 * IPv4 address `host` when given (as such or IPv4-mapped in /proc/net/tcp6), else on any address.
 */
export function connectionsTo(port: number, host?: string): number {
  const v4 = host === undefined ? null : procHex(host);
  let n = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'latin1');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4 || (f[3] !== '01' && f[3] !== '08')) continue;
      const remote = f[2];
      const colon = remote.lastIndexOf(':');
      if (parseInt(remote.slice(colon + 1), 16) !== port) continue;
      const address = remote.slice(0, colon);
      if (v4 === null || address === v4 || address === `0000000000000000FFFF0000${v4}`) n++;
    }
  }
  return n;
}

/** A gauge from a Prometheus text exposition (first sample with that name), NaN when absent. */
export function metric(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}
