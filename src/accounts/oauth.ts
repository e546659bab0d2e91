// The authorization code flow with PKCE (RFC 6749 §4.1, RFC 7636 S256), the same for every
// provider. `begin` records a single-use state bound to the viewer (stored as a hash, the verifier
// encrypted) and returns the provider's authorization URL; `complete` takes the state back exactly
// once, checks it, exchanges the code with the verifier, reads who the account is, stores the
// tokens, and says where to send the browser. Every failure stores nothing.
import { createHash, randomBytes } from 'node:crypto';
import { AccountError, type AccountErrorCode, isAccountError } from './errors.js';
import type { OAuthProviderSpec } from './provider.js';
import { checkReturnTo, type ReturnUrlRule, withQuery } from './returnTo.js';
import type { AccountStore } from './store.js';
import { exchangeCode, isTokenRefusedError, type TokenEndpointOptions } from './tokenEndpoint.js';

export interface OAuthFlowOptions {
  store: AccountStore;
  /** The providers users may connect, by id. */
  providers: ReadonlyMap<string, OAuthProviderSpec>;
  /** OAUTH_RETURN_URLS, parsed; the first rule is where the browser goes when no returnTo was given. */
  returnUrls: readonly ReturnUrlRule[];
  /** How long a begun flow may be completed, in ms. Default 600000 ms (10 min). */
  stateTtlMs?: number;
  /** Flows one user may have pending at once; beginning another drops the oldest. Default 10. */
  maxPendingPerUser?: number;
  /** Token endpoint requests: dispatcher and timeout (and the clock). */
  tokenEndpoint?: TokenEndpointOptions;
  /** Limit of the identity read after the exchange, in ms. Default 10000 ms. */
  identityTimeoutMs?: number;
  /** Clock in ms. Default Date.now. */
  now?: () => number;
}

export interface BeginResult {
  /** Where to send the browser: the provider's consent page. */
  authorizationUrl: string;
  /** When the flow stops being completable. */
  expiresAt: Date;
  /** The flow's state (also in the URL): what the HTTP layer binds to the browser that began it. */
  state: string;
}

export interface BeginOptions {
  /**
   * The origin the viewer reached Junction at (`http://localhost:4000`). When it is a loopback twin
   * of the provider's callback URL (same scheme and port, another loopback name), the flow's callback
   * goes there instead, so the browser comes back to the host its binding cookie lives on. Anything
   * else keeps the provider's callback URL.
   */
  origin?: string | undefined;
}

export interface CompleteOptions {
  /** The callback request's verified viewer, when it carries one: it must be the one who began the flow. */
  viewerId?: string | undefined;
  /**
   * Whether the callback's browser is the one that began the flow (the HTTP layer checks its
   * binding cookie). `false` refuses the flow: a victim must not complete an attacker's flow and
   * hand the attacker their account. Undefined: not checked (callers without a browser).
   */
  browserBound?: boolean | undefined;
}

/** The callback's query parameters, as the HTTP layer received them (unvalidated). */
export type CallbackParams = Record<string, unknown>;

export type CallbackOutcome =
  | { ok: true; provider: string; userId: string; login: string; redirectTo: string }
  | {
      ok: false;
      provider: string;
      code: AccountErrorCode;
      /** Always an allowed URL: the flow's returnTo when the state was good, else the first rule's. */
      redirectTo: string;
      /** For the log only: what went wrong, with no secret and nothing the provider wrote. */
      detail: string;
    };

/** Our states: 32 random bytes, base64url. Anything else is refused before the database is asked. */
const STATE_FORMAT = /^[A-Za-z0-9_-]{43}$/;
const CODE_FORMAT = /^[\x21-\x7e]{1,2048}$/;
const MAX_USER_ID_LENGTH = 256;
const LOOPBACK_HOSTNAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * The callback URL for a flow begun at `origin`: `defaultUri` with its host swapped for the origin's
 * when both are loopback names of the same scheme and port (demo mode is reached as localhost and as
 * 127.0.0.1); `defaultUri` otherwise. Never a host that is not loopback, so a forged Host header
 * cannot move the callback anywhere.
 */
export function callbackUrlFor(defaultUri: string, origin: string | undefined): string {
  if (origin === undefined || origin.length > 256) return defaultUri;
  let from: URL;
  let base: URL;
  try {
    from = new URL(origin);
    base = new URL(defaultUri);
  } catch {
    return defaultUri;
  }
  if (
    from.protocol !== base.protocol ||
    from.port !== base.port ||
    !LOOPBACK_HOSTNAMES.has(from.hostname) ||
    !LOOPBACK_HOSTNAMES.has(base.hostname)
  )
    return defaultUri;
  base.hostname = from.hostname;
  return base.href;
}

export class OAuthFlow {
  private readonly now: () => number;
  private readonly stateTtlMs: number;

  constructor(private readonly options: OAuthFlowOptions) {
    this.now = options.now ?? Date.now;
    this.stateTtlMs = options.stateTtlMs ?? 10 * 60 * 1000; // 10 min
  }

  /**
   * Starts a connection for `viewerId`. Throws AccountError RETURN_URL_NOT_ALLOWED for a returnTo
   * off the allowlist, PROVIDER_NOT_SUPPORTED for an unknown provider.
   */
  async begin(
    viewerId: string,
    providerId: string,
    returnTo?: string | null,
    options: BeginOptions = {},
  ): Promise<BeginResult> {
    const spec = this.spec(providerId);
    // The viewer id comes from a verified token; the table holds ids of 1..256 characters.
    if (viewerId.length === 0 || viewerId.length > MAX_USER_ID_LENGTH)
      throw new TypeError(`viewer id: expected 1..${MAX_USER_ID_LENGTH} characters`);
    const target = checkReturnTo(returnTo, this.options.returnUrls);
    const state = randomBytes(32).toString('base64url');
    const codeVerifier = randomBytes(32).toString('base64url'); // 43 characters, RFC 7636 §4.1
    const codeChallenge = createHash('sha256').update(codeVerifier).digest('base64url');
    const redirectUri = callbackUrlFor(spec.redirectUri, options.origin);
    await this.options.store.insertState(
      {
        stateHash: hashState(state),
        userId: viewerId,
        provider: spec.id,
        codeVerifier,
        returnTo: target,
        // Stored only when it differs: the exchange then sends the same one the authorization named.
        redirectUri: redirectUri === spec.redirectUri ? undefined : redirectUri,
      },
      { ttlMs: this.stateTtlMs, maxPerUser: this.options.maxPendingPerUser ?? 10 },
    );
    const url = new URL(spec.authorizeUrl);
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('client_id', spec.clientId);
    url.searchParams.set('redirect_uri', redirectUri);
    if (spec.scopes.length > 0) url.searchParams.set('scope', spec.scopes.join(' '));
    url.searchParams.set('state', state);
    url.searchParams.set('code_challenge', codeChallenge);
    url.searchParams.set('code_challenge_method', 'S256');
    return { authorizationUrl: url.href, expiresAt: new Date(this.now() + this.stateTtlMs), state };
  }

  /**
   * Ends a flow at `/oauth/<providerId>/callback`. `viewerId`, when the callback request carries a
   * verified viewer, must be the one who began the flow; `browserBound: false` refuses a flow
   * completed in another browser. The state is used up whatever happens.
   */
  async complete(
    providerId: string,
    params: CallbackParams,
    options: CompleteOptions = {},
  ): Promise<CallbackOutcome> {
    const fallback = checkReturnTo(undefined, this.options.returnUrls);
    const fail = (code: AccountErrorCode, detail: string, redirectBase = fallback): CallbackOutcome => ({
      ok: false,
      provider: providerId,
      code,
      redirectTo: withQuery(redirectBase, { error: code, provider: providerId }),
      detail,
    });
    const spec = this.options.providers.get(providerId);
    if (!spec) return fail('PROVIDER_NOT_SUPPORTED', 'no such provider');
    const stateParam = params.state;
    if (typeof stateParam !== 'string' || !STATE_FORMAT.test(stateParam))
      return fail('OAUTH_STATE_INVALID', 'state missing or malformed');
    const state = await this.options.store.takeState(hashState(stateParam));
    if (!state) return fail('OAUTH_STATE_INVALID', 'state unknown or already used');
    if (state.provider !== spec.id) return fail('OAUTH_STATE_INVALID', 'state issued for another provider');
    const back = state.returnTo;
    if (state.expiresAt.getTime() <= this.now()) return fail('OAUTH_STATE_EXPIRED', 'state expired', back);
    if (options.viewerId !== undefined && options.viewerId !== state.userId)
      return fail('OAUTH_STATE_WRONG_VIEWER', 'state began by another viewer', back);
    if (options.browserBound === false)
      return fail(
        'OAUTH_STATE_WRONG_VIEWER',
        'flow completed in another browser than the one that began it',
        back,
      );
    if (params.error !== undefined)
      return fail('OAUTH_ACCESS_DENIED', 'the provider reported an error', back);
    const code = params.code;
    if (typeof code !== 'string' || !CODE_FORMAT.test(code))
      return fail('OAUTH_EXCHANGE_FAILED', 'code missing or malformed', back);

    let verifier: string;
    try {
      verifier = this.options.store.readVerifier(state);
    } catch (error) {
      if (isAccountError(error)) return fail('OAUTH_EXCHANGE_FAILED', error.message, back);
      throw error;
    }
    const tokens = await exchangeCode(
      spec,
      code,
      verifier,
      { now: this.now, ...this.options.tokenEndpoint },
      state.redirectUri ?? spec.redirectUri,
    ).catch((error: unknown) => error as Error);
    if (tokens instanceof Error)
      return fail(
        'OAUTH_EXCHANGE_FAILED',
        isTokenRefusedError(tokens) ? `token endpoint refused: ${tokens.oauthError}` : tokens.message,
        back,
      );

    const signal = AbortSignal.timeout(this.options.identityTimeoutMs ?? 10_000); // 10 s
    const identity = await spec.fetchIdentity(tokens.accessToken, signal).catch((e: unknown) => e as Error);
    if (identity instanceof Error || !isIdentity(identity)) {
      // Tokens nobody will store should not stay valid at the provider.
      await spec
        .revoke(
          { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken },
          AbortSignal.timeout(5_000),
        )
        .catch(() => {});
      return fail('OAUTH_EXCHANGE_FAILED', 'could not read the account behind the token', back);
    }
    await this.options.store.saveAccount({
      userId: state.userId,
      provider: spec.id,
      externalId: identity.externalId,
      login: identity.login,
      scopes: tokens.scopes ?? [...spec.scopes],
      tokens: { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken },
      accessExpiresAt: tokens.accessExpiresAt,
      refreshExpiresAt: tokens.refreshExpiresAt,
    });
    return {
      ok: true,
      provider: spec.id,
      userId: state.userId,
      login: identity.login,
      redirectTo: withQuery(back, { connected: spec.id }),
    };
  }

  private spec(providerId: string): OAuthProviderSpec {
    const spec = this.options.providers.get(providerId);
    if (!spec)
      throw new AccountError('PROVIDER_NOT_SUPPORTED', 'connected accounts do not support this provider');
    return spec;
  }
}

/** What is stored instead of the state: its SHA-256, hex. */
export function hashState(state: string): string {
  return createHash('sha256').update(state).digest('hex');
}

function isIdentity(value: unknown): value is { externalId: string; login: string } {
  const v = value as { externalId?: unknown; login?: unknown };
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.externalId === 'string' &&
    v.externalId.length > 0 &&
    v.externalId.length <= 256 &&
    typeof v.login === 'string' &&
    v.login.length <= 256
  );
}
