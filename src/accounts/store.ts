// The connected-accounts tables (migrations/001_connected_accounts.sql) behind typed methods.
// Tokens and verifiers go in and come out in plaintext here and nowhere else are they encrypted or
// decrypted: every ciphertext is bound to its row and column (crypto.ts), under the ring's first key.
import type { CipherContext, KeyRing } from './crypto.js';
import type { Sql, SqlExecutor } from './database.js';
import type { TokenPair } from './provider.js';

export type AccountStatus = 'ACTIVE' | 'RECONNECT_REQUIRED';

/** A connection as stored, tokens still encrypted. */
export interface AccountRecord {
  userId: string;
  provider: string;
  externalId: string;
  login: string;
  scopes: string[];
  status: AccountStatus;
  keyId: string;
  accessTokenCt: string;
  refreshTokenCt: string | null;
  accessExpiresAt: Date | null;
  refreshExpiresAt: Date | null;
  connectedAt: Date;
  updatedAt: Date;
}

/** What a user may see of a connection: never a token. */
export interface ConnectedAccountSummary {
  provider: string;
  login: string;
  scopes: string[];
  status: AccountStatus;
  connectedAt: Date;
}

export interface NewAccount {
  userId: string;
  provider: string;
  externalId: string;
  login: string;
  scopes: string[];
  tokens: TokenPair;
  accessExpiresAt: Date | undefined;
  refreshExpiresAt: Date | undefined;
}

export interface TokenUpdate {
  tokens: TokenPair;
  accessExpiresAt: Date | undefined;
  refreshExpiresAt: Date | undefined;
  /** Replaces the stored scopes when the provider said which were granted. */
  scopes: string[] | undefined;
}

/** An OAuth flow in progress, as stored: the verifier still encrypted. */
export interface StateRecord {
  stateHash: string;
  userId: string;
  provider: string;
  keyId: string;
  codeVerifierCt: string;
  returnTo: string;
  /** The callback URL the flow was begun with; null: the provider's default (flows from before migration 002). */
  redirectUri: string | null;
  expiresAt: Date;
  createdAt: Date;
}

const ACCOUNT_COLUMNS = `user_id AS "userId", provider, external_id AS "externalId", login, scopes, status,
  key_id AS "keyId", access_token_ct AS "accessTokenCt", refresh_token_ct AS "refreshTokenCt",
  access_expires_at AS "accessExpiresAt", refresh_expires_at AS "refreshExpiresAt",
  connected_at AS "connectedAt", updated_at AS "updatedAt"`;
const STATE_COLUMNS = `state_hash AS "stateHash", user_id AS "userId", provider, key_id AS "keyId",
  code_verifier_ct AS "codeVerifierCt", return_to AS "returnTo", redirect_uri AS "redirectUri", expires_at AS "expiresAt",
  created_at AS "createdAt"`;

export class AccountStore {
  private readonly ring: () => KeyRing;

  /**
   * `keys` may be a function: it is then asked at each use, so a key ring re-read from
   * TOKEN_ENCRYPTION_KEYS_FILE while running encrypts under its new first key from then on.
   */
  constructor(
    readonly sql: Sql,
    keys: KeyRing | (() => KeyRing),
    private readonly now: () => number = Date.now,
  ) {
    this.ring = typeof keys === 'function' ? keys : () => keys;
  }

  /** The key ring as it is now. */
  get keys(): KeyRing {
    return this.ring();
  }

  /** The connection, or undefined. With `forUpdate` (inside a transaction) the row stays locked until it ends. */
  async getAccount(
    userId: string,
    provider: string,
    options: { on?: SqlExecutor; forUpdate?: boolean } = {},
  ): Promise<AccountRecord | undefined> {
    const { rows } = await (options.on ?? this.sql).query<AccountRecord>(
      `SELECT ${ACCOUNT_COLUMNS} FROM connected_accounts WHERE user_id = $1 AND provider = $2${
        options.forUpdate ? ' FOR UPDATE' : ''
      }`,
      [userId, provider],
    );
    return rows[0];
  }

  /** The user's connections, by provider, without tokens. */
  async listAccounts(userId: string): Promise<ConnectedAccountSummary[]> {
    const { rows } = await this.sql.query<ConnectedAccountSummary>(
      `SELECT provider, login, scopes, status, connected_at AS "connectedAt"
         FROM connected_accounts WHERE user_id = $1 ORDER BY provider`,
      [userId],
    );
    return rows;
  }

  /** Decrypts the row's tokens. */
  readTokens(record: AccountRecord): TokenPair {
    return {
      accessToken: this.keys.decrypt(record.accessTokenCt, accountContext(record, 'access_token')),
      refreshToken:
        record.refreshTokenCt === null
          ? undefined
          : this.keys.decrypt(record.refreshTokenCt, accountContext(record, 'refresh_token')),
    };
  }

  /** Stores a new connection, or replaces the user's connection to that provider (status ACTIVE). */
  async saveAccount(account: NewAccount, on: SqlExecutor = this.sql): Promise<void> {
    const at = new Date(this.now());
    const cts = this.encryptTokens(account, account.tokens);
    await on.query(
      `INSERT INTO connected_accounts (user_id, provider, external_id, login, scopes, status, key_id,
         access_token_ct, refresh_token_ct, access_expires_at, refresh_expires_at, connected_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, 'ACTIVE', $6, $7, $8, $9, $10, $11, $11)
       ON CONFLICT (user_id, provider) DO UPDATE SET
         external_id = EXCLUDED.external_id, login = EXCLUDED.login, scopes = EXCLUDED.scopes,
         status = 'ACTIVE', key_id = EXCLUDED.key_id, access_token_ct = EXCLUDED.access_token_ct,
         refresh_token_ct = EXCLUDED.refresh_token_ct, access_expires_at = EXCLUDED.access_expires_at,
         refresh_expires_at = EXCLUDED.refresh_expires_at, connected_at = EXCLUDED.connected_at,
         updated_at = EXCLUDED.updated_at`,
      [
        account.userId,
        account.provider,
        account.externalId,
        account.login,
        account.scopes,
        cts.keyId,
        cts.access,
        cts.refresh,
        account.accessExpiresAt ?? null,
        account.refreshExpiresAt ?? null,
        at,
      ],
    );
  }

  /** Replaces the tokens of a connection after a refresh (re-encrypting both under the first key). */
  async updateTokens(userId: string, provider: string, update: TokenUpdate, on: SqlExecutor): Promise<void> {
    const cts = this.encryptTokens({ userId, provider }, update.tokens);
    await on.query(
      `UPDATE connected_accounts SET key_id = $3, access_token_ct = $4, refresh_token_ct = $5,
         access_expires_at = $6, refresh_expires_at = $7, scopes = COALESCE($8, scopes), updated_at = $9
       WHERE user_id = $1 AND provider = $2`,
      [
        userId,
        provider,
        cts.keyId,
        cts.access,
        cts.refresh,
        update.accessExpiresAt ?? null,
        update.refreshExpiresAt ?? null,
        update.scopes ?? null,
        new Date(this.now()),
      ],
    );
  }

  async setStatus(userId: string, provider: string, status: AccountStatus, on: SqlExecutor = this.sql) {
    await on.query(
      'UPDATE connected_accounts SET status = $3, updated_at = $4 WHERE user_id = $1 AND provider = $2',
      [userId, provider, status, new Date(this.now())],
    );
  }

  /** The users connected to the provider account `externalId` (at most `limit`, a bound on what a webhook can make us do). */
  async usersByExternalId(provider: string, externalId: string, limit = 1_000): Promise<string[]> {
    const { rows } = await this.sql.query<{ userId: string }>(
      `SELECT user_id AS "userId" FROM connected_accounts WHERE provider = $1 AND external_id = $2
        ORDER BY user_id LIMIT $3`,
      [provider, externalId, limit],
    );
    return rows.map((r) => r.userId);
  }

  /** Sets the status of every connection to the provider account `externalId`; returns the users changed. */
  async setStatusByExternalId(
    provider: string,
    externalId: string,
    status: AccountStatus,
  ): Promise<string[]> {
    const { rows } = await this.sql.query<{ userId: string }>(
      `UPDATE connected_accounts SET status = $3, updated_at = $4
        WHERE provider = $1 AND external_id = $2 AND status <> $3 RETURNING user_id AS "userId"`,
      [provider, externalId, status, new Date(this.now())],
    );
    return rows.map((r) => r.userId);
  }

  /** Deletes the connection; true when there was one. */
  async deleteAccount(userId: string, provider: string): Promise<boolean> {
    const { rowCount } = await this.sql.query(
      'DELETE FROM connected_accounts WHERE user_id = $1 AND provider = $2',
      [userId, provider],
    );
    return rowCount > 0;
  }

  /**
   * Records a flow in progress. Expired states are swept first, and a user keeps at most
   * `maxPerUser` pending flows (the oldest go), so asking again and again cannot grow the table.
   */
  async insertState(
    state: {
      stateHash: string;
      userId: string;
      provider: string;
      codeVerifier: string;
      returnTo: string;
      redirectUri?: string | undefined;
    },
    options: { ttlMs: number; maxPerUser: number },
  ): Promise<void> {
    const now = this.now();
    const keys = this.keys; // one ring for the ciphertext and the key id stored beside it
    const verifierCt = keys.encrypt(state.codeVerifier, stateContext(state));
    await this.sql.transaction(async (tx) => {
      await tx.query('DELETE FROM oauth_states WHERE expires_at <= $1', [new Date(now)]);
      await tx.query(
        `DELETE FROM oauth_states WHERE state_hash IN (
           SELECT state_hash FROM oauth_states WHERE user_id = $1
            ORDER BY created_at DESC, state_hash OFFSET $2)`,
        [state.userId, Math.max(0, options.maxPerUser - 1)],
      );
      await tx.query(
        `INSERT INTO oauth_states (state_hash, user_id, provider, key_id, code_verifier_ct, return_to,
           redirect_uri, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [
          state.stateHash,
          state.userId,
          state.provider,
          keys.primary.id,
          verifierCt,
          state.returnTo,
          state.redirectUri ?? null,
          new Date(now + options.ttlMs),
          new Date(now),
        ],
      );
    });
  }

  /**
   * Takes a state out: at most one caller ever gets a given state back (DELETE ... RETURNING),
   * however many callbacks race with it. Expired or not, it is gone afterwards.
   */
  async takeState(stateHash: string): Promise<StateRecord | undefined> {
    const { rows } = await this.sql.query<StateRecord>(
      `DELETE FROM oauth_states WHERE state_hash = $1 RETURNING ${STATE_COLUMNS}`,
      [stateHash],
    );
    return rows[0];
  }

  readVerifier(state: StateRecord): string {
    return this.keys.decrypt(state.codeVerifierCt, stateContext(state));
  }

  private encryptTokens(row: { userId: string; provider: string }, tokens: TokenPair) {
    const keys = this.keys; // one ring for both ciphertexts and the key id stored beside them
    return {
      keyId: keys.primary.id,
      access: keys.encrypt(tokens.accessToken, accountContext(row, 'access_token')),
      refresh:
        tokens.refreshToken === undefined
          ? null
          : keys.encrypt(tokens.refreshToken, accountContext(row, 'refresh_token')),
    };
  }
}

/** Authenticated data of a connection's token: table, user, provider and column. */
export function accountContext(
  row: { userId: string; provider: string },
  column: 'access_token' | 'refresh_token',
): CipherContext {
  return ['connected_accounts', row.userId, row.provider, column];
}

/** Authenticated data of a flow's verifier: table, state hash, user and provider. */
export function stateContext(row: { stateHash: string; userId: string; provider: string }): CipherContext {
  return ['oauth_states', row.stateHash, row.userId, row.provider, 'code_verifier'];
}
