let hosts = 0;

/**
 * A loopback address of this process's own in 127.0.0.0/8 (127.128-255.x.y, from the pid and a
 * counter), a new one per call: no other process binds it, so a listener that stops and starts
 * again there on the same port (a receiver that flaps, a dyno that comes back)
 * cannot find its port taken, as it could on 127.0.0.1.
 */
export function privateLoopbackHost(): string {
  hosts++;
  return `127.${((process.pid >> 8) & 127) | 128}.${process.pid & 255}.${hosts & 255 || 1}`;
}
