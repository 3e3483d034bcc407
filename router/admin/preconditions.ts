import type { RevisionPrecondition } from '../config/reload-owner.js';

/** The entity tag of a revision: `"<revision>"` (a strong tag). */
export function revisionTag(revision: number): string {
  return `"${revision}"`;
}

const ENTITY_TAG = /^(W\/)?"([\x21\x23-\x7e\x80-\xff]*)"$/;

/**
 * `If-Match` (RFC 9110 13.1.1): `*`, or a list of entity tags. If-Match compares strongly: a
 * weak tag (`W/"5"`) or a tag that is not a revision number matches nothing (412). An empty or
 * malformed header matches nothing too. Null when the request has no If-Match.
 */
export function parseIfMatch(header: string | string[] | undefined): RevisionPrecondition | null {
  if (header === undefined) return null;
  const text = Array.isArray(header) ? header.join(', ') : header;
  if (text.trim() === '*') return { any: true, header: '*' };
  const revisions: number[] = [];
  for (const part of text.split(',')) {
    const m = ENTITY_TAG.exec(part.trim());
    if (m === null || m[1] !== undefined || !/^[1-9][0-9]{0,14}$/.test(m[2])) continue;
    revisions.push(Number(m[2]));
  }
  return { revisions, header: text.trim() };
}

/** `If-None-Match` on GET: true when it names the running revision (or is `*`): answer 304. */
export function noneMatch(header: string | string[] | undefined, revision: number): boolean {
  if (header === undefined) return false;
  const text = Array.isArray(header) ? header.join(', ') : header;
  if (text.trim() === '*') return true;
  // weak comparison for If-None-Match (RFC 9110 13.1.2)
  return text.split(',').some((part) => {
    const m = ENTITY_TAG.exec(part.trim());
    return m !== null && m[2] === String(revision);
  });
}
