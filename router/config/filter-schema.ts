import { Type, type Static } from '@sinclair/typebox';

/** `filters.<name>` of type jwt (DESIGN.md). */
export const JwtFilterDefSchema = Type.Object({
  type: Type.Literal('jwt'),
  jwks_uri: Type.String({ minLength: 1 }),
  issuer: Type.String({ minLength: 1 }),
  audiences: Type.Optional(Type.Array(Type.String())),
}, { additionalProperties: false });

/** `filters.<name>` of type cors (DESIGN.md). */
export const CorsFilterDefSchema = Type.Object({
  type: Type.Literal('cors'),
  allow_origins: Type.Array(Type.String()),
  allow_methods: Type.Optional(Type.Array(Type.String())),
  allow_headers: Type.Optional(Type.Array(Type.String())),
  expose_headers: Type.Optional(Type.Array(Type.String())),
  max_age: Type.Optional(Type.Integer({ minimum: 0 })),
  allow_credentials: Type.Optional(Type.Boolean()),
}, { additionalProperties: false });

export const FilterDefSchema = Type.Union([JwtFilterDefSchema, CorsFilterDefSchema]);

/** An app's reference to a filter: `apps.X.filters[i]`. */
export const AppFilterRefSchema = Type.Object({
  filter: Type.String({ minLength: 1 }),
  excludes: Type.Optional(Type.Array(Type.String())),
  includes: Type.Optional(Type.Array(Type.String())),
}, { additionalProperties: false });

export type JwtFilterDef = Static<typeof JwtFilterDefSchema>;
export type CorsFilterDef = Static<typeof CorsFilterDefSchema>;
export type FilterDef = Static<typeof FilterDefSchema>;
export type AppFilterRef = Static<typeof AppFilterRefSchema>;
