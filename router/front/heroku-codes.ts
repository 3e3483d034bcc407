/** Router failure codes (DESIGN.md table), with the description the log line carries. */
export const HerokuCode = Object.freeze({
  H10: 'App crashed',
  H12: 'Request timeout',
  H13: 'Connection closed without response',
  H14: 'No web dynos running',
  H15: 'Idle connection',
  H17: 'Poorly formatted HTTP response',
  H19: 'Backend connection timeout',
  H27: 'Client Request Interrupted',
  H80: 'Maintenance mode',
});

export type HerokuCodeName = keyof typeof HerokuCode;

/** The short body of a 503 answer, precomputed per code. */
export const ERROR_BODY: Readonly<Record<HerokuCodeName, string>> = Object.freeze(
  Object.fromEntries(Object.entries(HerokuCode).map(([code, desc]) => [code, `${desc} (${code})\n`])) as Record<HerokuCodeName, string>,
);
