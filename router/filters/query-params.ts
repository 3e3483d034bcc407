/**
 * Query-string helpers for filters: application/x-www-form-urlencoded pairs (`+` is a space,
 * percent-escapes decoded; a malformed escape is kept as written).
 */

function decode(s: string): string {
  const plus = s.includes('+') ? s.replace(/\+/g, ' ') : s;
  if (!plus.includes('%')) return plus;
  try {
    return decodeURIComponent(plus);
  } catch {
    return plus;
  }
}

/** The decoded value of the first non-empty `name` parameter, '' when there is none. */
export function findQueryParam(query: string, name: string): string {
  let from = 0;
  while (from <= query.length) {
    let end = query.indexOf('&', from);
    if (end === -1) end = query.length;
    const eq = query.indexOf('=', from);
    const nameEnd = eq === -1 || eq > end ? end : eq;
    if (decode(query.slice(from, nameEnd)) === name && nameEnd < end) {
      const v = decode(query.slice(nameEnd + 1, end));
      if (v !== '') return v;
    }
    from = end + 1;
  }
  return '';
}

/** The query without any `name` parameter (every other pair kept byte for byte, in order). */
export function withoutQueryParam(query: string, name: string): string {
  const kept: string[] = [];
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    if (decode(eq === -1 ? pair : pair.slice(0, eq)) !== name) kept.push(pair);
  }
  return kept.join('&');
}

/** Every parameter as decoded [name, value] pairs, in order (empty names skipped). */
export function queryPairs(query: string): [string, string][] {
  const out: [string, string][] = [];
  if (query === '') return out;
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = decode(eq === -1 ? pair : pair.slice(0, eq));
    if (name !== '') out.push([name, eq === -1 ? '' : decode(pair.slice(eq + 1))]);
  }
  return out;
}
