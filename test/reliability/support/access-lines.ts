/** The fields of a router access line the scenarios check. */
export interface AccessLine {
  requestId: string;
  /** H code, or null for at=info */
  code: string | null;
  status: number;
  dyno: string;
  method: string;
  raw: string;
}

const FIELD = /(?:^|\s)(request_id|code|status|dyno|method)=(\S*)/g;

/** Parses a router line (`at=info …` / `at=error code=… …`); null for anything else. */
export function parseAccessLine(line: string): AccessLine | null {
  const at = line.indexOf('at=');
  if (at < 0) return null;
  const text = line.slice(at);
  if (!text.startsWith('at=info ') && !text.startsWith('at=error ')) return null;
  const f: Record<string, string> = {};
  for (const m of text.matchAll(FIELD)) f[m[1]] ??= m[2];
  if (f.request_id === undefined || f.status === undefined) return null;
  return { requestId: f.request_id, code: f.code ?? null, status: Number(f.status), dyno: f.dyno ?? '', method: f.method ?? '', raw: line };
}

/** Router lines by request id (the last one wins: there is exactly one per request). */
export function linesById(lines: readonly string[]): Map<string, AccessLine> {
  const out = new Map<string, AccessLine>();
  for (const l of lines) {
    const a = parseAccessLine(l);
    if (a) out.set(a.requestId, a);
  }
  return out;
}

/** Sum of N over `Error L10 (output buffer overflow): N messages dropped since …` lines. */
export function l10Total(lines: readonly string[]): number {
  let n = 0;
  for (const l of lines) {
    const m = /Error L10 \(output buffer overflow\): (\d+) messages dropped since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/.exec(l);
    if (m) n += Number(m[1]);
  }
  return n;
}

/** Sum of N over `Error L11 (tail buffer overflow): N messages dropped since …` lines of a tail. */
export function l11Total(text: string): number {
  let n = 0;
  for (const m of text.matchAll(/Error L11 \(tail buffer overflow\): (\d+) messages dropped since /g)) n += Number(m[1]);
  return n;
}
