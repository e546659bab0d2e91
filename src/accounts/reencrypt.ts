// Moves every stored ciphertext to the key ring's first key, in batches, each batch one
// transaction holding its rows' locks (a refresh running meanwhile waits, then writes under the
// first key itself). Idempotent: rows already on the first key are not touched, so it can be run
// again after an interruption. Rows whose key is no longer in the ring are counted, not changed.
import { isAccountError } from './errors.js';
import {
  type AccountRecord,
  type AccountStore,
  accountContext,
  type StateRecord,
  stateContext,
} from './store.js';

export interface ReencryptResult {
  /** Connections moved to the first key. */
  accounts: number;
  /** Pending OAuth states moved to the first key. */
  states: number;
  /** Rows that could not be decrypted with any key of the ring (left as they are). */
  failed: number;
}

export interface ReencryptOptions {
  /** Rows per transaction. Default 100. */
  batchSize?: number;
}

export async function reencryptAll(
  store: AccountStore,
  options: ReencryptOptions = {},
): Promise<ReencryptResult> {
  const batchSize = options.batchSize ?? 100;
  const { keys, sql } = store;
  const primary = keys.primary.id;
  const result: ReencryptResult = { accounts: 0, states: 0, failed: 0 };

  let after: [string, string] = ['', ''];
  for (;;) {
    const batch = await sql.transaction(async (tx) => {
      const { rows } = await tx.query<
        Pick<AccountRecord, 'userId' | 'provider' | 'accessTokenCt' | 'refreshTokenCt'>
      >(
        `SELECT user_id AS "userId", provider, access_token_ct AS "accessTokenCt", refresh_token_ct AS "refreshTokenCt"
           FROM connected_accounts WHERE key_id <> $1 AND (user_id, provider) > ($2, $3)
          ORDER BY user_id, provider LIMIT $4 FOR UPDATE`,
        [primary, after[0], after[1], batchSize],
      );
      for (const row of rows) {
        try {
          const access = keys.encrypt(
            keys.decrypt(row.accessTokenCt, accountContext(row, 'access_token')),
            accountContext(row, 'access_token'),
          );
          const refresh =
            row.refreshTokenCt === null
              ? null
              : keys.encrypt(
                  keys.decrypt(row.refreshTokenCt, accountContext(row, 'refresh_token')),
                  accountContext(row, 'refresh_token'),
                );
          await tx.query(
            `UPDATE connected_accounts SET key_id = $3, access_token_ct = $4, refresh_token_ct = $5
              WHERE user_id = $1 AND provider = $2`,
            [row.userId, row.provider, primary, access, refresh],
          );
          result.accounts++;
        } catch (error) {
          if (!isAccountError(error)) throw error;
          result.failed++;
        }
      }
      return rows;
    });
    const last = batch.at(-1);
    if (!last) break;
    after = [last.userId, last.provider];
  }

  let afterState = '';
  for (;;) {
    const batch = await sql.transaction(async (tx) => {
      const { rows } = await tx.query<StateRecord>(
        `SELECT state_hash AS "stateHash", user_id AS "userId", provider, code_verifier_ct AS "codeVerifierCt"
           FROM oauth_states WHERE key_id <> $1 AND state_hash > $2 ORDER BY state_hash LIMIT $3 FOR UPDATE`,
        [primary, afterState, batchSize],
      );
      for (const row of rows) {
        try {
          const verifier = keys.encrypt(
            keys.decrypt(row.codeVerifierCt, stateContext(row)),
            stateContext(row),
          );
          await tx.query('UPDATE oauth_states SET key_id = $2, code_verifier_ct = $3 WHERE state_hash = $1', [
            row.stateHash,
            primary,
            verifier,
          ]);
          result.states++;
        } catch (error) {
          if (!isAccountError(error)) throw error;
          result.failed++;
        }
      }
      return rows;
    });
    const last = batch.at(-1);
    if (!last) break;
    afterState = last.stateHash;
  }
  return result;
}

/** Key ids in use, with how many rows each: what `accounts:reencrypt` reports before and after. */
export async function keyUsage(store: AccountStore): Promise<Record<string, number>> {
  const { rows } = await store.sql.query<{ keyId: string; count: string | number }>(
    `SELECT key_id AS "keyId", count(*) AS count FROM (
       SELECT key_id FROM connected_accounts UNION ALL SELECT key_id FROM oauth_states) AS k GROUP BY key_id`,
  );
  return Object.fromEntries(rows.map((r) => [r.keyId, Number(r.count)]));
}
