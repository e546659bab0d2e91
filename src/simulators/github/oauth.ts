// The OAuth side of github.com for one app, without HTTP: authorization requests, single-use codes
// bound to a redirect URI and an S256 PKCE challenge, expiring user tokens (`ghu_`) with refresh
// tokens (`ghr_`) that rotate on use, and grants that can be revoked. Every store is bounded.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** The registered app the simulator plays the authorization server for. */
export interface GitHubOAuthApp {
  clientId: string;
  clientSecret: string;
  /** Shown on the consent page. */
  name: string;
  /** Callback URLs registered for the app; `redirect_uri` must equal one of them. The first is the default. */
  redirectUris: readonly string[];
}

export interface GitHubOAuthOptions {
  app: GitHubOAuthApp;
  /** Lifetime of user access tokens in seconds (>= 1). */
  tokenTtlSeconds: number;
  /** Lifetime of refresh tokens in seconds (>= 1). */
  refreshTokenTtlSeconds: number;
  /** Clock in ms since the epoch. */
  now: () => number;
}

/** A validated authorization request, waiting for the user's decision. */
export interface AuthorizationRequest {
  clientId: string;
  /** Where the browser goes back to (the registered default when the request named none). */
  redirectUri: string;
  /** The `redirect_uri` the request named, or null: the token request must then name the same one. */
  requestedRedirectUri: string | null;
  scopes: string[];
  state: string | null;
  /** base64url SHA-256 of the verifier (`code_challenge_method=S256`), or null without PKCE. */
  codeChallenge: string | null;
  /** Login suggested by the `login` parameter, if any. */
  login: string | null;
}

/** What `GET /login/oauth/authorize` leads to. */
export type AuthorizationCheck =
  | { kind: 'ok'; request: AuthorizationRequest }
  /** GitHub shows its 404 page for an unknown or missing client_id. */
  | { kind: 'unknown_client' }
  /** An error GitHub reports by redirecting to the app's callback URL. */
  | { kind: 'redirect'; location: string };

/** A token endpoint answer, successful or not (GitHub answers both with 200). */
export type TokenResult =
  | { ok: true; body: TokenResponseBody }
  | { ok: false; body: { error: string; error_description: string; error_uri: string } };

export interface TokenResponseBody {
  access_token: string;
  expires_in: number;
  refresh_token: string;
  refresh_token_expires_in: number;
  /** Comma-separated, as GitHub writes it (`repo,read:user`). */
  scope: string;
  token_type: 'bearer';
}

/** An access token that authenticates, with its owner. */
export interface TokenOwner {
  login: string;
  scopes: readonly string[];
  /** Id of the grant that issued the token (changes when the user authorizes again after a revocation). */
  grantId: number;
}

export interface GitHubOAuth {
  /** Validates the parameters of `GET /login/oauth/authorize`. */
  checkAuthorizationRequest(params: URLSearchParams): AuthorizationCheck;
  /** Keeps a request while the consent page is shown; the id goes into the page's form. */
  holdRequest(request: AuthorizationRequest): string;
  /** The held request for `id` (single use), or undefined when unknown or older than the code TTL. */
  takeRequest(id: string): AuthorizationRequest | undefined;
  /** The user approved: creates or extends the grant and returns the redirect carrying `code` and `state`. */
  approve(request: AuthorizationRequest, login: string): string;
  /** The user cancelled: the redirect carrying `error=access_denied` and `state`. */
  deny(request: AuthorizationRequest): string;
  /** `POST /login/oauth/access_token`: the code or refresh grant, from the merged body and query. */
  token(params: URLSearchParams): TokenResult;
  /** True when the id and secret are this app's. */
  checkClient(clientId: string | null | undefined, clientSecret: string | null | undefined): boolean;
  /** The owner of a live access token, or undefined (unknown, expired or revoked). */
  authenticate(accessToken: string): TokenOwner | undefined;
  /** Issues a token pair for `login` without the browser flow (tests, demo). */
  issueTokens(login: string, scopes: readonly string[]): TokenResponseBody;
  /** Revokes the user's grant and every token of it; false when there was none. */
  revokeGrant(login: string): boolean;
  /** Revokes the grant that issued `accessToken`; the owner's login, or undefined for an unknown token. */
  revokeGrantOf(accessToken: string): string | undefined;
  /** Revokes one access token and its refresh token; false for an unknown token. */
  revokeToken(accessToken: string): boolean;
  /** Makes the user's access tokens expire now (refresh tokens still work); how many there were. */
  expireTokens(login: string): number;
  /** Tokens issued (by code, refresh or `issueTokens`) since creation or `resetCounters`. */
  issuedCount(): number;
  resetCounters(): void;
}

/** An authorization code lives 10 minutes (GitHub's documented limit). */
export const CODE_TTL_MS = 10 * 60 * 1000;
/** GitHub keeps at most ten live tokens per user and app; issuing an eleventh revokes the oldest. */
export const MAX_TOKENS_PER_GRANT = 10;
/** Caps on the stores a stranger can make grow: held consent requests, codes, spent refresh tokens. */
const MAX_HELD_REQUESTS = 1_000;
const MAX_CODES = 10_000;
const MAX_SPENT_REFRESH_TOKENS = 10_000;
const MAX_STATE_LENGTH = 2_048;
const MAX_SCOPES = 20;

const TROUBLESHOOT_TOKEN =
  'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors';
const TROUBLESHOOT_AUTHORIZE =
  'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors';
const REFRESH_DOCS =
  'https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/refreshing-user-access-tokens';

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** `prefix` plus `length` random base62 characters (bytes >= 248 are skipped so every character is equally likely). */
export function randomToken(prefix: string, length: number): string {
  let out = prefix;
  while (out.length < prefix.length + length) {
    for (const byte of randomBytes(length)) {
      if (byte >= 248) continue;
      out += BASE62[byte % 62];
      if (out.length === prefix.length + length) break;
    }
  }
  return out;
}

/** base64url(SHA-256(verifier)), the S256 transform of RFC 7636 §4.2. */
export function s256Challenge(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/** Splits a `scope` parameter (GitHub accepts spaces or commas); keeps at most 20 well-formed names. */
export function parseScopes(raw: string | null): string[] {
  if (raw === null) return [];
  const names = raw
    .split(/[\s,]+/)
    .filter((s) => /^[a-z][a-z0-9:_-]{0,49}$/.test(s))
    .slice(0, MAX_SCOPES);
  return [...new Set(names)];
}

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}

function withParams(uri: string, params: Record<string, string | null>): string {
  const url = new URL(uri);
  for (const [key, value] of Object.entries(params)) if (value !== null) url.searchParams.set(key, value);
  return url.toString();
}

/** Drops the oldest entries of an insertion-ordered map until it holds at most `max`. */
function capMap<K, V>(map: Map<K, V>, max: number): void {
  for (const key of map.keys()) {
    if (map.size <= max) return;
    map.delete(key);
  }
}

interface Grant {
  id: number;
  login: string;
  scopes: Set<string>;
  /** Live access tokens of this grant, oldest first. */
  accessTokens: Set<string>;
}

interface AccessTokenRecord {
  grant: Grant;
  scopes: readonly string[];
  expiresAt: number;
  refreshToken: string;
}

interface RefreshTokenRecord {
  grant: Grant;
  expiresAt: number;
  accessToken: string;
}

interface CodeRecord {
  clientId: string;
  login: string;
  redirectUri: string;
  requestedRedirectUri: string | null;
  scopes: string[];
  codeChallenge: string | null;
  expiresAt: number;
}

export function createGitHubOAuth(opts: GitHubOAuthOptions): GitHubOAuth {
  const { app, now } = opts;
  const grants = new Map<string, Grant>();
  const accessTokens = new Map<string, AccessTokenRecord>();
  const refreshTokens = new Map<string, RefreshTokenRecord>();
  /** Refresh tokens already exchanged, with the grant they belonged to: a second use is a replay. */
  const spentRefreshTokens = new Map<string, number>();
  const codes = new Map<string, CodeRecord>();
  const held = new Map<string, { request: AuthorizationRequest; expiresAt: number }>();
  let nextGrantId = 1;
  let issued = 0;

  const tokenError = (error: string, description: string, uri: string): TokenResult => ({
    ok: false,
    body: { error, error_description: description, error_uri: uri },
  });

  const redirectError = (
    uri: string,
    error: string,
    description: string,
    state: string | null,
  ): AuthorizationCheck => ({
    kind: 'redirect',
    location: withParams(uri, {
      error,
      error_description: description,
      error_uri: `${TROUBLESHOOT_AUTHORIZE}/#${error.replace(/_/g, '-')}`,
      state,
    }),
  });

  const dropToken = (accessToken: string): void => {
    const record = accessTokens.get(accessToken);
    if (record === undefined) return;
    accessTokens.delete(accessToken);
    refreshTokens.delete(record.refreshToken);
    record.grant.accessTokens.delete(accessToken);
  };

  const grantFor = (login: string, scopes: readonly string[]): Grant => {
    let grant = grants.get(login);
    if (grant === undefined) {
      grant = { id: nextGrantId++, login, scopes: new Set(), accessTokens: new Set() };
      grants.set(login, grant);
    }
    for (const scope of scopes) grant.scopes.add(scope);
    return grant;
  };

  const issuePair = (grant: Grant, scopes: readonly string[]): TokenResponseBody => {
    const at = now();
    const accessToken = randomToken('ghu_', 36);
    const refreshToken = randomToken('ghr_', 76);
    accessTokens.set(accessToken, {
      grant,
      scopes: [...scopes],
      expiresAt: at + opts.tokenTtlSeconds * 1000,
      refreshToken,
    });
    refreshTokens.set(refreshToken, {
      grant,
      expiresAt: at + opts.refreshTokenTtlSeconds * 1000,
      accessToken,
    });
    grant.accessTokens.add(accessToken);
    for (const oldest of grant.accessTokens) {
      if (grant.accessTokens.size <= MAX_TOKENS_PER_GRANT) break;
      dropToken(oldest);
    }
    issued += 1;
    return {
      access_token: accessToken,
      expires_in: opts.tokenTtlSeconds,
      refresh_token: refreshToken,
      refresh_token_expires_in: opts.refreshTokenTtlSeconds,
      scope: scopes.join(','),
      token_type: 'bearer',
    };
  };

  const revokeGrant = (login: string): boolean => {
    const grant = grants.get(login);
    if (grant === undefined) return false;
    for (const token of [...grant.accessTokens]) dropToken(token);
    grants.delete(login);
    return true;
  };

  const checkClient = (clientId: string | null | undefined, clientSecret: string | null | undefined) =>
    typeof clientId === 'string' &&
    typeof clientSecret === 'string' &&
    safeEqual(clientId, app.clientId) &&
    safeEqual(clientSecret, app.clientSecret);

  const exchangeCode = (params: URLSearchParams): TokenResult => {
    const badCode = () =>
      tokenError(
        'bad_verification_code',
        'The code passed is incorrect or expired.',
        `${TROUBLESHOOT_TOKEN}/#bad-verification-code`,
      );
    const codeValue = params.get('code');
    const code = codeValue === null ? undefined : codes.get(codeValue);
    if (codeValue === null || code === undefined || code.clientId !== app.clientId) return badCode();
    // Single use: any exchange attempt with this app's credentials spends the code, failed or not.
    codes.delete(codeValue);
    if (now() >= code.expiresAt) return badCode();

    // RFC 6749 §4.1.3: required when the authorization request named one; when sent, it must be the
    // URI the code was delivered to.
    const redirectUri = params.get('redirect_uri');
    const missing = redirectUri === null && code.requestedRedirectUri !== null;
    if (missing || (redirectUri !== null && redirectUri !== code.redirectUri)) {
      return tokenError(
        'redirect_uri_mismatch',
        'The redirect_uri MUST match the registered callback URL for this application.',
        `${TROUBLESHOOT_AUTHORIZE}/#redirect-uri-mismatch2`,
      );
    }
    if (code.codeChallenge !== null) {
      const verifier = params.get('code_verifier');
      // RFC 7636 §4.1: 43..128 unreserved characters.
      if (
        verifier === null ||
        !/^[A-Za-z0-9._~-]{43,128}$/.test(verifier) ||
        !safeEqual(s256Challenge(verifier), code.codeChallenge)
      ) {
        return tokenError(
          'bad_verification_code',
          'The code_verifier does not match the code_challenge of the authorization request.',
          `${TROUBLESHOOT_TOKEN}/#bad-verification-code`,
        );
      }
    }
    const grant = grants.get(code.login);
    // A grant revoked between consent and exchange leaves the code worthless.
    if (grant === undefined) return badCode();
    return { ok: true, body: issuePair(grant, code.scopes) };
  };

  const refresh = (params: URLSearchParams): TokenResult => {
    const badRefresh = () =>
      tokenError('bad_refresh_token', 'The refresh token passed is incorrect or expired.', REFRESH_DOCS);
    const token = params.get('refresh_token');
    if (token === null) return badRefresh();
    const record = refreshTokens.get(token);
    if (record === undefined) {
      const spentGrantId = spentRefreshTokens.get(token);
      const grant = [...grants.values()].find((g) => g.id === spentGrantId);
      // A replayed refresh token means it leaked: end the whole grant, as a safety.
      if (grant !== undefined) revokeGrant(grant.login);
      return badRefresh();
    }
    if (now() >= record.expiresAt) {
      refreshTokens.delete(token);
      return badRefresh();
    }
    const scopes = accessTokens.get(record.accessToken)?.scopes ?? [...record.grant.scopes];
    dropToken(record.accessToken);
    refreshTokens.delete(token);
    spentRefreshTokens.set(token, record.grant.id);
    capMap(spentRefreshTokens, MAX_SPENT_REFRESH_TOKENS);
    return { ok: true, body: issuePair(record.grant, scopes) };
  };

  return {
    checkAuthorizationRequest(params) {
      const clientId = params.get('client_id');
      if (clientId === null || !safeEqual(clientId, app.clientId)) return { kind: 'unknown_client' };
      const state = params.get('state');
      const requested = params.get('redirect_uri');
      const defaultUri = app.redirectUris[0] ?? '';
      if (requested !== null && !app.redirectUris.includes(requested)) {
        // GitHub sends the browser to the registered callback, never to the unregistered one.
        return redirectError(
          defaultUri,
          'redirect_uri_mismatch',
          'The redirect_uri MUST match the registered callback URL for this application.',
          state !== null && state.length <= MAX_STATE_LENGTH ? state : null,
        );
      }
      const redirectUri = requested ?? defaultUri;
      if (state !== null && state.length > MAX_STATE_LENGTH) {
        return redirectError(
          redirectUri,
          'invalid_request',
          `state must be at most ${MAX_STATE_LENGTH} characters.`,
          null,
        );
      }
      const challenge = params.get('code_challenge');
      const method = params.get('code_challenge_method');
      if (challenge !== null || method !== null) {
        if (method !== 'S256') {
          return redirectError(redirectUri, 'invalid_request', 'code_challenge_method must be S256.', state);
        }
        if (challenge === null || !/^[A-Za-z0-9_-]{43}$/.test(challenge)) {
          return redirectError(
            redirectUri,
            'invalid_request',
            'code_challenge must be the base64url SHA-256 of the code_verifier (43 characters).',
            state,
          );
        }
      }
      const login = params.get('login');
      return {
        kind: 'ok',
        request: {
          clientId,
          redirectUri,
          requestedRedirectUri: requested,
          scopes: parseScopes(params.get('scope')),
          state,
          codeChallenge: challenge,
          login: login !== null && login.length <= 39 ? login : null,
        },
      };
    },

    holdRequest(request) {
      const id = randomBytes(16).toString('hex');
      const at = now();
      for (const [key, entry] of held) if (at >= entry.expiresAt) held.delete(key);
      held.set(id, { request, expiresAt: at + CODE_TTL_MS });
      capMap(held, MAX_HELD_REQUESTS);
      return id;
    },

    takeRequest(id) {
      const entry = held.get(id);
      if (entry === undefined) return undefined;
      held.delete(id);
      return now() < entry.expiresAt ? entry.request : undefined;
    },

    approve(request, login) {
      grantFor(login, request.scopes);
      const code = randomBytes(10).toString('hex');
      const at = now();
      for (const [key, record] of codes) if (at >= record.expiresAt) codes.delete(key);
      codes.set(code, {
        clientId: request.clientId,
        login,
        redirectUri: request.redirectUri,
        requestedRedirectUri: request.requestedRedirectUri,
        scopes: request.scopes,
        codeChallenge: request.codeChallenge,
        expiresAt: at + CODE_TTL_MS,
      });
      capMap(codes, MAX_CODES);
      return withParams(request.redirectUri, { code, state: request.state });
    },

    deny(request) {
      return withParams(request.redirectUri, {
        error: 'access_denied',
        error_description: 'The user has denied your application access.',
        error_uri: `${TROUBLESHOOT_AUTHORIZE}/#access-denied`,
        state: request.state,
      });
    },

    token(params) {
      if (!checkClient(params.get('client_id'), params.get('client_secret'))) {
        return tokenError(
          'incorrect_client_credentials',
          'The client_id and/or client_secret passed are incorrect.',
          `${TROUBLESHOOT_TOKEN}/#incorrect-client-credentials`,
        );
      }
      const grantType = params.get('grant_type');
      if (grantType === null || grantType === 'authorization_code') return exchangeCode(params);
      if (grantType === 'refresh_token') return refresh(params);
      return tokenError(
        'unsupported_grant_type',
        'The grant_type must be authorization_code or refresh_token.',
        `${TROUBLESHOOT_TOKEN}/`,
      );
    },

    checkClient,

    authenticate(accessToken) {
      const record = accessTokens.get(accessToken);
      if (record === undefined || now() >= record.expiresAt) return undefined;
      return { login: record.grant.login, scopes: record.scopes, grantId: record.grant.id };
    },

    issueTokens(login, scopes) {
      const clean = [...new Set(scopes)];
      return issuePair(grantFor(login, clean), clean);
    },

    revokeGrant,

    revokeGrantOf(accessToken) {
      const login = accessTokens.get(accessToken)?.grant.login;
      if (login !== undefined) revokeGrant(login);
      return login;
    },

    revokeToken(accessToken) {
      if (!accessTokens.has(accessToken)) return false;
      dropToken(accessToken);
      return true;
    },

    expireTokens(login) {
      const grant = grants.get(login);
      if (grant === undefined) return 0;
      const at = now();
      for (const token of grant.accessTokens) {
        const record = accessTokens.get(token);
        if (record !== undefined) record.expiresAt = Math.min(record.expiresAt, at);
      }
      return grant.accessTokens.size;
    },

    issuedCount: () => issued,
    resetCounters() {
      issued = 0;
    },
  };
}
