// Tokens at rest, with a real GitHub connection on PostgreSQL: no row holds a token in clear, and a
// key rotation (new key first, `npm run accounts:reencrypt`, old key removed) keeps the connection
// working through GraphQL at every step.
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAccountsDatabase, openOnFirstUse } from '../../src/accounts/connectedAccounts.js';
import { generateKeyText, KeyRing } from '../../src/accounts/crypto.js';
import { type App, buildApp } from '../../src/app.js';
import { createLogger } from '../../src/observability/logger.js';
import { connectGitHub } from '../helpers/connect.js';
import { type Harness, startHarness } from '../helpers/harness.js';
import { createTestDatabase, type TestDatabase } from '../unit/accounts/support/databases.js';
import { dumpAccountTables } from '../unit/accounts/support/fixture.js';

const NAMES = '{ me { github { login repositories(first: 5) { nodes { name } } } } }';

describe('GitHub tokens at rest (PostgreSQL)', () => {
  let db: TestDatabase;
  let h: Harness;
  const k1 = generateKeyText('k1');
  const k2 = generateKeyText('k2');
  const database = () =>
    openOnFirstUse('postgres', () => openAccountsDatabase({ databaseUrl: db.url, pgliteDir: '' }));

  /** Another Junction over the same simulators and database, with key ring `keys`. */
  async function junctionWith(keys: string): Promise<{ app: App; url: string }> {
    const app = await buildApp({
      config: h.config,
      endpoints: h.endpoints,
      logger: createLogger('silent'),
      accounts: { database: database(), keys: KeyRing.fromText(keys) },
    });
    await app.server.listen({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${(app.server.server.address() as { port: number }).port}`;
    app.setPublicBaseUrl(url);
    return { app, url };
  }
  const ask = async (url: string, token: string) =>
    (await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: NAMES }),
    }).then((r) => r.json())) as { data?: { me: { github: { login: string } | null } }; errors?: any[] };

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    h = await startHarness({
      github: { autoApprove: true },
      accountKeys: KeyRing.fromText(k1),
      accountsDatabase: database(),
    });
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    await db?.drop();
  });

  it('stores no token in clear: a dump of the tables shows neither the access nor the refresh token', async () => {
    const login = h.github.addAccount({ login: 'octo-at-rest' }).login;
    await connectGitHub(h, 'usr_0400', login);
    const row = (await h.app.accounts.store.getAccount('usr_0400', 'github'))!;
    const { accessToken, refreshToken } = h.app.accounts.store.readTokens(row);
    expect(h.github.quota(accessToken)).toBeDefined(); // real tokens the simulator issued
    const dump = await dumpAccountTables(h.app.accounts.store.sql);
    expect(dump).toContain('usr_0400');
    expect(dump).not.toContain(accessToken);
    expect(dump).not.toContain(refreshToken!);
    expect(dump).not.toMatch(/gh[ur]_[A-Za-z0-9]{20,}/); // no GitHub token of any user
    expect(row.accessTokenCt).toMatch(/^v1\.k1\./);
  });

  it('keeps the connection working through a key rotation and accounts:reencrypt', async () => {
    const login = h.github.addAccount({ login: 'octo-rotation' }).login;
    await connectGitHub(h, 'usr_0401', login);
    const token = await h.token('usr_0401');

    // 1. The new key first, the old one still there: new writes use k2, old rows still decrypt.
    const both = await junctionWith(`${k2},${k1}`);
    try {
      expect((await ask(both.url, token)).data?.me.github?.login).toBe(login);
    } finally {
      await both.app.close();
    }

    // 2. Every row moves to k2.
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'src/cli/reencrypt.ts', '--batch-size', '2'],
      {
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '/tmp',
          DATABASE_URL: db.url!,
          TOKEN_ENCRYPTION_KEYS: `${k2},${k1}`,
        },
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('rows per key after: k2=');
    const { rows } = await h.app.accounts.store.sql.query<{ keyId: string }>(
      'SELECT DISTINCT key_id AS "keyId" FROM connected_accounts',
    );
    expect(rows).toEqual([{ keyId: 'k2' }]);

    // 3. The old key removed: the connection still works.
    const onlyNew = await junctionWith(k2);
    try {
      const res = await ask(onlyNew.url, token);
      expect(res.errors).toBeUndefined();
      expect(res.data?.me.github?.login).toBe(login);
    } finally {
      await onlyNew.app.close();
    }
  }, 90_000);
});
