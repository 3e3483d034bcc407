import t from 'tap';
import fc from 'fast-check';
import { validateShuttleConfig } from '../../logshuttle/config/load-config.js';
import { ConfigError } from '../../shared/errors.js';
import { fuzz } from './fuzz-params.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Path = (string | number)[];

/** `apps.api-prod.dynos[0]`, as ConfigError names fields */
function fieldName(path: Path): string {
  if (path.length === 0) return '(document)';
  // as shared/config-file.ts prints them: indexes in brackets, plain keys after dots, other keys quoted
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]`
    : /^[A-Za-z0-9_$.*:@-]+$/.test(p) ? (i === 0 ? p : `.${p}`)
      : i === 0 ? JSON.stringify(p) : `[${JSON.stringify(p)}]`)).join('');
}

/** The loader either accepts or throws ConfigError whose every problem is `field: reason`; nothing else. */
function outcome(load: () => unknown): ConfigError | null {
  try {
    load();
    return null;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw new Error(`threw ${(err as Error)?.constructor?.name}: ${(err as Error)?.stack ?? err}`);
    if (err.code !== 'E_CONFIG' || err.problems.length === 0) throw new Error(`ConfigError without problems: ${err.message}`);
    for (const p of err.problems) {
      // (a key "" prints as an empty field name: reported against shared/config-file.ts)
      if (!/^.*?: \S/s.test(p)) throw new Error(`problem does not name a field and a reason: ${JSON.stringify(p)}`);
      if (!err.message.includes(p)) throw new Error('message does not list every problem');
    }
    return err;
  }
}

/** every node of a JSON value with its path */
function nodes(v: Json, path: Path = []): { path: Path; value: Json }[] {
  const out = [{ path, value: v }];
  if (Array.isArray(v)) v.forEach((c, i) => out.push(...nodes(c, [...path, i])));
  else if (v !== null && typeof v === 'object') for (const [k, c] of Object.entries(v)) out.push(...nodes(c, [...path, k]));
  return out;
}

function setAt(doc: Json, path: Path, value: Json | undefined): Json {
  if (path.length === 0) return value ?? null;
  const copy: Json = structuredClone(doc);
  let node = copy as Record<string | number, Json>;
  for (const p of path.slice(0, -1)) node = node[p] as Record<string | number, Json>;
  const last = path[path.length - 1];
  if (value === undefined) {
    if (Array.isArray(node)) node.splice(last as number, 1);
    else delete node[last];
  } else {
    // an own property even for "__proto__", as JSON.parse makes it
    Object.defineProperty(node, last, { value, enumerable: true, writable: true, configurable: true });
  }
  return copy;
}

type Mutation = [pick: number, how: 'replace' | 'delete' | 'add-key', value: Json, key: string];
const mutation: fc.Arbitrary<Mutation> = fc.tuple(fc.nat(), fc.constantFrom('replace', 'delete', 'add-key'), fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>,
  fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('__proto__', 'constructor', 'toString', 'sticky', 'http', 'dynos', 'app', '')));

function mutate(doc: Json, muts: readonly Mutation[]): Json {
  let d = doc;
  for (const [pick, how, value, key] of muts) {
    const all = nodes(d);
    const { path, value: node } = all[pick % all.length];
    if (how === 'replace') d = setAt(d, path, value);
    else if (how === 'delete') d = setAt(d, path, undefined);
    else if (node !== null && typeof node === 'object' && !Array.isArray(node)) d = setAt(d, [...path, key], value);
  }
  return d;
}

const shuttleApp = fc.oneof(fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,20}$/), fc.constantFrom('api-prod', 'constructor', '__proto__x'));
const drainUrl = fc.constantFrom('syslog+tls://logs.example.com:6514', 'https://user:pass@collector.example.com/logs', 'syslog://10.0.0.1',
  'syslog+udp://[::1]:514', 'http://h.example/x?y=1', 'syslog+tcp://h:1');
const listener = fc.record({ host: fc.constantFrom('127.0.0.1', '0.0.0.0', '::1'), port: fc.integer({ min: 0, max: 65535 }) });
const shuttleDoc: fc.Arbitrary<Record<string, Json>> = fc.record({
  listen: fc.record({ ingest: listener, syslog_tcp: listener, syslog_udp: listener, http: listener }, { requiredKeys: [] }),
  history: fc.integer({ min: 1, max: 100000 }),
  drainBuffer: fc.integer({ min: 1, max: 10000000 }),
  workers: fc.integer({ min: 0, max: 64 }),
  drains: fc.dictionary(shuttleApp, fc.array(drainUrl, { maxLength: 3 }), { maxKeys: 4 }),
}, { requiredKeys: ['listen'] }) as fc.Arbitrary<Record<string, Json>>;

t.test('shuttle config: valid documents load; anything else throws ConfigError naming fields', async (t) => {
  await fuzz(t, 'valid shuttle documents', fc.property(shuttleDoc, (doc) => {
    const err = outcome(() => validateShuttleConfig(JSON.parse(JSON.stringify(doc))));
    if (err) throw new Error(`valid document refused: ${err.message}`);
  }), 2000);
  await fuzz(t, 'arbitrary JSON', fc.property(fc.jsonValue() as fc.Arbitrary<Json>, (v) => { outcome(() => validateShuttleConfig(v)); }), 3000);
  await fuzz(t, 'mutated documents', fc.property(shuttleDoc, fc.array(mutation, { minLength: 1, maxLength: 4 }), (doc, muts) => {
    outcome(() => validateShuttleConfig(JSON.parse(JSON.stringify(mutate(doc, muts)))));
  }), 3000);
  const known = ['listen', 'history', 'drainBuffer', 'workers', 'drains', 'stateFile', 'shutdownMs', 'appIdleMs', 'maxApps', 'maxRingBytes', 'ingest', 'syslog_tcp', 'syslog_udp', 'http', 'host', 'port'];
  await fuzz(t, 'unknown keys', fc.property(shuttleDoc, fc.boolean(), fc.stringMatching(/^[a-zA-Z_]{1,10}$/), (doc, inListen, key) => {
    fc.pre(!known.includes(key));
    const path = inListen ? ['listen', key] : [key];
    const err = outcome(() => validateShuttleConfig(JSON.parse(JSON.stringify(setAt(doc, path, 1)))));
    if (!err || !err.problems.includes(`${fieldName(path)}: unknown key`)) throw new Error(`adding ${fieldName(path)}: ${err ? err.problems.join('; ') : 'accepted'}`);
  }), 1500);
});
