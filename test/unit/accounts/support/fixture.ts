// One connected-accounts setup for a test: a database of the given engine (migrated), a fake OAuth
// provider, a key ring and a clock the test moves by hand.
import {
  ConnectedAccounts,
  type ConnectedAccountsOptions,
} from '../../../../src/accounts/connectedAccounts.js';
import { generateKeyText, KeyRing } from '../../../../src/accounts/crypto.js';
import type { Sql } from '../../../../src/accounts/database.js';
import { migrate } from '../../../../src/accounts/migrate.js';
import type { CallbackOutcome } from '../../../../src/accounts/oauth.js';
import { parseReturnUrlRules } from '../../../../src/accounts/returnTo.js';
import { createTestDatabase, type Engine, type TestDatabase } from './databases.js';
import { type FakeOAuthOptions, type FakeOAuthServer, startFakeOAuthServer } from './fakeOAuthServer.js';

export const APP_URL = 'https://app.example.com';
export const RETURN_URLS = `${APP_URL}/settings,http://127.0.0.1:4000/graphql`;

export interface Clock {
  now: () => number;
  advance(ms: number): void;
}

export function manualClock(start = Date.now()): Clock {
  let t = start;
  return {
    now: () => t,
    advance: (ms) => {
      t += ms;
    },
  };
}

export interface Fixture {
  db: TestDatabase;
  sql: Sql;
  oauth: FakeOAuthServer;
  keys: KeyRing;
  clock: Clock;
  accounts: ConnectedAccounts;
  /** Another ConnectedAccounts over the same tables (same connection), e.g. with another key ring. */
  make(overrides?: Partial<ConnectedAccountsOptions>): ConnectedAccounts;
  /** The whole flow: begin, consent at the provider as `login`, callback. */
  connect(userId: string, login?: string): Promise<CallbackOutcome>;
  close(): Promise<void>;
}

export async function createFixture(
  engine: Engine,
  options: { oauth?: FakeOAuthOptions; keys?: KeyRing } = {},
): Promise<Fixture> {
  const db = await createTestDatabase(engine);
  const sql = await db.open();
  await migrate(sql);
  const oauth = await startFakeOAuthServer(options.oauth);
  const keys = options.keys ?? KeyRing.fromText(generateKeyText('k1'));
  const clock = manualClock();
  const make = (overrides: Partial<ConnectedAccountsOptions> = {}) =>
    new ConnectedAccounts({
      sql,
      keys,
      providers: [oauth.spec()],
      returnUrls: parseReturnUrlRules(RETURN_URLS),
      now: clock.now,
      ...overrides,
    });
  const accounts = make();
  return {
    db,
    sql,
    oauth,
    keys,
    clock,
    accounts,
    make,
    async connect(userId, login = `gh-${userId}`) {
      const { authorizationUrl } = await accounts.begin(userId, 'fake', `${APP_URL}/settings/accounts`);
      return accounts.complete('fake', await oauth.consent(authorizationUrl, { login }));
    },
    async close() {
      await oauth.close();
      await sql.close();
      await db.drop();
    },
  };
}

/** Every column of every row of the accounts tables, as text (what a database dump shows). */
export async function dumpAccountTables(sql: Sql): Promise<string> {
  const out: string[] = [];
  for (const table of ['connected_accounts', 'oauth_states', 'schema_migrations']) {
    const { rows } = await sql.query<{ row: string }>(`SELECT t::text AS row FROM ${table} AS t`);
    out.push(...rows.map((r) => `${table}: ${r.row}`));
  }
  return out.join('\n');
}
