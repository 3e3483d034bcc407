import { CODES, type CodeInfo, type RequestCode } from '../../shared/codes.js';

/** Heroku's router failure codes (H10 …), as registered in shared/codes.ts. */
export type HerokuCodeName = Extract<RequestCode, `H${string}`>;

/** Router failure codes (DESIGN.md table), with the description the log line carries: the registry's `desc`. */
export const HerokuCode: Readonly<Record<HerokuCodeName, string>> = Object.freeze(
  Object.fromEntries(Object.entries(CODES as Readonly<Record<string, CodeInfo>>).filter(([code, info]) => info.kind === 'request' && /^H\d+$/.test(code))
    .map(([code, info]) => [code, info.desc])) as Record<HerokuCodeName, string>,
);

/** The short body of a 503 answer, precomputed per code. */
export const ERROR_BODY: Readonly<Record<HerokuCodeName, string>> = Object.freeze(
  Object.fromEntries(Object.entries(HerokuCode).map(([code, desc]) => [code, `${desc} (${code})\n`])) as Record<HerokuCodeName, string>,
);
