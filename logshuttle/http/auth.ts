import { timingSafeEqual, createHash } from 'node:crypto';

/**
 * Bearer-token check for the HTTP API: with no token configured every request passes; else
 * `Authorization: Bearer <token>` must match (constant-time).
 */
export function bearerCheck(token: string | undefined): (authorization: string) => boolean {
  if (!token) return () => true;
  const want = createHash('sha256').update(token).digest();
  return (authorization) => {
    const m = /^Bearer\s+(.+)$/i.exec(authorization.trim());
    if (!m) return false;
    return timingSafeEqual(createHash('sha256').update(m[1]).digest(), want);
  };
}
