import { Type, type Static } from '@sinclair/typebox';

/**
 * The `bus` section both programs take (DESIGN.md "Log bus"), validated whole with the rest of
 * their config document. Unknown keys are errors. `outbox` is the router's (lines held while
 * the bus is away); the shuttle accepts and ignores it.
 */
export const BusConfigSchema = Type.Object({
  servers: Type.Array(Type.String({ pattern: '^((nats|tls)://)?[^\\s/]+$', description: 'nats://host:port' }), { minItems: 1 }),
  /** the log stream; its KV buckets are `<stream>_LEASES`, `<stream>_DRAINS` (names: letters, digits, _ and -) */
  stream: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,200}$' })),
  partitions: Type.Optional(Type.Integer({ minimum: 1, maximum: 4096 })),
  replicas: Type.Optional(Type.Integer({ minimum: 1, maximum: 5 })),
  max_age_s: Type.Optional(Type.Integer({ minimum: 1 })),
  /** a NATS .creds file (JWT + nkey seed), or null for none */
  credentials: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Null()])),
  /** router: lines held while the bus is away, oldest dropped and counted (L10) past it */
  outbox: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000000 })),
}, { additionalProperties: false });

export type BusConfigDocument = Static<typeof BusConfigSchema>;

export const BUS_DEFAULTS = Object.freeze({
  stream: 'EDGEPLANE_LOGS',
  partitions: 16,
  replicas: 3,
  max_age_s: 3600,
  credentials: null,
  outbox: 100000,
});

/** The section with every default applied, frozen. */
export interface BusConfig {
  readonly servers: readonly string[];
  readonly stream: string;
  readonly partitions: number;
  readonly replicas: number;
  readonly max_age_s: number;
  readonly credentials: string | null;
  readonly outbox: number;
}

/** Applies the defaults to a validated section (relative `credentials` resolved by the caller). */
export function resolveBusConfig(doc: BusConfigDocument): BusConfig {
  return Object.freeze({
    servers: Object.freeze([...doc.servers]),
    stream: doc.stream ?? BUS_DEFAULTS.stream,
    partitions: doc.partitions ?? BUS_DEFAULTS.partitions,
    replicas: doc.replicas ?? BUS_DEFAULTS.replicas,
    max_age_s: doc.max_age_s ?? BUS_DEFAULTS.max_age_s,
    credentials: doc.credentials ?? BUS_DEFAULTS.credentials,
    outbox: doc.outbox ?? BUS_DEFAULTS.outbox,
  });
}

/** Names derived from the stream name (one place, so both programs agree). */
export function busNames(stream: string): { stream: string; history: string; leases: string; drains: string } {
  return { stream, history: `${stream}_HIST`, leases: `${stream}_LEASES`, drains: `${stream}_DRAINS` };
}
