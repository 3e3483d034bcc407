import { Type, type Static } from '@sinclair/typebox';
import { DEFAULT_ABORT, type CanaryConfig } from './canary-config.js';

/** `apps.X.canary.abort` (DESIGN.md "Canary"); fields left out take DEFAULT_ABORT's values. */
export const CanaryAbortDefSchema = Type.Object({
  minRequests: Type.Optional(Type.Integer({ minimum: 1 })),
  confidence: Type.Optional(Type.Number({ exclusiveMinimum: 0.5, exclusiveMaximum: 1 })),
  statuses: Type.Optional(Type.Union([Type.Literal('5xx'), Type.Literal('4xx+5xx')])),
}, { additionalProperties: false });

/** `apps.X.canary` (DESIGN.md "Canary"). */
export const CanaryDefSchema = Type.Object({
  app: Type.String({ minLength: 1 }),
  weight: Type.Number({ minimum: 0, maximum: 100 }),
  abort: Type.Optional(CanaryAbortDefSchema),
}, { additionalProperties: false });

export type CanaryDef = Static<typeof CanaryDefSchema>;

/** The part of an app definition this module reads. */
export interface AppWithCanary { canary?: CanaryDef }

/**
 * The canaries of a (schema-valid) `apps` map, normalised, and the cross-field problems
 * (as ConfigError wants them: each names the field and the reason). Empty problems: valid.
 */
export function canariesFromApps(apps: Readonly<Record<string, AppWithCanary>>): { canaries: CanaryConfig[]; problems: string[] } {
  const canaries: CanaryConfig[] = [];
  const problems: string[] = [];
  for (const [prodApp, def] of Object.entries(apps)) {
    const c = def.canary;
    if (c === undefined) continue;
    const field = `apps.${prodApp}.canary.app`;
    if (c.app === prodApp) { problems.push(`${field}: an app cannot be its own canary`); continue; }
    const target = Object.hasOwn(apps, c.app) ? apps[c.app] : undefined;
    if (target === undefined) { problems.push(`${field}: no app named "${c.app}"`); continue; }
    if (target.canary !== undefined) { problems.push(`${field}: "${c.app}" has a canary of its own; a canary cannot have one`); continue; }
    canaries.push({
      prodApp, canaryApp: c.app, weight: c.weight,
      abort: {
        minRequests: c.abort?.minRequests ?? DEFAULT_ABORT.minRequests,
        confidence: c.abort?.confidence ?? DEFAULT_ABORT.confidence,
        statuses: c.abort?.statuses ?? DEFAULT_ABORT.statuses,
      },
    });
  }
  return { canaries, problems };
}
