// The auth strategy of a call made on behalf of a connected user: the user's own access token
// (refreshed by AccountTokens when due), made once per call. Its credential id fingerprints the
// connection (provider, Junction user, provider account), so caches and rate limiters keyed by it
// never mix two users' data or budgets. A 401 is worth one retry only when the stored token changed
// meanwhile (another request refreshed it); otherwise the call's owner marks the connection.
import type { AuthStrategy } from '../upstream/auth.js';
import { fingerprint } from '../upstream/auth.js';
import { AccountError } from './errors.js';
import type { UserCredential, UserCredentialSource } from './provider.js';

export class ConnectedUserAuth implements AuthStrategy {
  readonly kind = 'oauth2-user' as const;
  readonly credentialId: string;
  /** The provider's id of the connected account. */
  readonly accountId: string;
  private token: string;

  private constructor(
    private readonly source: UserCredentialSource,
    readonly userId: string,
    readonly provider: string,
    credential: UserCredential,
  ) {
    this.accountId = credential.accountId;
    this.token = credential.accessToken;
    this.credentialId = connectionFingerprint(provider, userId, credential.accountId);
  }

  /** The user's current credential, as a strategy for one call. Throws AccountError when not connected. */
  static async of(
    source: UserCredentialSource,
    userId: string,
    provider: string,
    signal?: AbortSignal,
  ): Promise<ConnectedUserAuth> {
    return new ConnectedUserAuth(source, userId, provider, await source.credential(userId, provider, signal));
  }

  async authorize(headers: Record<string, string>): Promise<string> {
    headers.authorization = `Bearer ${this.token}`;
    return this.token;
  }

  async refreshAfterUnauthorized(used: string | undefined, signal?: AbortSignal): Promise<boolean> {
    const fresh = await this.source.credential(this.userId, this.provider, signal);
    if (fresh.accountId !== this.accountId || fresh.accessToken === used) return false;
    this.token = fresh.accessToken;
    return true;
  }

  /**
   * The provider refused the user's token: marks the connection RECONNECT_REQUIRED (unless a newer
   * token was stored meanwhile) and returns the error to answer with.
   */
  async refused(): Promise<AccountError> {
    await this.source.markReconnectRequired(this.userId, this.provider, this.token);
    return new AccountError('RECONNECT_REQUIRED', `the ${this.provider} account must be connected again`, {
      provider: this.provider,
    });
  }
}

/** Fingerprint of one connection: what per-user cache keys and rate limiters are keyed by. */
export function connectionFingerprint(provider: string, userId: string, accountId: string): string {
  return fingerprint('connected-account', provider, userId, accountId);
}
