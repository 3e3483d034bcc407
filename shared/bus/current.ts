/**
 * A stand-in for a client object bound to one NATS connection (a JetStream client or manager, a
 * KV handle): every property read goes to what `get()` returns at that moment, methods bound to
 * it. Whoever holds the stand-in keeps working when the owner swaps the object for one on a new
 * connection (BusConnection makes a new connection when the old one closed for good), with
 * nothing to rebind on their side. Objects handed out earlier (a consumer, an iterator) stay on
 * the connection they came from: their calls fail once it is closed, and the holder gets new
 * ones through the stand-in when it retries.
 */
export function current<T extends object>(get: () => T): T {
  return new Proxy({} as T, {
    get(_target, prop) {
      const obj = get();
      const v = Reflect.get(obj, prop, obj) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(obj) : v;
    },
    has(_target, prop) {
      return Reflect.has(get(), prop);
    },
  });
}
