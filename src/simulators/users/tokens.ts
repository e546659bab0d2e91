// The users service's OAuth2 client-credentials grant: a token endpoint that authenticates the client
// (HTTP Basic or the form, RFC 6749 §2.3.1) and issues bearer tokens that really expire, checked on each call.
import { randomBytes } from 'node:crypto';
import { basicCredentials, bearerToken } from '../shared/credentials.js';
import type { SimRequest, SimResponse } from '../shared/wire.js';

export interface ClientCredentials {
  readonly clientId: string;
  readonly clientSecret: string;
}

export interface TokenServiceOptions {
  credentials: ClientCredentials;
  /** Lifetime of issued tokens in whole seconds (>= 1). */
  ttlSeconds: number;
}

export interface TokenService {
  /** `POST /oauth/token`: a new bearer token for the client, or OAuth2's error answer. */
  issue(req: SimRequest): SimResponse;
  /** The 401 answer when `req` lacks a valid, unexpired bearer token; undefined when it has one. */
  reject(req: SimRequest): SimResponse | undefined;
  /** Tokens issued since creation or `resetIssued()`. */
  issued(): number;
  resetIssued(): void;
  /** Makes every token issued so far invalid, as if it had expired; new tokens work. */
  expireAll(): void;
  /** Lifetime of tokens issued from now on, in whole seconds (>= 1). */
  setTtl(seconds: number): void;
  /** Accepts `secret` as the client's secret too (a rotation's new secret; the old one stays valid). */
  addClientSecret(secret: string): void;
  /** Stops accepting `secret` (a rotation's end); tokens issued with it stay valid until they expire. */
  removeClientSecret(secret: string): void;
}

export function createTokenService(opts: TokenServiceOptions): TokenService {
  const { credentials } = opts;
  /** Client secrets accepted now: one, or two while the client rotates it (as identity providers allow). */
  const secrets = new Set([credentials.clientSecret]);
  let ttlSeconds = checkTtl(opts.ttlSeconds);
  /** access token -> expiry (ms since epoch). */
  const tokens = new Map<string, number>();
  let issued = 0;

  return {
    issue(req) {
      const contentType = req.headers['content-type'] ?? '';
      if (!contentType.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
        return oauthError(400, 'invalid_request', 'body must be application/x-www-form-urlencoded');
      }
      const form = req.form();
      const client = clientFrom(req.headers.authorization, form);
      if (client === 'conflict') {
        return oauthError(400, 'invalid_request', 'use one client authentication method, not both');
      }
      if (client === undefined || client.id !== credentials.clientId || !secrets.has(client.secret)) {
        return oauthError(401, 'invalid_client', 'client authentication failed', {
          'www-authenticate': 'Basic realm="users"',
        });
      }
      const grantType = form.get('grant_type');
      if (grantType === null) return oauthError(400, 'invalid_request', 'grant_type is required');
      if (grantType !== 'client_credentials') {
        return oauthError(400, 'unsupported_grant_type', `grant_type ${grantType} is not supported`);
      }

      const now = Date.now();
      for (const [token, expiresAt] of tokens) if (expiresAt <= now) tokens.delete(token);
      const accessToken = `utk_${randomBytes(24).toString('base64url')}`;
      tokens.set(accessToken, now + ttlSeconds * 1000);
      issued += 1;
      const scope = form.get('scope');
      return {
        status: 200,
        headers: { 'cache-control': 'no-store', pragma: 'no-cache' },
        body: {
          access_token: accessToken,
          token_type: 'Bearer',
          expires_in: ttlSeconds,
          ...(scope === null ? {} : { scope }),
        },
      };
    },
    reject(req) {
      const token = bearerToken(req.headers.authorization);
      if (token === undefined) return invalidToken('missing bearer token');
      const expiresAt = tokens.get(token);
      if (expiresAt === undefined) return invalidToken('unknown access token');
      if (Date.now() >= expiresAt) return invalidToken('access token expired');
      return undefined;
    },
    issued: () => issued,
    resetIssued() {
      issued = 0;
    },
    expireAll() {
      for (const token of tokens.keys()) tokens.set(token, 0);
    },
    setTtl(seconds) {
      ttlSeconds = checkTtl(seconds);
    },
    addClientSecret(secret) {
      if (secret === '') throw new TypeError('client secret: expected a non-empty string');
      secrets.add(secret);
    },
    removeClientSecret(secret) {
      secrets.delete(secret);
    },
  };
}

function checkTtl(seconds: number): number {
  if (!Number.isInteger(seconds) || seconds < 1) {
    throw new TypeError(`token TTL must be an integer number of seconds >= 1, but got: ${String(seconds)}`);
  }
  return seconds;
}

/** Client credentials from HTTP Basic or the form (RFC 6749 §2.3.1); 'conflict' when both are used. */
function clientFrom(
  authorization: string | undefined,
  form: URLSearchParams,
): { id: string; secret: string } | 'conflict' | undefined {
  const formId = form.get('client_id');
  const formSecret = form.get('client_secret');
  const basic = basicCredentials(authorization);
  if (basic !== undefined) {
    if (formSecret !== null) return 'conflict';
    if (basic.password === undefined) return undefined;
    try {
      // Both parts are form-urlencoded before base64 (RFC 6749 §2.3.1).
      const formDecode = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
      return { id: formDecode(basic.user), secret: formDecode(basic.password) };
    } catch {
      return undefined;
    }
  }
  if (formId === null || formSecret === null) return undefined;
  return { id: formId, secret: formSecret };
}

function invalidToken(message: string): SimResponse {
  return {
    status: 401,
    headers: { 'www-authenticate': `Bearer error="invalid_token", error_description="${message}"` },
    body: { error: { code: 'invalid_token', message } },
  };
}

function oauthError(
  status: number,
  error: string,
  description: string,
  headers: Record<string, string> = {},
): SimResponse {
  return {
    status,
    headers: { 'cache-control': 'no-store', pragma: 'no-cache', ...headers },
    body: { error, error_description: description },
  };
}
