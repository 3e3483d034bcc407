let hosts = 0;
/** addresses one process may take (the low 6 bits of the last octet) */
const PER_PROCESS = 63;

/**
 * A loopback address of this process's own in 127.0.0.0/8, a new one per call: 127.128-255.x.y
 * made of the low 17 bits of the pid and a counter (at most 63 per process). No other process
 * binds it (two test processes alive at once would need pids 131,072 apart), so a listener that
 * stops and starts again there on the same port (a receiver that flaps, a dyno that comes back)
 * cannot find its port taken, as it could on 127.0.0.1.
 */
export function privateLoopbackHost(): string {
  if (hosts === PER_PROCESS) throw new Error(`privateLoopbackHost: more than ${PER_PROCESS} addresses in one process`);
  hosts++;
  const pid = process.pid;
  return `127.${128 | ((pid >> 10) & 127)}.${(pid >> 2) & 255}.${((pid & 3) << 6) | hosts}`;
}
