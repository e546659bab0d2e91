// One refresh however many operations need it, through GraphQL against the GitHub simulator (which
// rotates refresh tokens and revokes a grant whose spent refresh token is used again): 50
// concurrent operations of a user whose token expired cause exactly one refresh, on PGlite and on
// PostgreSQL, and still one when two Junction processes share the PostgreSQL database.
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openAccountsDatabase, openOnFirstUse } from '../../src/accounts/connectedAccounts.js';
import { generateKeyText, KeyRing } from '../../src/accounts/crypto.js';
import { plainValues } from '../../src/configSchema.js';
import { connectGitHub } from '../helpers/connect.js';
import { type Harness, startHarness } from '../helpers/harness.js';
import { createTestDatabase, ENGINES, type TestDatabase } from '../unit/accounts/support/databases.js';

const NAMES = `query Names($first: Int) { me { github { login repositories(first: $first) { nodes { name } } } } }`;

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

/** The user's token expires: at GitHub, and as Junction stored it (real time: other processes read it). */
async function expire(h: Harness, userId: string, login: string): Promise<void> {
  h.github.expireTokens(login);
  await h.app.accounts.store.sql.query(
    `UPDATE connected_accounts SET access_expires_at = now() - interval '1 minute' WHERE user_id = $1`,
    [userId],
  );
  h.app.cache.clear();
}

const refreshes = (h: Harness) =>
  h.github.requests.filter(
    (r) =>
      r.route === 'POST /login/oauth/access_token' &&
      new URLSearchParams(r.body).get('grant_type') === 'refresh_token',
  ).length;

describe.each(ENGINES)('token refresh through GraphQL on %s', (engine) => {
  let db: TestDatabase;
  let h: Harness;
  const keyText = generateKeyText('k1');
  beforeAll(async () => {
    db = await createTestDatabase(engine);
    h = await startHarness({
      github: { autoApprove: true },
      accountKeys: KeyRing.fromText(keyText),
      accountsDatabase: openOnFirstUse(engine, () =>
        openAccountsDatabase({ databaseUrl: db.url, pgliteDir: db.dir ?? '' }),
      ),
    });
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    await db?.drop();
  });

  it('50 concurrent operations with an expired token: one refresh, the refresh token rotates once', async () => {
    const login = h.github.addAccount({ login: `octo-refresh-${engine}` }).login;
    h.github.addRepository(login, { name: 'only' });
    await connectGitHub(h, 'usr_0300', login);
    const before = h.app.accounts.store.readTokens(
      (await h.app.accounts.store.getAccount('usr_0300', 'github'))!,
    );
    await expire(h, 'usr_0300', login);
    h.github.resetCounters();
    const issued = h.github.tokensIssued();

    const token = await h.token('usr_0300');
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => h.gql(NAMES, { token, variables: { first: 1 + (i % 5) } })),
    );
    for (const res of results) {
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data.me.github).toMatchObject({ login, repositories: { nodes: [{ name: 'only' }] } });
    }
    expect(refreshes(h)).toBe(1);
    expect(h.github.tokensIssued() - issued).toBe(1);
    const after = h.app.accounts.store.readTokens(
      (await h.app.accounts.store.getAccount('usr_0300', 'github'))!,
    );
    expect(after.refreshToken).not.toBe(before.refreshToken);
    expect(after.accessToken).not.toBe(before.accessToken);
    expect(h.github.quota(after.accessToken)).toBeDefined(); // the grant survived: no refresh token was replayed
    expect(h.github.quota(before.accessToken)).toBeUndefined();
  }, 60_000);

  it.runIf(engine === 'postgres')(
    'two Junction processes sharing PostgreSQL, 25 operations each: still one refresh',
    async () => {
      const login = h.github.addAccount({ login: 'octo-two-processes' }).login;
      h.github.addRepository(login, { name: 'only' });
      await connectGitHub(h, 'usr_0301', login);
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/junctionProcess.ts'], {
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '/tmp',
          NODE_ENV: 'test',
          LOG_LEVEL: 'silent',
          JWT_SECRET: h.jwtSecret,
          DATABASE_URL: db.url!,
          TOKEN_ENCRYPTION_KEYS: keyText,
          // Plain values: a Secret handle never serialises its value.
          JUNCTION_TEST_ENDPOINTS: JSON.stringify(
            Object.fromEntries(
              Object.entries(h.endpoints).map(([name, e]) => [
                name,
                { mode: e.mode, remote: plainValues(e.remote), settings: plainValues(e.settings) },
              ]),
            ),
          ),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let out = '';
      let err = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      const other = await new Promise<string>((resolve, reject) => {
        const check = setInterval(() => {
          const ready = /READY (\S+)\n/.exec(out);
          if (ready?.[1]) {
            clearInterval(check);
            resolve(ready[1]);
          } else if (child.exitCode !== null) {
            clearInterval(check);
            reject(new Error(`second Junction exited: ${err}`));
          }
        }, 20);
      });

      await expire(h, 'usr_0301', login);
      h.github.resetCounters();
      const token = await h.token('usr_0301');
      const ask = (base: string) =>
        fetch(`${base}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ query: NAMES, variables: { first: 1 } }),
        }).then(
          (r) => r.json() as Promise<{ data?: { me: { github: { login: string } } }; errors?: unknown }>,
        );
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => ask(i % 2 === 0 ? h.url : other)),
      );
      for (const res of results) {
        expect(res.errors).toBeUndefined();
        expect(res.data?.me.github.login).toBe(login);
      }
      // Both processes called GitHub with the user's token (each its own cache: one account read each)...
      expect(h.github.requests.filter((r) => r.route === 'GET /user')).toHaveLength(2);
      // ...and exactly one of them refreshed it.
      expect(refreshes(h)).toBe(1);
      const row = h.app.accounts.store.readTokens(
        (await h.app.accounts.store.getAccount('usr_0301', 'github'))!,
      );
      expect(h.github.quota(row.accessToken)).toBeDefined();
      child.kill('SIGTERM');
    },
    60_000,
  );
});
