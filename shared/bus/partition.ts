/**
 * Where a record goes on the bus (DESIGN.md "Log bus"): app A's records go to subject
 * `logs.<p>.<token(A)>` with p = FNV-1a 32-bit of A's UTF-8 bytes mod `partitions`.
 *
 * App names and subjects: a NATS subject token cannot hold `.` (the separator), `*` or `>`
 * (wildcards), whitespace or control characters, and the stream's `logs.*.*` only captures
 * three-token subjects. The router's app names (`^[A-Za-z0-9][A-Za-z0-9-]*$`) are always safe
 * as they are; the shuttle ingests any string. So the token is the app name with every byte
 * outside `A-Z a-z 0-9 _ -` percent-encoded as `%XX` (UTF-8 bytes, upper-case hex; `%` itself is
 * encoded, so the mapping is one-to-one and `decodeAppToken` reverses it). A token longer than
 * 200 bytes is cut to 183 bytes plus `~` and the 8-hex FNV-1a of the whole name (`~` is never
 * otherwise produced), keeping subjects far below the server's control-line limit. The payload
 * always carries the real name: consumers read the app from the record, never from the subject.
 * The partition is computed from the real name's bytes, never from the token.
 */

const OFFSET = 0x811c9dc5;
const PRIME = 0x01000193;

/** FNV-1a 32-bit of the bytes (unsigned). */
export function fnv1a32(bytes: Uint8Array): number {
  let h = OFFSET;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i];
    h = Math.imul(h, PRIME);
  }
  return h >>> 0;
}

/** The partition of an app: FNV-1a 32-bit of its UTF-8 bytes mod `partitions`. */
export function partitionOf(app: string, partitions: number): number {
  return fnv1a32(Buffer.from(app, 'utf8')) % partitions;
}

const SAFE = /^[A-Za-z0-9_-]+$/;
const MAX_TOKEN = 200;
const CUT = 183;

/** The app's subject token (see above); identity for names of letters, digits, `_` and `-`. */
export function appToken(app: string): string {
  if (app.length <= MAX_TOKEN && SAFE.test(app)) return app;
  const bytes = Buffer.from(app, 'utf8');
  let out = '';
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    out += (b < 0x80 && /[A-Za-z0-9_-]/.test(c)) ? c : '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  if (out.length <= MAX_TOKEN) return out;
  let cut = out.slice(0, CUT);
  // never end inside a %XX escape
  const pct = cut.lastIndexOf('%');
  if (pct > CUT - 3) cut = cut.slice(0, pct);
  return `${cut}~${fnv1a32(bytes).toString(16).padStart(8, '0')}`;
}

/** The app name of a token; null for a cut (hashed) token, whose name only the payload holds. */
export function decodeAppToken(token: string): string | null {
  if (token.includes('~')) return null;
  if (!token.includes('%')) return token;
  const bytes: number[] = [];
  for (let i = 0; i < token.length; i++) {
    if (token[i] === '%') {
      bytes.push(parseInt(token.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(token.charCodeAt(i));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Every subject of the log stream. */
export const LOG_SUBJECTS = 'logs.*.*';

/** `logs.<p>.<token>` for the app. */
export function subjectFor(app: string, partitions: number): string {
  return `logs.${partitionOf(app, partitions)}.${appToken(app)}`;
}

/** The filter subject of one partition: `logs.<p>.*` (a string, as nats-server 2.9 takes it). */
export function partitionSubject(partition: number): string {
  return `logs.${partition}.*`;
}

/** The filter subject of one app (history, tails): `logs.<p>.<token>`. */
export const appSubject = subjectFor;

/** The partition number of a subject `logs.<p>.<token>`, or -1. */
export function partitionOfSubject(subject: string): number {
  const a = subject.indexOf('.');
  const b = subject.indexOf('.', a + 1);
  if (a < 0 || b < 0) return -1;
  const p = Number(subject.slice(a + 1, b));
  return Number.isInteger(p) ? p : -1;
}
