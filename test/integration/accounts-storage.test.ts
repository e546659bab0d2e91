// Tokens at rest, on PGlite and PostgreSQL: no token, state or verifier appears in clear in any
// column; a ciphertext moved to another row does not decrypt; a key rotation with re-encryption
// (in process and through `npm run accounts:reencrypt`) keeps every connection working; disconnect
// revokes and deletes; the embedded database survives a restart and refuses a second process.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConnectedAccounts } from '../../src/accounts/connectedAccounts.js';
import { generateKeyText, KeyRing } from '../../src/accounts/crypto.js';
import { isDatabaseInUseError, openPglite } from '../../src/accounts/database.js';
import { isAccountErrorCode } from '../../src/accounts/errors.js';
import { migrate } from '../../src/accounts/migrate.js';
import { keyUsage, reencryptAll } from '../../src/accounts/reencrypt.js';
import { parseReturnUrlRules } from '../../src/accounts/returnTo.js';
import type { StateRecord } from '../../src/accounts/store.js';
import { ENGINES, freshPgliteDir } from '../unit/accounts/support/databases.js';
import { startFakeOAuthServer } from '../unit/accounts/support/fakeOAuthServer.js';
import {
  createFixture,
  dumpAccountTables,
  type Fixture,
  RETURN_URLS,
} from '../unit/accounts/support/fixture.js';

const HOUR = 3600 * 1000;
const keyA = generateKeyText('A');
const keyB = generateKeyText('B');

describe.each(ENGINES)('tokens at rest on %s', (engine) => {
  let f: Fixture;
  beforeAll(async () => {
    f = await createFixture(engine, { keys: KeyRing.fromText(keyA) });
  }, 60_000); // a cold PGlite directory takes seconds on a busy machine
  afterAll(async () => {
    await f?.close();
  });
  beforeEach(async () => {
    await f.sql.query('DELETE FROM connected_accounts');
    await f.sql.query('DELETE FROM oauth_states');
    f.oauth.resetCounts();
  });

  it('a dump of every column of every row shows no token, state or verifier', async () => {
    for (const user of ['usr_1', 'usr_2', 'usr_3']) expect((await f.connect(user)).ok).toBe(true);
    f.clock.advance(HOUR + 1);
    await f.accounts.getAccessToken('usr_1', 'fake'); // a rotated pair is stored too
    const pending = await f.accounts.begin('usr_4', 'fake');
    const state = new URL(pending.authorizationUrl).searchParams.get('state')!;
    const { rows } = await f.sql.query<StateRecord>(
      'SELECT state_hash AS "stateHash", user_id AS "userId", provider, code_verifier_ct AS "codeVerifierCt" FROM oauth_states',
    );
    const verifier = f.accounts.store.readVerifier(rows[0]!);

    const dump = await dumpAccountTables(f.sql);
    expect(dump).toContain('usr_1'); // the dump does hold the rows
    expect(f.oauth.issued.length).toBeGreaterThanOrEqual(8);
    for (const secret of [...f.oauth.issued, state, verifier]) expect(dump).not.toContain(secret);
    // Nor in base64 or hex, in case a column held the bytes.
    for (const secret of f.oauth.issued) {
      expect(dump).not.toContain(Buffer.from(secret).toString('base64').slice(0, 24));
      expect(dump).not.toContain(Buffer.from(secret).toString('hex').slice(0, 24));
    }
  });

  it('a ciphertext copied into another row does not decrypt there', async () => {
    expect((await f.connect('usr_1')).ok).toBe(true);
    expect((await f.connect('usr_2')).ok).toBe(true);
    await f.sql.query(
      `UPDATE connected_accounts SET access_token_ct =
         (SELECT access_token_ct FROM connected_accounts WHERE user_id = 'usr_1') WHERE user_id = 'usr_2'`,
    );
    const error = await f.accounts.getAccessToken('usr_2', 'fake').catch((e: unknown) => e);
    expect(isAccountErrorCode(error, 'TOKEN_DECRYPT_FAILED')).toBe(true);
    expect((error as Error).message).not.toContain(f.oauth.grants[0]!.accessToken);
    await f.sql.query(
      `UPDATE connected_accounts SET refresh_token_ct = access_token_ct WHERE user_id = 'usr_1'`,
    );
    f.clock.advance(HOUR + 1);
    await expect(f.accounts.getAccessToken('usr_1', 'fake')).rejects.toMatchObject({
      code: 'TOKEN_DECRYPT_FAILED',
    });
  });

  it('rotation: rows under A, ring "B,A" reads them and writes under B, reencrypt moves the rest, ring "B" alone reads all', async () => {
    for (const user of ['usr_1', 'usr_2', 'usr_3', 'usr_4', 'usr_5'])
      expect((await f.connect(user)).ok).toBe(true);
    const pending = await f.accounts.begin('usr_6', 'fake');
    const tokensBefore = await Promise.all(
      ['usr_1', 'usr_2', 'usr_3', 'usr_4', 'usr_5'].map((u) => f.accounts.getAccessToken(u, 'fake')),
    );
    expect(await keyUsage(f.accounts.store)).toEqual({ A: 6 });

    const rotated = f.make({ keys: KeyRing.fromText(`${keyB},${keyA}`) });
    expect(await rotated.getAccessToken('usr_1', 'fake')).toBe(tokensBefore[0]);
    f.clock.advance(HOUR + 1);
    const refreshed = await rotated.getAccessToken('usr_1', 'fake'); // written under B
    expect(await keyUsage(rotated.store)).toEqual({ A: 5, B: 1 });

    expect(await reencryptAll(rotated.store, { batchSize: 2 })).toEqual({
      accounts: 4,
      states: 1,
      failed: 0,
    });
    expect(await keyUsage(rotated.store)).toEqual({ B: 6 });
    expect(await reencryptAll(rotated.store)).toEqual({ accounts: 0, states: 0, failed: 0 });

    f.clock.advance(-HOUR); // back before expiry: read the stored tokens, no refresh
    const onlyB = f.make({ keys: KeyRing.fromText(keyB) });
    const after = await Promise.all(
      ['usr_1', 'usr_2', 'usr_3', 'usr_4', 'usr_5'].map((u) => onlyB.getAccessToken(u, 'fake')),
    );
    expect(after).toEqual([refreshed, ...tokensBefore.slice(1)]);
    // The flow begun under A completes under B alone.
    const outcome = await onlyB.complete(
      'fake',
      await f.oauth.consent(pending.authorizationUrl, { login: 'z' }),
    );
    expect(outcome.ok).toBe(true);
    // And key A alone can read nothing any more.
    await expect(f.accounts.getAccessToken('usr_2', 'fake')).rejects.toMatchObject({
      code: 'TOKEN_DECRYPT_FAILED',
    });
  });

  it('reencrypt counts rows whose key is missing from the ring and leaves them as they are', async () => {
    expect((await f.connect('usr_1')).ok).toBe(true);
    const onlyB = f.make({ keys: KeyRing.fromText(keyB) });
    expect(
      (await f.make({ keys: KeyRing.fromText(keyB) }).begin('usr_2', 'fake')).authorizationUrl,
    ).toBeTruthy();
    expect(await reencryptAll(onlyB.store, { batchSize: 1 })).toEqual({ accounts: 0, states: 0, failed: 1 });
    expect(await keyUsage(onlyB.store)).toEqual({ A: 1, B: 1 });
  });

  it('disconnect revokes the grant at the provider and deletes the row', async () => {
    expect((await f.connect('usr_1', 'octocat')).ok).toBe(true);
    const grant = f.oauth.grants.at(-1)!;
    expect(await f.accounts.disconnect('usr_1', 'fake')).toEqual({ disconnected: true, revoked: true });
    expect(grant.revoked).toBe(true);
    expect(f.oauth.counts.revocations).toBe(1);
    expect(await f.accounts.list('usr_1')).toEqual([]);
    await expect(f.accounts.getAccessToken('usr_1', 'fake')).rejects.toMatchObject({
      code: 'ACCOUNT_NOT_CONNECTED',
    });
    expect(await f.accounts.disconnect('usr_1', 'fake')).toEqual({ disconnected: false, revoked: false });
  });

  it('disconnect deletes the row even when the provider cannot be reached, and says so', async () => {
    expect((await f.connect('usr_1')).ok).toBe(true);
    const unreachable = f.make({
      providers: [f.oauth.spec(undefined, { revoke: async () => Promise.reject(new Error('ECONNREFUSED')) })],
    });
    expect(await unreachable.disconnect('usr_1', 'fake')).toEqual({ disconnected: true, revoked: false });
    expect(await f.accounts.list('usr_1')).toEqual([]);
  });
});

describe('npm run accounts:reencrypt', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await createFixture('postgres', { keys: KeyRing.fromText(keyA) });
  }, 60_000); // a cold PGlite directory takes seconds on a busy machine
  afterAll(async () => {
    await f?.close();
  });

  const run = (env: Record<string, string>) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/reencrypt.ts', '--batch-size', '2'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'silent', ...env },
      encoding: 'utf8',
      timeout: 60_000,
    });

  it('moves every row of a PostgreSQL database to the first key; the old key can then go', async () => {
    for (const user of ['usr_1', 'usr_2', 'usr_3']) expect((await f.connect(user)).ok).toBe(true);
    await f.accounts.begin('usr_4', 'fake');
    const tokens = await Promise.all(
      ['usr_1', 'usr_2', 'usr_3'].map((u) => f.accounts.getAccessToken(u, 'fake')),
    );
    const result = run({ DATABASE_URL: f.db.url!, TOKEN_ENCRYPTION_KEYS: `${keyB},${keyA}` });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('rows per key before: A=4');
    expect(result.stdout).toContain('moved to key B: 3 connections, 1 pending states');
    expect(result.stdout).toContain('rows per key after: B=4');
    // The output names no key material and no database password.
    expect(result.stdout).not.toContain(keyB.split(':')[1]!);
    const onlyB = f.make({ keys: KeyRing.fromText(keyB) });
    expect(
      await Promise.all(['usr_1', 'usr_2', 'usr_3'].map((u) => onlyB.getAccessToken(u, 'fake'))),
    ).toEqual(tokens);
    // Idempotent.
    const again = run({ DATABASE_URL: f.db.url!, TOKEN_ENCRYPTION_KEYS: `${keyB},${keyA}` });
    expect(again.status).toBe(0);
    expect(again.stdout).toContain('moved to key B: 0 connections, 0 pending states');
  }, 90_000);

  it('exits 1 naming the problem when a row’s key is missing from the ring', () => {
    const keyC = generateKeyText('C');
    const result = run({ DATABASE_URL: f.db.url!, TOKEN_ENCRYPTION_KEYS: `${keyC}` });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('4 rows could not be decrypted with TOKEN_ENCRYPTION_KEYS');
  }, 60_000);

  it('on the embedded database: refuses while another process has it open, works once it is closed', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'junction-state-'));
    const oauth = await startFakeOAuthServer();
    try {
      const sql = await openPglite(await freshPgliteDir(join(stateDir, 'pglite')));
      await migrate(sql);
      const accounts = new ConnectedAccounts({
        sql,
        keys: KeyRing.fromText(keyA),
        providers: [oauth.spec()],
        returnUrls: parseReturnUrlRules(RETURN_URLS),
      });
      const { authorizationUrl } = await accounts.begin('usr_1', 'fake');
      expect(
        (await accounts.complete('fake', await oauth.consent(authorizationUrl, { login: 'a' }))).ok,
      ).toBe(true);
      const env = { JUNCTION_STATE_DIR: stateDir, TOKEN_ENCRYPTION_KEYS: `${keyB},${keyA}` };
      const busy = run(env);
      expect(busy.status).toBe(1);
      expect(busy.stderr).toContain('the embedded database is open in another process');
      await accounts.close();
      const done = run(env);
      expect(done.stderr).toBe('');
      expect(done.stdout).toContain('moved to key B: 1 connections, 0 pending states');
      expect(done.status).toBe(0);
    } finally {
      await oauth.close();
      rmSync(stateDir, { recursive: true, force: true });
    }
  }, 90_000);
});

describe('the embedded database', () => {
  it('keeps connections across a restart, and one process at a time', async () => {
    const dir = await freshPgliteDir(mkdtempSync(join(tmpdir(), 'junction-pglite-')));
    const oauth = await startFakeOAuthServer();
    const keys = KeyRing.fromText(keyA);
    const open = async () => {
      const sql = await openPglite(dir);
      await migrate(sql);
      return new ConnectedAccounts({
        sql,
        keys,
        providers: [oauth.spec()],
        returnUrls: parseReturnUrlRules(RETURN_URLS),
      });
    };
    try {
      const first = await open();
      const { authorizationUrl } = await first.begin('usr_1', 'fake');
      expect((await first.complete('fake', await oauth.consent(authorizationUrl, { login: 'a' }))).ok).toBe(
        true,
      );
      const error = await openPglite(dir).catch((e: unknown) => e);
      expect(isDatabaseInUseError(error)).toBe(true);
      await first.close();
      const second = await open();
      expect(await second.getAccessToken('usr_1', 'fake')).toBe(oauth.grants[0]!.accessToken);
      await second.close();
    } finally {
      await oauth.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
