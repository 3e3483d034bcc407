import { Type, type Static } from '@sinclair/typebox';
import { BusConfigSchema, type BusConfig } from '../../shared/bus/index.js';
import type { BusTuning } from '../bus/bus-tuning.js';

const Listener = Type.Object(
  {
    host: Type.String({ minLength: 1 }),
    port: Type.Integer({ minimum: 0, maximum: 65535 }),
  },
  { additionalProperties: false },
);

/** The shuttle's config document (DESIGN.md "Log shuttle configuration"); unknown keys are errors. */
export const ShuttleConfigSchema = Type.Object(
  {
    /** an editor's pointer to the JSON Schema (examples/schema/); ignored */
    $schema: Type.Optional(Type.String()),
    listen: Type.Object(
      {
        ingest: Type.Optional(Listener),
        syslog_tcp: Type.Optional(Listener),
        syslog_udp: Type.Optional(Listener),
        http: Type.Optional(Listener),
      },
      { additionalProperties: false },
    ),
    history: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000 })),
    drainBuffer: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000000 })),
    workers: Type.Optional(Type.Integer({ minimum: 0, maximum: 64 })),
    drains: Type.Optional(Type.Record(Type.String({ minLength: 1 }), Type.Array(Type.String()))),
    /** Optional: where the drain set is persisted across restarts (passed to the drain manager). */
    stateFile: Type.Optional(Type.String({ minLength: 1 })),
    /** SIGTERM: the whole stop (ingest grace + drain flush) takes at most this long */
    shutdownMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 600000 })),
    /** an app with no line for this long (and no tail) is forgotten */
    appIdleMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 30 * 24 * 3600 * 1000 })),
    /** ring memory bounds: past either, the least recently written app is dropped */
    maxApps: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000000 })),
    maxRingBytes: Type.Optional(Type.Integer({ minimum: 1, maximum: 2 ** 50 })),
    /** DESIGN.md "Log bus": replicas on NATS JetStream (shared/bus's section) */
    bus: Type.Optional(BusConfigSchema),
    /** the shuttle's own knobs of bus mode (bus/bus-tuning.ts); tests shorten them */
    busTuning: Type.Optional(Type.Object(
      {
        leaseTtlMs: Type.Optional(Type.Integer({ minimum: 4000, maximum: 600000 })),
        ackWaitMs: Type.Optional(Type.Integer({ minimum: 200, maximum: 600000 })),
        holdMs: Type.Optional(Type.Integer({ minimum: 10, maximum: 600000 })),
        fetchBatch: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000 })),
        fetchExpiresMs: Type.Optional(Type.Integer({ minimum: 1000, maximum: 60000 })),
        maxAckPending: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000000 })),
        publishDeadlineMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 600000 })),
        requestTimeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 60000 })),
      },
      { additionalProperties: false },
    )),
  },
  { additionalProperties: false },
);

export type ShuttleConfigDocument = Static<typeof ShuttleConfigSchema>;

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** The validated, defaulted, frozen config the program runs with. */
export interface ShuttleConfig {
  readonly listen: {
    readonly ingest?: ListenAddress;
    readonly syslog_tcp?: ListenAddress;
    readonly syslog_udp?: ListenAddress;
    readonly http?: ListenAddress;
  };
  readonly history: number;
  readonly drainBuffer: number;
  readonly workers: number;
  readonly drains: Readonly<Record<string, readonly string[]>>;
  readonly stateFile?: string;
  readonly shutdownMs: number;
  readonly appIdleMs: number;
  readonly maxApps: number;
  readonly maxRingBytes: number;
  /** bus mode when set */
  readonly bus?: BusConfig;
  readonly busTuning: BusTuning;
}

export const DEFAULT_HISTORY = 1500;
export const DEFAULT_DRAIN_BUFFER = 1024;
export const DEFAULT_WORKERS = 0;
export const DEFAULT_SHUTDOWN_MS = 10_000;
export const DEFAULT_APP_IDLE_MS = 6 * 3600 * 1000;
export const DEFAULT_MAX_APPS = 50_000;
export const DEFAULT_MAX_RING_BYTES = 2 * 1024 ** 3;
