// What connected accounts need to know about one OAuth 2.0 provider. Everything provider-specific
// (endpoints, client credentials, scopes, who the token belongs to, how to revoke) comes from here;
// the flow, storage, encryption and refresh are the same for every provider.

/** Who a token belongs to at the provider, read right after the code exchange. */
export interface AccountIdentity {
  /** The provider's stable id of the account (GitHub's numeric user id, as a string). */
  externalId: string;
  /** The handle shown to the user (GitHub's login). */
  login: string;
}

/** The tokens as stored, in plaintext (only ever in memory). */
export interface TokenPair {
  accessToken: string;
  refreshToken: string | undefined;
}

export interface OAuthProviderSpec {
  /** Provider id as stored and in routes: lowercase, e.g. `github`. */
  readonly id: string;
  /** The authorization endpoint the browser is sent to. */
  readonly authorizeUrl: string;
  /** The token endpoint (code exchange and refresh). */
  readonly tokenUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Where the provider sends the browser back: Junction's `/oauth/<id>/callback`, absolute. */
  readonly redirectUri: string;
  /** Scopes asked for. */
  readonly scopes: readonly string[];
  /** How the client authenticates at the token endpoint. Default `client_secret_post`. */
  readonly clientAuth?: 'client_secret_post' | 'client_secret_basic';
  /**
   * Token-endpoint `error` codes that mean the grant is gone and the user must connect again.
   * Default `['invalid_grant']` (RFC 6749); a provider adds its own (GitHub: `bad_refresh_token`).
   */
  readonly refusedGrantErrors?: readonly string[];
  /** The account the access token belongs to. */
  fetchIdentity(accessToken: string, signal: AbortSignal): Promise<AccountIdentity>;
  /** Revokes the grant at the provider (disconnect). Throws when the provider did not confirm. */
  revoke(tokens: TokenPair, signal: AbortSignal): Promise<void>;
}

/** Provider ids: what the database's CHECK constraint accepts. */
export const PROVIDER_ID = /^[a-z][a-z0-9_-]{0,31}$/;

/** What a call on behalf of a connected user needs: the current access token and whose account it is. */
export interface UserCredential {
  accessToken: string;
  /** The provider's id of the connected account (AccountIdentity.externalId). */
  accountId: string;
}

/**
 * Where provider clients get a connected user's credential (ConnectedAccounts implements it). The
 * provider layer sees only this, never the store or the keys.
 */
export interface UserCredentialSource {
  /**
   * The user's valid credential at `provider`, refreshed first when due. Throws AccountError
   * ACCOUNT_NOT_CONNECTED or RECONNECT_REQUIRED; an upstream error when a refresh could not reach
   * the provider. `signal` lets this caller stop waiting; a refresh others wait for goes on.
   */
  credential(userId: string, provider: string, signal?: AbortSignal): Promise<UserCredential>;
  /** The provider answered 401 to `usedAccessToken` (see AccountTokens.markReconnectRequired). */
  markReconnectRequired(userId: string, provider: string, usedAccessToken: string): Promise<boolean>;
  /** Junction users connected to the provider's account `accountId` (webhooks name accounts, not users). */
  usersOfAccount(provider: string, accountId: string): Promise<string[]>;
  /** The account's grant was revoked at the provider: every connection to it must be made again. Returns the users marked. */
  markAccountRevoked(provider: string, accountId: string): Promise<string[]>;
}
