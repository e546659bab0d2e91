// Who is asking: verifies the client's bearer JWT (HS256 secret or a JWKS URL) with jose. Tokens
// must expire (JWT_REQUIRE_EXP) and may not live longer than JWT_MAX_TOKEN_LIFETIME_SECONDS.
// The HS256 secret may rotate (JWT_SECRET_FILE): tokens signed with the replaced one are accepted
// for JWT_SECRET_GRACE_SECONDS, since clients still hold tokens signed just before the change.
import type { webcrypto } from 'node:crypto';
import {
  createRemoteJWKSet,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
  errors as joseErrors,
  jwtVerify,
  SignJWT,
} from 'jose';
import { LRUCache } from 'lru-cache';
import { fixedSecret, type Secret } from '../secrets.js';

export interface Viewer {
  /** The user's id (`sub`). */
  id: string;
  roles: readonly string[];
  isAdmin: boolean;
  /** When the token stops being valid, epoch ms (from `exp`); undefined for a token without `exp`. */
  expiresAt: number | undefined;
}

/** Longest `sub` accepted: ids are short; anything longer is not one of ours. */
const MAX_SUBJECT_LENGTH = 255;
/** Roles read from a token; further entries are ignored. */
const MAX_ROLES = 64;

/** The bearer token was present but cannot be trusted. `reason` is safe to show. */
export class InvalidTokenError extends Error {
  readonly code = 'UNAUTHENTICATED';
  constructor(readonly reason: string) {
    super(`Invalid bearer token: ${reason}`);
    this.name = 'InvalidTokenError';
  }
}

export function isInvalidTokenError(error: unknown): error is InvalidTokenError {
  return error instanceof InvalidTokenError;
}

/** How client tokens are verified (the `jwt` section of the config). */
export interface ClientTokenOptions {
  /** HS256 secret (rotating: the replaced one is accepted during its grace); absent with a JWKS URL. */
  secret: Secret<string> | undefined;
  jwksUrl: string | undefined;
  issuer: string | undefined;
  audience: string | undefined;
  /** Tokens without `exp` are refused. */
  requireExp: boolean;
  /** Longest accepted lifetime (`exp - iat`, or `exp - now`), in s. */
  maxTokenLifetimeSeconds: number;
}

export type ViewerVerifier = (authorization: string | undefined) => Promise<Viewer | null>;

export interface ViewerVerifierOptions {
  /** Verified tokens remembered, so a client's repeated token is checked once. Default 10,000. */
  cacheSize?: number;
  /** Longest a verified token is remembered, in ms; never past its `exp`. Default 60 s. */
  cacheTtlMs?: number;
  /** Clock in epoch ms, for `exp`, `nbf` and the lifetime check. Default Date.now. */
  now?: () => number;
}

/** Where a verified token was checked: the JWKS, or the HS256 secret value that verified it. */
type VerifiedWith = { jwks: true } | { secret: string };

/**
 * Builds the verifier once at startup. Each HMAC key is imported once per secret value (jose would
 * re-import a raw secret on every call), the JWKS is fetched lazily and cached by jose, and verified
 * tokens are remembered briefly (never past `exp`, never past their secret's acceptance), since a
 * client sends the same token with every request.
 */
export function createViewerVerifier(
  jwt: ClientTokenOptions,
  options: ViewerVerifierOptions = {},
): ViewerVerifier {
  const jwks: JWTVerifyGetKey | undefined = jwt.jwksUrl
    ? createRemoteJWKSet(new URL(jwt.jwksUrl))
    : undefined;
  const secret = jwt.secret ?? fixedSecret('JWT_SECRET', '');
  // One imported key per accepted secret value (at most two: the current and the replaced one).
  const hmacKeys = new Map<string, Promise<webcrypto.CryptoKey>>();
  const hmacKey = (value: string, accepted: readonly string[]) => {
    let key = hmacKeys.get(value);
    if (!key) {
      for (const old of hmacKeys.keys()) if (!accepted.includes(old)) hmacKeys.delete(old);
      key = crypto.subtle.importKey(
        'raw',
        new TextEncoder().encode(value),
        { name: 'HMAC', hash: 'SHA-256' },
        false,
        ['verify'],
      );
      hmacKeys.set(value, key);
    }
    return key;
  };
  const verifyOptions = {
    algorithms: jwt.jwksUrl ? ['RS256', 'ES256', 'PS256', 'EdDSA'] : ['HS256'],
    ...(jwt.issuer ? { issuer: jwt.issuer } : {}),
    ...(jwt.audience ? { audience: jwt.audience } : {}),
    requiredClaims: jwt.requireExp ? ['exp'] : [],
  };
  const now = options.now ?? Date.now;
  const ttlMs = options.cacheTtlMs ?? 60_000;
  const verified = new LRUCache<string, { viewer: Viewer; by: VerifiedWith }>({
    max: options.cacheSize ?? 10_000,
    ttl: ttlMs,
  });
  /** The token's payload, checked against the JWKS or each accepted secret (the current one first). */
  const verifyToken = async (
    token: string,
    checks: JWTVerifyOptions,
  ): Promise<{ payload: JWTPayload; by: VerifiedWith }> => {
    if (jwks) return { payload: (await jwtVerify(token, jwks, checks)).payload, by: { jwks: true } };
    const values = secret.accepted();
    let mismatch: unknown;
    for (const value of values) {
      try {
        const { payload } = await jwtVerify(token, await hmacKey(value, values), checks);
        return { payload, by: { secret: value } };
      } catch (error) {
        // Another accepted secret may have signed it; any other failure is the token's own.
        if (!(error instanceof joseErrors.JWSSignatureVerificationFailed)) throw error;
        mismatch ??= error;
      }
    }
    throw mismatch;
  };
  /** A remembered verification still holds only while its secret is still accepted. */
  const stillAccepted = (by: VerifiedWith) => 'jwks' in by || secret.accepted().includes(by.secret);
  return async (authorization) => {
    if (authorization === undefined || authorization.trim() === '') return null;
    const match = /^Bearer\s+([A-Za-z0-9._~+/-]+=*)$/i.exec(authorization.trim());
    const token = match?.[1];
    if (!token) throw new InvalidTokenError('expected "Authorization: Bearer <JWT>"');
    const nowMs = now();
    const known = verified.get(token);
    // The cache's own TTL runs on its clock; `exp` is checked here too, on ours.
    if (
      known &&
      (known.viewer.expiresAt === undefined || nowMs < known.viewer.expiresAt - 1000) &&
      stillAccepted(known.by)
    )
      return known.viewer;
    let payload: JWTPayload;
    let by: VerifiedWith;
    try {
      ({ payload, by } = await verifyToken(token, { ...verifyOptions, currentDate: new Date(nowMs) }));
    } catch (error) {
      throw new InvalidTokenError(describeJoseError(error));
    }
    if (typeof payload.sub !== 'string' || payload.sub === '')
      throw new InvalidTokenError('the token has no sub claim');
    if (payload.sub.length > MAX_SUBJECT_LENGTH)
      throw new InvalidTokenError(`the sub claim is longer than ${MAX_SUBJECT_LENGTH} characters`);
    if (typeof payload.exp === 'number') {
      // Counted from iat, or from now when iat is absent or in the future (a future iat would
      // otherwise stretch a "short" token's usable life).
      const nowSeconds = nowMs / 1000;
      const from = typeof payload.iat === 'number' ? Math.min(payload.iat, nowSeconds) : nowSeconds;
      if (payload.exp - from > jwt.maxTokenLifetimeSeconds)
        throw new InvalidTokenError(
          `the token's lifetime exceeds the accepted maximum of ${jwt.maxTokenLifetimeSeconds} s`,
        );
    }
    const roles = Array.isArray(payload.roles)
      ? payload.roles.slice(0, MAX_ROLES).filter((r): r is string => typeof r === 'string')
      : [];
    const expiresAt = typeof payload.exp === 'number' ? payload.exp * 1000 : undefined;
    const viewer: Viewer = { id: payload.sub, roles, isAdmin: roles.includes('admin'), expiresAt };
    // Remembered one second short of `exp`, so a cached token never outlives its own validity.
    const untilExpiryMs = expiresAt === undefined ? ttlMs : expiresAt - nowMs - 1000;
    if (untilExpiryMs > 0) verified.set(token, { viewer, by }, { ttl: Math.min(ttlMs, untilExpiryMs) });
    return viewer;
  };
}

function describeJoseError(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'the token has expired';
  if (
    error instanceof joseErrors.JWTClaimValidationFailed &&
    error.claim === 'exp' &&
    error.reason === 'missing'
  )
    return 'the token has no exp claim; tokens must expire';
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'the signature does not verify';
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `claim "${error.claim}" is not accepted`;
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'the signing algorithm is not accepted';
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'no key in the JWKS matches the token';
  if (error instanceof joseErrors.JWSInvalid || error instanceof joseErrors.JWTInvalid)
    return 'the token is malformed';
  return 'the token could not be verified';
}

/** Signs a client token with an HS256 secret: demo mode's admin token, `npm run token`, tests. */
export async function mintToken(
  secret: string,
  claims: {
    sub: string;
    admin?: boolean;
    ttlSeconds?: number;
    issuer?: string | undefined;
    audience?: string | undefined;
  },
): Promise<string> {
  let jwt = new SignJWT({ roles: claims.admin ? ['admin'] : [] })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.sub)
    .setIssuedAt()
    .setExpirationTime(`${claims.ttlSeconds ?? 3600}s`);
  if (claims.issuer) jwt = jwt.setIssuer(claims.issuer);
  if (claims.audience) jwt = jwt.setAudience(claims.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}
