import { Type, type Static } from '@sinclair/typebox';
import { AppFilterRefSchema, FilterDefSchema } from './filter-schema.js';
import { CanaryDefSchema } from '../canary/canary-schema.js';
import { BusConfigSchema } from '../../shared/bus/bus-config.js';
import { AcmeConfigSchema } from '../acme/acme-schema.js';

/** Router configuration document (DESIGN.md "Router configuration"). Unknown keys are errors. */

const Listen = Type.Object({
  host: Type.String({ minLength: 1 }),
  port: Type.Integer({ minimum: 0, maximum: 65535 }),
}, { additionalProperties: false });

const Dyno = Type.String({ pattern: '^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]+):[0-9]{1,5}$', description: 'host:port of a dyno' });

const slashAction = (description: string) => Type.Union([Type.Literal('keep'), Type.Literal('reject'), Type.Literal('decode')], { description });

/**
 * Path spellings some dyno stacks read differently (docs/router/path-options.md): top level for
 * every app, per app over it (key by key). Every key defaults to `keep` (the contract's
 * normalisation, nothing more).
 */
export const PathsSchema = Type.Object({
  escaped_slashes: Type.Optional(slashAction('%2F %5C in a path: keep (data, the default), reject (400), or decode into / and \\ before normalising')),
  backslashes: Type.Optional(slashAction('a \\ in a path: keep (the default), reject (400), or decode into / before normalising')),
  dot_segment_params: Type.Optional(Type.Union([Type.Literal('keep'), Type.Literal('reject'), Type.Literal('strip')], {
    description: 'a dot segment with ; parameters (..;x): keep (the default), reject (400), or strip (read as .. and resolved)',
  })),
}, { additionalProperties: false });

export const AppSchema = Type.Object({
  dynos: Type.Array(Dyno),
  filters: Type.Optional(Type.Array(AppFilterRefSchema)),
  // the canary module's own schema: one definition of its bounds (confidence in (0.5, 1)), no sticky mode
  canary: Type.Optional(CanaryDefSchema),
  internal: Type.Optional(Type.Boolean()),
  maintenance: Type.Optional(Type.Boolean()),
  paths: Type.Optional(PathsSchema),
}, { additionalProperties: false });

const Route = Type.Object({
  path: Type.String({ pattern: '^/' }),
  app: Type.String({ minLength: 1 }),
  target: Type.Optional(Type.String({ pattern: '^/' })),
}, { additionalProperties: false });

export const SiteSchema = Type.Object({
  routes: Type.Array(Route, { minItems: 1 }),
  internal: Type.Optional(Type.Boolean()),
}, { additionalProperties: false });

const Certificate = Type.Object({
  hosts: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
  cert: Type.String({ minLength: 1 }),
  key: Type.String({ minLength: 1 }),
}, { additionalProperties: false });

export const RouterConfigSchema = Type.Object({
  $schema: Type.Optional(Type.String()),
  domain: Type.String({ minLength: 1 }),
  workers: Type.Optional(Type.Integer({ minimum: 1, maximum: 256 })),
  listen: Type.Object({
    http: Listen,
    https: Type.Optional(Listen),
    internal: Type.Optional(Listen),
    admin: Type.Optional(Listen),
  }, { additionalProperties: false }),
  logshuttle: Type.Optional(Type.String({ pattern: '^(tcp://[^/]+:[0-9]+|unix:.+)$' })),
  timeouts: Type.Optional(Type.Object({
    connectMs: Type.Optional(Type.Integer({ minimum: 1 })),
    firstByteMs: Type.Optional(Type.Integer({ minimum: 1 })),
    idleMs: Type.Optional(Type.Integer({ minimum: 1 })),
  }, { additionalProperties: false })),
  limits: Type.Optional(Type.Object({
    maxBodyBytes: Type.Optional(Type.Integer({ minimum: 0 })),
  }, { additionalProperties: false })),
  shutdownMs: Type.Optional(Type.Integer({ minimum: 0 })),
  paths: Type.Optional(PathsSchema),
  certificates: Type.Optional(Type.Array(Certificate)),
  apps: Type.Record(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9-]*$' }), AppSchema, { additionalProperties: false }),
  sites: Type.Optional(Type.Record(Type.String({ minLength: 1 }), SiteSchema, { additionalProperties: false })),
  filters: Type.Optional(Type.Record(Type.String({ minLength: 1 }), FilterDefSchema)),
  /** the admin listener's dashboard (docs/router/dashboard.md): `logshuttle` is the shuttle's HTTP API, for the live tail pane */
  dashboard: Type.Optional(Type.Object({
    logshuttle: Type.Optional(Type.String({ pattern: '^https?://[^/?#]+(/[^?#]*)?$', description: 'base URL of the log shuttle HTTP API, e.g. http://127.0.0.1:5000' })),
  }, { additionalProperties: false })),
  /** the log bus (DESIGN.md "Log bus"): access lines go there instead of `logshuttle` */
  bus: Type.Optional(BusConfigSchema),
  /** automatic HTTPS (DESIGN.md "Automatic HTTPS"; docs/router/acme.md) */
  acme: Type.Optional(AcmeConfigSchema),
}, { additionalProperties: false });

/** Sections that exclude each other (the schema sees one key at a time): a problem per conflict. */
export function sectionConflicts(c: Record<string, unknown>): string[] {
  const problems: string[] = [];
  if (c.bus !== undefined && c.logshuttle !== undefined) {
    problems.push('bus: cannot be used together with logshuttle (access lines go to one of them; remove logshuttle or bus)');
  }
  return problems;
}

export type RouterConfig = Static<typeof RouterConfigSchema>;
export type AppConfig = Static<typeof AppSchema>;
export type SiteConfig = Static<typeof SiteSchema>;
export type PathsConfig = Static<typeof PathsSchema>;

export const DEFAULTS = Object.freeze({
  connectMs: 5000,
  firstByteMs: 30000,
  idleMs: 55000,
  maxBodyBytes: 104857600,
  shutdownMs: 25000,
  admin: Object.freeze({ host: '127.0.0.1', port: 9090 }),
});
