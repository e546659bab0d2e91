// Who is asking: verifies the client's bearer JWT (HS256 secret or a JWKS URL) with jose.
import { createRemoteJWKSet, type JWTVerifyGetKey, errors as joseErrors, jwtVerify } from 'jose';
import type { Config } from '../config.js';

export interface Viewer {
  /** The user's id (`sub`). */
  id: string;
  roles: readonly string[];
  isAdmin: boolean;
}

/** The bearer token was present but cannot be trusted. `reason` is safe to show. */
export class InvalidTokenError extends Error {
  readonly code = 'UNAUTHENTICATED';
  constructor(readonly reason: string) {
    super(`Invalid bearer token: ${reason}`);
    this.name = 'InvalidTokenError';
  }
}

export type ViewerVerifier = (authorization: string | undefined) => Promise<Viewer | null>;

/** Builds the verifier once at startup (the JWKS is fetched lazily and cached by jose). */
export function createViewerVerifier(jwt: Config['jwt']): ViewerVerifier {
  const key: Uint8Array | JWTVerifyGetKey = jwt.jwksUrl
    ? createRemoteJWKSet(new URL(jwt.jwksUrl))
    : new TextEncoder().encode(jwt.secret ?? '');
  const algorithms = jwt.jwksUrl ? ['RS256', 'ES256', 'PS256', 'EdDSA'] : ['HS256'];
  return async (authorization) => {
    if (authorization === undefined || authorization.trim() === '') return null;
    const match = /^Bearer\s+([A-Za-z0-9._~+/-]+=*)$/i.exec(authorization.trim());
    if (!match?.[1]) throw new InvalidTokenError('expected "Authorization: Bearer <JWT>"');
    let payload: Awaited<ReturnType<typeof jwtVerify>>['payload'];
    try {
      const options = {
        algorithms,
        ...(jwt.issuer ? { issuer: jwt.issuer } : {}),
        ...(jwt.audience ? { audience: jwt.audience } : {}),
      };
      const result =
        key instanceof Uint8Array
          ? await jwtVerify(match[1], key, options)
          : await jwtVerify(match[1], key, options);
      payload = result.payload;
    } catch (error) {
      throw new InvalidTokenError(describeJoseError(error));
    }
    if (typeof payload.sub !== 'string' || payload.sub === '')
      throw new InvalidTokenError('the token has no sub claim');
    const roles = Array.isArray(payload.roles)
      ? payload.roles.filter((r): r is string => typeof r === 'string')
      : [];
    return { id: payload.sub, roles, isAdmin: roles.includes('admin') };
  };
}

function describeJoseError(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'the token has expired';
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'the signature does not verify';
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `claim "${error.claim}" is not accepted`;
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'the signing algorithm is not accepted';
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'no key in the JWKS matches the token';
  if (error instanceof joseErrors.JWSInvalid || error instanceof joseErrors.JWTInvalid)
    return 'the token is malformed';
  return 'the token could not be verified';
}
