/**
 * App names as NATS KV keys. A KV key may hold only `A-Z a-z 0-9 - _ = / .` (and `.` splits it
 * into tokens), while an app name may hold any character but whitespace, controls and `/`. So
 * `A-Z a-z 0-9 - _` stay as they are and every other character is written as `=XX` per UTF-8
 * byte (`=` itself included), which keeps the key one token and the encoding reversible:
 * `api-prod` -> `api-prod`, `my.app` -> `my=2Eapp`, `café` -> `caf=C3=A9`.
 */
const PLAIN = /^[A-Za-z0-9_-]$/;

export function appKey(app: string): string {
  let out = '';
  for (const ch of app) {
    if (PLAIN.test(ch)) {
      out += ch;
      continue;
    }
    for (const b of Buffer.from(ch, 'utf8')) out += '=' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** The app name of a key written by `appKey`, or null when it is not one. */
export function appOfKey(key: string): string | null {
  const bytes: number[] = [];
  for (let i = 0; i < key.length; i++) {
    const c = key[i];
    if (c === '=') {
      const hex = key.slice(i + 1, i + 3);
      if (!/^[0-9A-F]{2}$/.test(hex)) return null;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (PLAIN.test(c)) {
      bytes.push(c.charCodeAt(0));
    } else {
      return null;
    }
  }
  return bytes.length === 0 ? null : Buffer.from(bytes).toString('utf8');
}
