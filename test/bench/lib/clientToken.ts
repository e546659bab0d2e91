// The bench client's bearer JWT: the claims `npm run token` mints, plus a key id in the header,
// which Tailcall 1.0.0's JWKS check requires (Junction and the Apollo baselines ignore it).
import { SignJWT } from 'jose';
import { CLIENT_KEY_ID } from '../baselines/tailcall/config.js';

export async function clientToken(
  secret: string,
  claims: { sub: string; admin?: boolean; ttlSeconds?: number },
): Promise<string> {
  return new SignJWT({ roles: claims.admin ? ['admin'] : [] })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: CLIENT_KEY_ID })
    .setSubject(claims.sub)
    .setIssuedAt()
    .setExpirationTime(`${claims.ttlSeconds ?? 3600}s`)
    .sign(new TextEncoder().encode(secret));
}
