// The OAuth 2.0 token endpoint (RFC 6749 §4.1.3 code exchange with the PKCE verifier, §6 refresh):
// one form POST, answered with JSON. An `error` member means refusal whatever the status (GitHub
// answers 200 with `{"error": "bad_verification_code"}`). Answers are bounded and validated before
// use; transport failures become the upstream layer's typed errors, refusals a TokenRefusedError.
import { type Dispatcher, request } from 'undici';
import { z } from 'zod';
import { deadlineSignal } from '../upstream/abort.js';
import {
  UpstreamBadResponseError,
  UpstreamRateLimitedError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
} from '../upstream/errors.js';
import type { OAuthProviderSpec } from './provider.js';

/** Largest token-endpoint answer read, in bytes. */
const MAX_BODY_BYTES = 64 * 1024; // 64 KiB
/** Longest token accepted, in characters. */
const MAX_TOKEN_LENGTH = 4096;
/** Token lifetimes are clamped to this, in seconds (a year): a provider cannot set a date in year 3000. */
const MAX_LIFETIME_SECONDS = 366 * 24 * 3600;
const MAX_SCOPES = 64;

export interface TokenSet {
  accessToken: string;
  /** Undefined when the provider issued none (or, on refresh, kept the old one). */
  refreshToken: string | undefined;
  /** When the access token expires; undefined: the provider did not say (a non-expiring token). */
  accessExpiresAt: Date | undefined;
  refreshExpiresAt: Date | undefined;
  /** Granted scopes when the provider said which. */
  scopes: string[] | undefined;
}

export interface TokenEndpointOptions {
  /** undici dispatcher (a pool) for the request. Default: undici's global agent. */
  dispatcher?: Dispatcher | undefined;
  /** Limit of one token request, in ms. Default 10000 ms. */
  timeoutMs?: number;
  /** Clock in ms, to turn `expires_in` into dates. Default Date.now. */
  now?: () => number;
}

/** The provider refused the grant (`error` in its answer); `oauthError` is its code, bounded. */
export class TokenRefusedError extends Error {
  readonly code = 'OAUTH_TOKEN_REFUSED';
  constructor(
    readonly provider: string,
    readonly oauthError: string,
    readonly status: number,
  ) {
    super(`${provider} token endpoint refused the grant: ${oauthError}`);
    this.name = 'TokenRefusedError';
  }
}

export function isTokenRefusedError(error: unknown): error is TokenRefusedError {
  return error instanceof TokenRefusedError;
}

const token = z.string().min(1).max(MAX_TOKEN_LENGTH);
const lifetime = z.coerce.number().finite().positive();
const successSchema = z.object({
  access_token: token,
  token_type: z.string().regex(/^bearer$/i, 'token_type must be Bearer'),
  refresh_token: token.optional(),
  expires_in: lifetime.optional(),
  refresh_token_expires_in: lifetime.optional(),
  scope: z.string().max(4096).optional(),
});

/**
 * Exchanges an authorization code (with its PKCE verifier) for tokens. `redirectUri` must be the one
 * the authorization request named (RFC 6749 §4.1.3); default the provider's.
 */
export function exchangeCode(
  spec: OAuthProviderSpec,
  code: string,
  codeVerifier: string,
  options: TokenEndpointOptions = {},
  redirectUri: string = spec.redirectUri,
): Promise<TokenSet> {
  return tokenRequest(
    spec,
    { grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: codeVerifier },
    options,
  );
}

/** Trades a refresh token for a new pair (providers that rotate revoke the old refresh token). */
export function refreshTokens(
  spec: OAuthProviderSpec,
  refreshToken: string,
  options: TokenEndpointOptions = {},
): Promise<TokenSet> {
  return tokenRequest(spec, { grant_type: 'refresh_token', refresh_token: refreshToken }, options);
}

async function tokenRequest(
  spec: OAuthProviderSpec,
  params: Record<string, string>,
  options: TokenEndpointOptions,
): Promise<TokenSet> {
  const provider = spec.id;
  const now = options.now ?? Date.now;
  const form = new URLSearchParams(params);
  const headers: Record<string, string> = {
    accept: 'application/json',
    'content-type': 'application/x-www-form-urlencoded',
  };
  if (spec.clientAuth === 'client_secret_basic') {
    const id = encodeURIComponent(spec.clientId);
    const secret = encodeURIComponent(spec.clientSecret);
    headers.authorization = `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
  } else {
    form.set('client_id', spec.clientId);
    form.set('client_secret', spec.clientSecret);
  }
  const deadline = deadlineSignal(options.timeoutMs ?? 10_000); // 10 s
  let status: number;
  let text: string;
  try {
    const response = await request(spec.tokenUrl, {
      method: 'POST',
      headers,
      body: form.toString(),
      signal: deadline.signal,
      ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
    });
    status = response.statusCode;
    text = await readBounded(response.body, MAX_BODY_BYTES);
  } catch (error) {
    if (deadline.signal.aborted)
      throw new UpstreamTimeoutError(`${provider} token endpoint did not answer in time`, {
        provider,
        cause: error,
      });
    if (error instanceof BodyTooLargeError)
      throw new UpstreamBadResponseError(`${provider} token endpoint answer is too large`, { provider });
    // Not marked notSent: a refresh may have reached the provider (and rotated) before the socket broke.
    throw new UpstreamUnavailableError(`${provider} token endpoint could not be reached`, {
      provider,
      cause: error,
    });
  } finally {
    deadline.cancel();
  }

  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const oauthError =
    typeof body === 'object' && body !== null ? (body as { error?: unknown }).error : undefined;
  if (typeof oauthError === 'string' && status < 500 && status !== 429) {
    // Only a short code from the provider's answer is kept: never its description or its body.
    throw new TokenRefusedError(
      provider,
      /^[A-Za-z0-9_.-]{1,64}$/.test(oauthError) ? oauthError : 'unrecognised_error',
      status,
    );
  }
  if (status === 429)
    throw new UpstreamRateLimitedError(`${provider} token endpoint is throttling`, { provider, status });
  if (status >= 500)
    throw new UpstreamUnavailableError(`${provider} token endpoint failed (${status})`, { provider, status });
  const parsed = status === 200 ? successSchema.safeParse(body) : undefined;
  if (!parsed?.success)
    throw new UpstreamBadResponseError(
      `${provider} token endpoint answered ${status} without usable tokens`,
      {
        provider,
        status,
      },
    );
  const at = (seconds: number | undefined) =>
    seconds === undefined ? undefined : new Date(now() + Math.min(seconds, MAX_LIFETIME_SECONDS) * 1000);
  const scopes = parsed.data.scope
    ?.split(/[\s,]+/)
    .filter((s) => s.length > 0 && s.length <= 128)
    .slice(0, MAX_SCOPES);
  return {
    accessToken: parsed.data.access_token,
    refreshToken: parsed.data.refresh_token,
    accessExpiresAt: at(parsed.data.expires_in),
    refreshExpiresAt: at(parsed.data.refresh_token_expires_in),
    scopes,
  };
}

class BodyTooLargeError extends Error {}

async function readBounded(body: AsyncIterable<Buffer>, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limit) throw new BodyTooLargeError();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
