import { Type, type Static } from '@sinclair/typebox';

/**
 * The `acme` section of the router config (DESIGN.md "Automatic HTTPS"; docs/router/acme.md).
 * The contract's keys, plus two beside it: `orders_per_minute` (the global cap on new orders,
 * the on-demand abuse limit) and `retry_base_s` (the first backoff after a failed order; it
 * doubles up to one day).
 */
export const AcmeConfigSchema = Type.Object({
  directory: Type.String({ pattern: '^https?://', description: 'the ACME directory URL' }),
  email: Type.Optional(Type.Union([Type.String({ minLength: 3 }), Type.Null()])),
  storage: Type.String({ minLength: 1, description: 'directory of the account key and certificates (relative to the config file)' }),
  hosts: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  on_demand: Type.Optional(Type.Union([Type.Object({
    ask: Type.String({ pattern: '^https?://', description: 'GET <ask>?domain=<name>: 2xx approves the name' }),
  }, { additionalProperties: false }), Type.Null()])),
  ca_file: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Null()])),
  renew_ratio: Type.Optional(Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 })),
  orders_per_minute: Type.Optional(Type.Integer({ minimum: 1 })),
  retry_base_s: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
}, { additionalProperties: false });

export type AcmeConfig = Static<typeof AcmeConfigSchema>;

export const ACME_DEFAULTS = Object.freeze({ renew_ratio: 0.33, orders_per_minute: 10, retry_base_s: 60 });

/** A host name http-01 can prove: letters, digits, dashes, dots; no wildcard, no IP address. */
const NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** The name as ACME orders it (lower case, no trailing dot), or null when http-01 cannot prove it. */
export function acmeName(host: string): string | null {
  const name = host.toLowerCase().replace(/\.$/, '');
  if (!NAME.test(name) || !name.includes('.') || /^[0-9.]+$/.test(name)) return null;
  return name;
}

/** Problems the schema cannot see (cross-section rules), as `field: reason`. */
export function acmeProblems(acme: unknown): string[] {
  if (acme === null || typeof acme !== 'object' || Array.isArray(acme)) return [];
  const hosts = (acme as { hosts?: unknown }).hosts;
  if (!Array.isArray(hosts)) return [];
  const problems: string[] = [];
  hosts.forEach((h: unknown, i) => {
    if (typeof h !== 'string') return;
    if (h.includes('*')) problems.push(`acme.hosts[${i}]: "${h}" is a wildcard (http-01 cannot prove one; put it in certificates)`);
    else if (acmeName(h) === null) problems.push(`acme.hosts[${i}]: "${h}" is not a DNS name a certificate can be ordered for`);
  });
  return problems;
}
