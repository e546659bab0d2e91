// A user's access token for a provider, valid when handed out. A token that expires within the skew
// is refreshed first, once however many requests and replicas need it: an in-process single flight
// per (user, provider), and across processes the row lock of `SELECT ... FOR UPDATE`, after which
// the row is read again (another replica may have refreshed meanwhile). Providers rotate refresh
// tokens and revoke a reused one, so a second refresh would break the connection: the new pair is
// committed before anyone uses it. A refused refresh, or a 401 to the current token, marks the
// connection RECONNECT_REQUIRED.
import { raceAbort } from '../upstream/abort.js';
import { AccountError } from './errors.js';
import type { OAuthProviderSpec, UserCredential } from './provider.js';
import type { AccountRecord, AccountStore } from './store.js';
import { isTokenRefusedError, refreshTokens, type TokenEndpointOptions } from './tokenEndpoint.js';

export interface AccountTokensOptions {
  store: AccountStore;
  providers: ReadonlyMap<string, OAuthProviderSpec>;
  /** Refresh a token this long before it expires, in ms. Default 60000 ms (60 s). */
  refreshSkewMs?: number;
  tokenEndpoint?: TokenEndpointOptions;
  /** Clock in ms. Default Date.now. */
  now?: () => number;
  /** Told of each refresh that reached the provider, with its outcome: for metrics and tests. */
  onRefresh?: (event: { provider: string; outcome: 'refreshed' | 'refused' | 'failed' }) => void;
}

type RefreshResult = { credential: UserCredential } | { reconnect: true };

export class AccountTokens {
  private readonly now: () => number;
  private readonly skewMs: number;
  private readonly inflight = new Map<string, Promise<UserCredential>>();

  constructor(private readonly options: AccountTokensOptions) {
    this.now = options.now ?? Date.now;
    this.skewMs = options.refreshSkewMs ?? 60_000; // 60 s
  }

  /**
   * A valid access token of `userId` at `provider`. Throws AccountError ACCOUNT_NOT_CONNECTED or
   * RECONNECT_REQUIRED; an upstream error when a needed refresh could not reach the provider.
   * `signal` lets this caller stop waiting; a refresh others wait for goes on.
   */
  async getAccessToken(userId: string, provider: string, signal?: AbortSignal): Promise<string> {
    return (await this.getCredential(userId, provider, signal)).accessToken;
  }

  /** Like getAccessToken, with the id of the provider account the token belongs to. */
  async getCredential(userId: string, provider: string, signal?: AbortSignal): Promise<UserCredential> {
    const record = await this.options.store.getAccount(userId, provider);
    const usable = this.usable(record, provider);
    if (!this.expiresSoon(usable))
      return { accessToken: this.options.store.readTokens(usable).accessToken, accountId: usable.externalId };
    const key = `${provider}\0${userId}`;
    let flight = this.inflight.get(key);
    if (!flight) {
      flight = this.refresh(userId, provider).finally(() => this.inflight.delete(key));
      this.inflight.set(key, flight);
    }
    return raceAbort(flight, signal);
  }

  /**
   * The provider answered 401 to `usedAccessToken`: unless the connection already holds a newer
   * token (refreshed meanwhile), it is marked RECONNECT_REQUIRED. Resolves true when it was marked.
   */
  async markReconnectRequired(userId: string, provider: string, usedAccessToken: string): Promise<boolean> {
    const { store } = this.options;
    return store.sql.transaction(async (tx) => {
      const record = await store.getAccount(userId, provider, { on: tx, forUpdate: true });
      if (!record || record.status === 'RECONNECT_REQUIRED') return false;
      if (store.readTokens(record).accessToken !== usedAccessToken) return false;
      await store.setStatus(userId, provider, 'RECONNECT_REQUIRED', tx);
      return true;
    });
  }

  private async refresh(userId: string, provider: string): Promise<UserCredential> {
    const { store } = this.options;
    const spec = this.options.providers.get(provider);
    if (!spec) throw new AccountError('PROVIDER_NOT_SUPPORTED', 'no such provider', { provider });
    const result = await store.sql.transaction(async (tx): Promise<RefreshResult> => {
      const record = this.usable(
        await store.getAccount(userId, provider, { on: tx, forUpdate: true }),
        provider,
      );
      const current = store.readTokens(record);
      const accountId = record.externalId;
      // Another request or replica refreshed while we waited for the lock: use its tokens.
      if (!this.expiresSoon(record)) return { credential: { accessToken: current.accessToken, accountId } };
      const refreshExpired =
        record.refreshExpiresAt !== null && record.refreshExpiresAt.getTime() <= this.now();
      if (current.refreshToken === undefined || refreshExpired) {
        await store.setStatus(userId, provider, 'RECONNECT_REQUIRED', tx);
        return { reconnect: true };
      }
      let fresh: Awaited<ReturnType<typeof refreshTokens>>;
      try {
        fresh = await refreshTokens(spec, current.refreshToken, {
          now: this.now,
          ...this.options.tokenEndpoint,
        });
      } catch (error) {
        if (
          isTokenRefusedError(error) &&
          (spec.refusedGrantErrors ?? ['invalid_grant']).includes(error.oauthError)
        ) {
          this.options.onRefresh?.({ provider, outcome: 'refused' });
          await store.setStatus(userId, provider, 'RECONNECT_REQUIRED', tx);
          return { reconnect: true };
        }
        this.options.onRefresh?.({ provider, outcome: 'failed' });
        // The refresh failed for now, but the token has not expired yet (we refresh early): use it.
        if (record.accessExpiresAt !== null && record.accessExpiresAt.getTime() > this.now())
          return { credential: { accessToken: current.accessToken, accountId } };
        throw error;
      }
      this.options.onRefresh?.({ provider, outcome: 'refreshed' });
      await store.updateTokens(
        userId,
        provider,
        {
          // A provider that does not rotate keeps the refresh token it has.
          tokens: {
            accessToken: fresh.accessToken,
            refreshToken: fresh.refreshToken ?? current.refreshToken,
          },
          accessExpiresAt: fresh.accessExpiresAt,
          refreshExpiresAt:
            fresh.refreshToken === undefined
              ? (record.refreshExpiresAt ?? undefined)
              : fresh.refreshExpiresAt,
          scopes: fresh.scopes,
        },
        tx,
      );
      return { credential: { accessToken: fresh.accessToken, accountId } };
    });
    // Thrown only now, after the status change above has been committed.
    if ('reconnect' in result) throw reconnectRequired(provider);
    return result.credential;
  }

  private usable(record: AccountRecord | undefined, provider: string): AccountRecord {
    if (!record)
      throw new AccountError('ACCOUNT_NOT_CONNECTED', `no ${provider} account is connected`, { provider });
    if (record.status === 'RECONNECT_REQUIRED') throw reconnectRequired(provider);
    return record;
  }

  private expiresSoon(record: AccountRecord): boolean {
    return record.accessExpiresAt !== null && record.accessExpiresAt.getTime() - this.skewMs <= this.now();
  }
}

function reconnectRequired(provider: string): AccountError {
  return new AccountError('RECONNECT_REQUIRED', `the ${provider} account must be connected again`, {
    provider,
  });
}
