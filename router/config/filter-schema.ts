import { Type, type Static } from '@sinclair/typebox';

/**
 * Filter definitions (`filters.<name>`) and an app's references to them (`apps.X.filters[i]`),
 * DESIGN.md "Router configuration". The schema checks shapes; FilterFactory.problems() checks
 * meaning (URLs, origins, header names) and names every bad field.
 */

/** Asymmetric JWS algorithms a JWT filter may accept (never `none`, never HMAC with a JWKS). */
export const JWT_ALGORITHMS = [
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519',
] as const;

/** `filters.<name>` of type jwt (DESIGN.md), plus optional `algorithms` and `claims_headers`. */
export const JwtFilterDefSchema = Type.Object({
  type: Type.Literal('jwt'),
  jwks_uri: Type.String({ minLength: 1 }),
  issuer: Type.String({ minLength: 1 }),
  audiences: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  algorithms: Type.Optional(Type.Array(Type.Union(JWT_ALGORITHMS.map((a) => Type.Literal(a))), { minItems: 1 })),
  claims_headers: Type.Optional(Type.Record(Type.String({ minLength: 1 }), Type.String({ minLength: 1 }), {
    description: 'verified claim name -> request header the dyno receives it in',
  })),
}, { additionalProperties: false });

/** `filters.<name>` of type cors (DESIGN.md). */
export const CorsFilterDefSchema = Type.Object({
  type: Type.Literal('cors'),
  allow_origins: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
  allow_methods: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  allow_headers: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  expose_headers: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  max_age: Type.Optional(Type.Integer({ minimum: 0, maximum: 2147483647 })),
  allow_credentials: Type.Optional(Type.Boolean()),
}, { additionalProperties: false });

/** Where a keyauth filter looks for the key: the first location that has one wins. */
const KeyLocationSchema = Type.Union([
  Type.Object({ bearer: Type.Literal(true) }, { additionalProperties: false }),
  Type.Object({ header: Type.String({ minLength: 1, maxLength: 256 }) }, { additionalProperties: false }),
  Type.Object({ query: Type.String({ minLength: 1, maxLength: 256 }) }, { additionalProperties: false }),
]);

/** One API key of a keyauth filter: only its SHA-256 (hex of the key's UTF-8 bytes) is configured. */
const ApiKeySchema = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 256 }),
  sha256: Type.String({ pattern: '^[0-9A-Fa-f]{64}$' }),
  permissions: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  /** RFC 3339 date-time; the key is refused from then on */
  expires: Type.Optional(Type.String({ minLength: 1 })),
}, { additionalProperties: false });

/** `filters.<name>` of type keyauth (DESIGN.md "Edge filters beyond JWT and CORS"). */
export const KeyAuthFilterDefSchema = Type.Object({
  type: Type.Literal('keyauth'),
  locations: Type.Array(KeyLocationSchema, { minItems: 1 }),
  keys: Type.Array(ApiKeySchema),
  require: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  upstream_header: Type.Optional(Type.String({ minLength: 1 })),
  hide_credentials: Type.Optional(Type.Boolean()),
}, { additionalProperties: false });

/** `filters.<name>` of type ratelimit: a token bucket of `limit` tokens refilled evenly over `window_ms`. */
export const RateLimitFilterDefSchema = Type.Object({
  type: Type.Literal('ratelimit'),
  limit: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
  window_ms: Type.Integer({ minimum: 1, maximum: 31 * 24 * 3600 * 1000 }),
  /** `ip`, `key`, `path`, `header:<name>`, combined into one bucket key (default: ip) */
  by: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
}, { additionalProperties: false });

/** `filters.<name>` of type firewall: CIDR ranges (or single addresses) of the TCP peer. */
export const FirewallFilterDefSchema = Type.Object({
  type: Type.Literal('firewall'),
  allow: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  deny: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
}, { additionalProperties: false });

/** `filters.<name>` of type openapi: the spec file (YAML or JSON) relative to the config file. */
export const OpenApiFilterDefSchema = Type.Object({
  type: Type.Literal('openapi'),
  spec: Type.String({ minLength: 1 }),
  validate_body: Type.Optional(Type.Boolean()),
  max_body_bytes: Type.Optional(Type.Integer({ minimum: 0, maximum: 64 * 1024 * 1024 })),
}, { additionalProperties: false });

export const FilterDefSchema = Type.Union([JwtFilterDefSchema, CorsFilterDefSchema, KeyAuthFilterDefSchema, RateLimitFilterDefSchema,
  FirewallFilterDefSchema, OpenApiFilterDefSchema]);

/** An app's reference to a filter: `apps.X.filters[i]`. Prefixes of the rewritten path. */
export const AppFilterRefSchema = Type.Object({
  filter: Type.String({ minLength: 1 }),
  excludes: Type.Optional(Type.Array(Type.String({ pattern: '^/' }))),
  includes: Type.Optional(Type.Array(Type.String({ pattern: '^/' }))),
}, { additionalProperties: false });

export type JwtFilterDef = Static<typeof JwtFilterDefSchema>;
export type CorsFilterDef = Static<typeof CorsFilterDefSchema>;
export type KeyAuthFilterDef = Static<typeof KeyAuthFilterDefSchema>;
export type RateLimitFilterDef = Static<typeof RateLimitFilterDefSchema>;
export type FirewallFilterDef = Static<typeof FirewallFilterDefSchema>;
export type OpenApiFilterDef = Static<typeof OpenApiFilterDefSchema>;
export type FilterDef = Static<typeof FilterDefSchema>;
export type AppFilterRef = Static<typeof AppFilterRefSchema>;
