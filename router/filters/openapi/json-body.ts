/** Deepest nesting of arrays and objects a validated JSON body may have. */
export const MAX_JSON_DEPTH = 128;

/**
 * Why a JSON body cannot be validated (nested deeper than MAX_JSON_DEPTH, or not JSON), or
 * its parsed value. The depth is measured first by one linear scan of the bytes (strings and
 * escapes skipped), so a hostile body (100,000 nested arrays) costs one pass and no parse, and
 * the validator never recurses deeper than MAX_JSON_DEPTH.
 */
export function parseJsonBody(bytes: Buffer): { value: unknown } | { problem: string } {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > MAX_JSON_DEPTH) return { problem: `request body is nested deeper than ${MAX_JSON_DEPTH} levels` };
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) depth--;
  }
  try {
    return { value: JSON.parse(bytes.toString('utf8')) as unknown };
  } catch (err) {
    return { problem: `request body is not valid JSON (${(err as Error).message})` };
  }
}

/** Is this media type JSON (`application/json`, `application/problem+json`, …)? */
export function isJsonMediaType(mediaType: string): boolean {
  const t = mediaType.toLowerCase();
  return t === 'application/json' || (t.startsWith('application/') && t.endsWith('+json'));
}

/** `application/json` from `Application/JSON; charset=utf-8` */
export function bareMediaType(contentType: string): string {
  const semi = contentType.indexOf(';');
  return (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}
