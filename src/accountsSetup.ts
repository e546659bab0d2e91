// Connected accounts as the application assembles them: the database (PostgreSQL from DATABASE_URL,
// opened and migrated at startup; or demo mode's embedded PGlite, opened on first use), the key
// ring (TOKEN_ENCRYPTION_KEYS, or demo mode's generated key), and ConnectedAccounts over every
// module of the registry that supports per-user OAuth. Provider clients are built before it (their
// OAuth specs use them) and reach users' credentials through `credentials`, which delegates to it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ConnectedAccounts, openAccountsDatabase, openOnFirstUse } from './accounts/connectedAccounts.js';
import { generateKeyText, KeyRing } from './accounts/crypto.js';
import type { Sql } from './accounts/database.js';
import { type DemoValues, demoKeyRing } from './accounts/demoKey.js';
import type { OAuthProviderSpec, UserCredentialSource } from './accounts/provider.js';
import type { AccountsConfig } from './config.js';
import { type Clients, type ProviderName, providerModules } from './providers/registry.js';
import type { ProviderEndpoints } from './services.js';

export interface AccountsOptions {
  /** An open database (tests); default: from the configuration. Closed with the accounts. */
  database?: Sql | undefined;
  /** The key ring (tests); default: TOKEN_ENCRYPTION_KEYS, else demo mode's generated key. */
  keys?: KeyRing | undefined;
  /**
   * Demo mode's state (demoState.ts): where the embedded database lives (`<dir>/pglite`) and the
   * demo key is kept. Without it (tests), a temporary directory and a key for this process only.
   */
  demoState?: (DemoValues & { readonly dir: string }) | undefined;
}

export interface AccountsSetup {
  /** What provider clients ask for a user's credential; valid once `connect` ran (before any request). */
  credentials: UserCredentialSource;
  /** Builds ConnectedAccounts over the OAuth-capable modules, from their clients. */
  connect(clients: Clients, endpoints: ProviderEndpoints): ConnectedAccounts;
  close(): Promise<void>;
}

export function prepareAccounts(
  config: AccountsConfig,
  options: AccountsOptions & { publicBaseUrl: () => string | undefined; logger: Logger },
): AccountsSetup {
  const { logger } = options;
  let scratch: string | undefined;
  let sql: Sql;
  if (options.database) {
    sql = options.database;
  } else if (config.databaseUrl !== undefined) {
    const url = config.databaseUrl;
    sql = openOnFirstUse('postgres', () =>
      openAccountsDatabase({
        databaseUrl: url,
        pgliteDir: '',
        onIdleError: (error) =>
          logger.warn({ err: error }, 'connected accounts: idle database connection failed'),
      }),
    );
    // Opened and migrated now, without holding startup: a database that is down fails only the
    // connected-accounts fields (the first use tries again), never the rest of the graph.
    sql.query('SELECT 1').then(
      () => logger.info('connected accounts: PostgreSQL ready (migrations applied)'),
      (error: unknown) =>
        logger.error({ err: error }, 'connected accounts: PostgreSQL unavailable; retried on first use'),
    );
  } else {
    const demoDir = options.demoState ? join(options.demoState.dir, 'pglite') : undefined;
    if (demoDir !== undefined)
      logger.info({ dir: demoDir }, 'connected accounts: embedded PGlite database, opened on first use');
    // Creating it takes seconds the first time: only once someone uses connected accounts.
    sql = openOnFirstUse('pglite', () => {
      if (demoDir === undefined) scratch ??= mkdtempSync(join(tmpdir(), 'junction-accounts-'));
      return openAccountsDatabase({ databaseUrl: undefined, pgliteDir: demoDir ?? scratch ?? '' });
    });
  }
  // A rotated TOKEN_ENCRYPTION_KEYS file is taken at once: the ring is read per use.
  const configuredRing = config.encryptionKeys?.map((keys) => new KeyRing(keys));
  const keys =
    options.keys ??
    (configuredRing
      ? () => configuredRing.current()
      : options.demoState
        ? demoKeyRing(options.demoState)
        : KeyRing.fromText(generateKeyText('ephemeral')));

  let accounts: ConnectedAccounts | undefined;
  const ready = (): ConnectedAccounts => {
    if (!accounts) throw new Error('connected accounts are used before they are built');
    return accounts;
  };
  const credentials: UserCredentialSource = {
    credential: (userId, provider, signal) => ready().credential(userId, provider, signal),
    markReconnectRequired: (userId, provider, used) => ready().markReconnectRequired(userId, provider, used),
    usersOfAccount: (provider, accountId) => ready().usersOfAccount(provider, accountId),
    markAccountRevoked: (provider, accountId) => ready().markAccountRevoked(provider, accountId),
  };

  return {
    credentials,
    connect(clients, endpoints) {
      const specs: OAuthProviderSpec[] = [];
      for (const module of providerModules) {
        const support = module.connectedAccounts;
        if (!support) continue;
        const name = module.name as ProviderName;
        specs.push(
          support.oauthSpec(endpoints[name], {
            client: clients[name],
            redirectUri: () => {
              const base = options.publicBaseUrl();
              if (base === undefined) throw new Error('Junction’s public URL is not known yet');
              return new URL(`/oauth/${module.name}/callback`, base).toString();
            },
          }),
        );
      }
      accounts = new ConnectedAccounts({
        sql,
        keys,
        providers: specs,
        returnUrls: config.returnUrls,
        stateTtlMs: config.stateTtlMs,
        refreshSkewMs: config.refreshSkewMs,
      });
      return accounts;
    },
    async close() {
      await sql.close();
      if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
    },
  };
}
