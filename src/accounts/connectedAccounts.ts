// Connected accounts as one unit the application builds at startup and closes at shutdown: the
// database (PostgreSQL or embedded PGlite, migrated), the encrypted store, the OAuth flow and the
// token keeper, over the providers that support per-user OAuth. The GraphQL and HTTP layers use
// this interface only.
import type { KeyRing } from './crypto.js';
import { openPglite, openPostgres, type Sql, type SqlExecutor } from './database.js';
import { AccountError } from './errors.js';
import { migrate } from './migrate.js';
import {
  type BeginOptions,
  type BeginResult,
  type CallbackOutcome,
  type CallbackParams,
  type CompleteOptions,
  OAuthFlow,
} from './oauth.js';
import {
  type OAuthProviderSpec,
  PROVIDER_ID,
  type UserCredential,
  type UserCredentialSource,
} from './provider.js';
import type { ReturnUrlRule } from './returnTo.js';
import { AccountStore, type ConnectedAccountSummary } from './store.js';
import type { TokenEndpointOptions } from './tokenEndpoint.js';
import { AccountTokens, type AccountTokensOptions } from './tokens.js';

export interface AccountsDatabaseOptions {
  /** PostgreSQL (`postgres://...`); when undefined, PGlite in `pgliteDir`. */
  databaseUrl: string | undefined;
  /** The embedded database's directory (demo mode: `<JUNCTION_STATE_DIR>/pglite`). */
  pgliteDir: string;
  /** Called when an idle PostgreSQL connection fails (logged; the pool replaces it). */
  onIdleError?: (error: Error) => void;
}

/** Opens the configured database and applies pending migrations. */
export async function openAccountsDatabase(options: AccountsDatabaseOptions): Promise<Sql> {
  const sql =
    options.databaseUrl !== undefined
      ? await openPostgres({
          connectionString: options.databaseUrl,
          ...(options.onIdleError ? { onIdleError: options.onIdleError } : {}),
        })
      : await openPglite(options.pgliteDir);
  try {
    await migrate(sql);
  } catch (error) {
    await sql.close();
    throw error;
  }
  return sql;
}

/**
 * A database opened on first use: `open` (which migrates) runs when the first query or transaction
 * needs it, once, and a failed open is tried again by the next use. Demo mode's embedded database
 * takes seconds to create the first time; a Junction that never touches connected accounts never
 * pays for it. `close` closes it only if it was opened.
 */
export function openOnFirstUse(engine: Sql['engine'], open: () => Promise<Sql>): Sql {
  let opening: Promise<Sql> | undefined;
  let closed = false;
  const ready = (): Promise<Sql> => {
    if (closed) return Promise.reject(new Error('the connected-accounts database is closed'));
    opening ??= open().catch((error: unknown) => {
      opening = undefined;
      throw error;
    });
    return opening;
  };
  return {
    engine,
    query: async <Row>(text: string, params?: readonly unknown[]) => (await ready()).query<Row>(text, params),
    exec: async (text: string) => (await ready()).exec(text),
    transaction: async <T>(fn: (tx: SqlExecutor) => Promise<T>) => (await ready()).transaction(fn),
    async close() {
      closed = true;
      const pending = opening;
      opening = undefined;
      if (pending) await (await pending.catch(() => undefined))?.close();
    },
  };
}

export interface ConnectedAccountsOptions {
  sql: Sql;
  /** The key ring, or a function asked at each use (a ring that rotates while running: see AccountStore). */
  keys: KeyRing | (() => KeyRing);
  providers: readonly OAuthProviderSpec[];
  returnUrls: readonly ReturnUrlRule[];
  /** How long a begun flow may be completed, in ms. Default 600000 ms (10 min). */
  stateTtlMs?: number;
  /** Refresh this long before expiry, in ms. Default 60000 ms (60 s). */
  refreshSkewMs?: number;
  /** Limit of a revocation at disconnect, in ms. Default 5000 ms. */
  revokeTimeoutMs?: number;
  tokenEndpoint?: TokenEndpointOptions;
  onRefresh?: AccountTokensOptions['onRefresh'];
  now?: () => number;
}

export interface DisconnectResult {
  /** A connection existed and is deleted. */
  disconnected: boolean;
  /** The provider confirmed the grant revoked (false: it may stay listed in the user's provider settings). */
  revoked: boolean;
}

export class ConnectedAccounts implements UserCredentialSource {
  readonly store: AccountStore;
  readonly flow: OAuthFlow;
  readonly tokens: AccountTokens;
  private readonly providers: ReadonlyMap<string, OAuthProviderSpec>;

  constructor(private readonly options: ConnectedAccountsOptions) {
    for (const spec of options.providers)
      if (!PROVIDER_ID.test(spec.id))
        throw new TypeError(`provider id: expected ${PROVIDER_ID}, got ${spec.id}`);
    this.providers = new Map(options.providers.map((p) => [p.id, p]));
    const now = options.now ?? Date.now;
    this.store = new AccountStore(options.sql, options.keys, now);
    this.flow = new OAuthFlow({
      store: this.store,
      providers: this.providers,
      returnUrls: options.returnUrls,
      now,
      ...(options.stateTtlMs !== undefined ? { stateTtlMs: options.stateTtlMs } : {}),
      ...(options.tokenEndpoint ? { tokenEndpoint: options.tokenEndpoint } : {}),
    });
    this.tokens = new AccountTokens({
      store: this.store,
      providers: this.providers,
      now,
      ...(options.refreshSkewMs !== undefined ? { refreshSkewMs: options.refreshSkewMs } : {}),
      ...(options.tokenEndpoint ? { tokenEndpoint: options.tokenEndpoint } : {}),
      ...(options.onRefresh ? { onRefresh: options.onRefresh } : {}),
    });
  }

  /** The providers users may connect (their ids). */
  get providerIds(): string[] {
    return [...this.providers.keys()];
  }

  /** `Mutation.connectAccount`: the provider's authorization URL for this viewer. */
  begin(
    viewerId: string,
    provider: string,
    returnTo?: string | null,
    options?: BeginOptions,
  ): Promise<BeginResult> {
    return this.flow.begin(viewerId, provider, returnTo, options);
  }

  /** `GET /oauth/:provider/callback`. */
  complete(provider: string, params: CallbackParams, options?: CompleteOptions): Promise<CallbackOutcome> {
    return this.flow.complete(provider, params, options);
  }

  /** A valid credential (refreshed when needed); see AccountTokens.getCredential. */
  credential(userId: string, provider: string, signal?: AbortSignal): Promise<UserCredential> {
    return this.tokens.getCredential(userId, provider, signal);
  }

  usersOfAccount(provider: string, accountId: string): Promise<string[]> {
    return this.store.usersByExternalId(provider, accountId);
  }

  markAccountRevoked(provider: string, accountId: string): Promise<string[]> {
    return this.store.setStatusByExternalId(provider, accountId, 'RECONNECT_REQUIRED');
  }

  /** A valid access token (refreshed when needed); see AccountTokens.getAccessToken. */
  getAccessToken(userId: string, provider: string, signal?: AbortSignal): Promise<string> {
    return this.tokens.getAccessToken(userId, provider, signal);
  }

  /** Called on a 401 to `usedAccessToken`; see AccountTokens.markReconnectRequired. */
  markReconnectRequired(userId: string, provider: string, usedAccessToken: string): Promise<boolean> {
    return this.tokens.markReconnectRequired(userId, provider, usedAccessToken);
  }

  /** `User.connectedAccounts`: the user's connections, never a token. Who may see what is the caller's rule. */
  list(userId: string): Promise<ConnectedAccountSummary[]> {
    return this.store.listAccounts(userId);
  }

  /**
   * `Mutation.disconnectAccount`: revokes the grant at the provider, then deletes the row. The row
   * is deleted even when the provider cannot be reached: Junction keeps no token the user asked it
   * to forget; `revoked: false` says the grant may still be listed at the provider.
   */
  async disconnect(userId: string, provider: string): Promise<DisconnectResult> {
    const spec = this.providers.get(provider);
    if (!spec) throw new AccountError('PROVIDER_NOT_SUPPORTED', 'no such provider', { provider });
    const record = await this.store.getAccount(userId, provider);
    if (!record) return { disconnected: false, revoked: false };
    let revoked = false;
    try {
      const tokens = this.store.readTokens(record);
      await spec.revoke(tokens, AbortSignal.timeout(this.options.revokeTimeoutMs ?? 5_000)); // 5 s
      revoked = true;
    } catch {
      revoked = false;
    }
    const disconnected = await this.store.deleteAccount(userId, provider);
    return { disconnected, revoked };
  }

  close(): Promise<void> {
    return this.options.sql.close();
  }
}
