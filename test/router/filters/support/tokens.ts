import { SignJWT, exportJWK, generateKeyPair, base64url, type JWK, type JWTPayload, type CryptoKey } from 'jose';

export interface TestKey {
  alg: string;
  kid: string;
  privateKey: CryptoKey;
  /** the public key as a JWK with kid, alg and use */
  jwk: JWK;
}

let seq = 0;

export async function makeKey(alg: 'RS256' | 'ES256' | 'PS256' | 'EdDSA', kid = `k${++seq}-${alg}`): Promise<TestKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, jwk };
}

export const ISSUER = 'https://idp.test/';
export const AUDIENCE = 'api';

/** A signed token; by default valid for 10 minutes, from ISSUER for AUDIENCE. `kid` can be overridden. */
export async function mint(key: TestKey, claims: JWTPayload = {}, opts: { kid?: string | null; expiresIn?: string | number; noExp?: boolean } = {}): Promise<string> {
  const header: { alg: string; kid?: string } = { alg: key.alg };
  const kid = opts.kid === undefined ? key.kid : opts.kid;
  if (kid !== null) header.kid = kid;
  let jwt = new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: 'user-1', ...claims }).setProtectedHeader(header).setIssuedAt();
  if (!opts.noExp && claims.exp === undefined) jwt = jwt.setExpirationTime(opts.expiresIn ?? '10m');
  return jwt.sign(key.privateKey);
}

/** An unsecured token (`alg: none`) carrying otherwise valid claims. */
export function unsecured(kid: string): string {
  const now = Math.floor(Date.now() / 1000);
  const enc = (o: object): string => base64url.encode(JSON.stringify(o));
  return `${enc({ alg: 'none', kid })}.${enc({ iss: ISSUER, aud: AUDIENCE, sub: 'user-1', iat: now, exp: now + 600 })}.`;
}

/** Mutates the payload of a signed token, keeping its signature (so it no longer matches). */
export function tamper(token: string): string {
  const [h, p, s] = token.split('.');
  const payload = JSON.parse(new TextDecoder().decode(base64url.decode(p))) as JWTPayload;
  payload.sub = 'admin';
  return `${h}.${base64url.encode(JSON.stringify(payload))}.${s}`;
}
