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

export const FilterDefSchema = Type.Union([JwtFilterDefSchema, CorsFilterDefSchema]);

/** An app's reference to a filter: `apps.X.filters[i]`. Prefixes of the rewritten path. */
export const AppFilterRefSchema = Type.Object({
  filter: Type.String({ minLength: 1 }),
  excludes: Type.Optional(Type.Array(Type.String({ pattern: '^/' }))),
  includes: Type.Optional(Type.Array(Type.String({ pattern: '^/' }))),
}, { additionalProperties: false });

export type JwtFilterDef = Static<typeof JwtFilterDefSchema>;
export type CorsFilterDef = Static<typeof CorsFilterDefSchema>;
export type FilterDef = Static<typeof FilterDefSchema>;
export type AppFilterRef = Static<typeof AppFilterRefSchema>;
