// `npm run accounts:reencrypt [-- --batch-size 100]`: moves every stored token and verifier to the
// first key of TOKEN_ENCRYPTION_KEYS, so the other keys can then be removed. Safe while Junction
// runs on PostgreSQL (row locks; a refresh meanwhile writes under the first key itself) and safe to
// run again. On the embedded PGlite database, stop Junction first (one process per directory).
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openAccountsDatabase } from '../accounts/connectedAccounts.js';
import { KeyRing } from '../accounts/crypto.js';
import { isDatabaseInUseError } from '../accounts/database.js';
import { demoKeyRing } from '../accounts/demoKey.js';
import { keyUsage, reencryptAll } from '../accounts/reencrypt.js';
import { AccountStore } from '../accounts/store.js';
import { ConfigError, loadConfig } from '../config.js';
import { demoStateDir, openDemoState } from '../demoState.js';

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { 'batch-size': { type: 'string', default: '100' } } });
  const batchSize = Number(values['batch-size']);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
    console.error(`--batch-size: expected an integer 1..10000, got ${JSON.stringify(values['batch-size'])}`);
    return 2;
  }
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 1;
    }
    throw error;
  }
  const dir = demoStateDir(process.env);
  const keys = config.accounts.encryptionKeys
    ? new KeyRing(config.accounts.encryptionKeys.current())
    : demoKeyRing(openDemoState(dir));
  let sql: Awaited<ReturnType<typeof openAccountsDatabase>>;
  try {
    sql = await openAccountsDatabase({
      databaseUrl: config.accounts.databaseUrl,
      pgliteDir: join(dir, 'pglite'),
    });
  } catch (error) {
    if (isDatabaseInUseError(error)) {
      console.error(error.message);
      return 1;
    }
    throw error;
  }
  try {
    const store = new AccountStore(sql, keys);
    const before = await keyUsage(store);
    const result = await reencryptAll(store, { batchSize });
    const after = await keyUsage(store);
    const show = (usage: Record<string, number>) =>
      Object.entries(usage)
        .map(([id, n]) => `${id}=${n}`)
        .join(' ') || 'no rows';
    console.log(`rows per key before: ${show(before)}`);
    console.log(
      `moved to key ${keys.primary.id}: ${result.accounts} connections, ${result.states} pending states`,
    );
    console.log(`rows per key after: ${show(after)}`);
    if (result.failed > 0) {
      console.error(
        `${result.failed} rows could not be decrypted with TOKEN_ENCRYPTION_KEYS (their key is missing): left unchanged`,
      );
      return 1;
    }
    return 0;
  } finally {
    await sql.close();
  }
}

process.exitCode = await main();
