// Refresh of per-user tokens: once however many requests (and processes) need it, stored before it
// is used; a refused refresh or a 401 to the current token marks the connection RECONNECT_REQUIRED.
// Against a fake provider that rotates refresh tokens and revokes the grant when one is reused, on
// PGlite and PostgreSQL, and on PostgreSQL across two pools and two real processes.
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isAccountErrorCode } from '../../src/accounts/errors.js';
import { isUpstreamError } from '../../src/upstream/errors.js';
import { ENGINES } from '../unit/accounts/support/databases.js';
import { createFixture, type Fixture } from '../unit/accounts/support/fixture.js';

const HOUR = 3600 * 1000;

describe.each(ENGINES)('token refresh on %s', (engine) => {
  let f: Fixture;
  beforeAll(async () => {
    f = await createFixture(engine, { oauth: { refreshDelayMs: 50 } });
  }, 60_000); // a cold PGlite directory takes seconds on a busy machine
  afterAll(async () => {
    await f?.close();
  });
  beforeEach(async () => {
    await f.sql.query('DELETE FROM connected_accounts');
    f.oauth.resetCounts();
  });

  it('hands out the stored token while it is valid, without asking the provider', async () => {
    expect((await f.connect('usr_1')).ok).toBe(true);
    const grant = f.oauth.grants.at(-1)!;
    f.clock.advance(HOUR - 61_000); // still more than the 60 s skew left
    expect(await f.accounts.getAccessToken('usr_1', 'fake')).toBe(grant.accessToken);
    expect(f.oauth.counts.refreshes).toBe(0);
  });

  it('50 concurrent requests with an expired token: exactly one refresh, the refresh token rotates once, all get the new token', async () => {
    expect((await f.connect('usr_1')).ok).toBe(true);
    const grant = f.oauth.grants.at(-1)!;
    const before = grant.accessToken;
    f.clock.advance(HOUR + 1);
    const tokens = await Promise.all(
      Array.from({ length: 50 }, () => f.accounts.getAccessToken('usr_1', 'fake')),
    );
    expect(f.oauth.counts.refreshes).toBe(1);
    expect(grant.usedRefreshTokens.size).toBe(1);
    expect(grant.revoked).toBe(false);
    expect(new Set(tokens)).toEqual(new Set([grant.accessToken]));
    expect(grant.accessToken).not.toBe(before);
    // Stored before use: a fresh reader sees the new token, with its new expiry, and no refresh.
    expect(await f.make().getAccessToken('usr_1', 'fake')).toBe(grant.accessToken);
    expect(f.oauth.counts.refreshes).toBe(1);
  });

  it('refreshes within the skew (60 s before expiry), not only after it', async () => {
    expect((await f.connect('usr_1')).ok).toBe(true);
    f.clock.advance(HOUR - 59_000);
    expect(await f.accounts.getAccessToken('usr_1', 'fake')).toBe(f.oauth.grants.at(-1)!.accessToken);
    expect(f.oauth.counts.refreshes).toBe(1);
  });

  it('a refused refresh marks RECONNECT_REQUIRED; later calls answer that without asking the provider', async () => {
    expect((await f.connect('usr_1', 'mona')).ok).toBe(true);
    f.oauth.revokeUser('mona');
    f.clock.advance(HOUR + 1);
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () => f.accounts.getAccessToken('usr_1', 'fake')),
    );
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect(isAccountErrorCode((r as PromiseRejectedResult).reason, 'RECONNECT_REQUIRED')).toBe(true);
    }
    expect(f.oauth.counts.refreshes).toBe(1);
    await expect(f.accounts.getAccessToken('usr_1', 'fake')).rejects.toMatchObject({
      code: 'RECONNECT_REQUIRED',
    });
    expect(f.oauth.counts.refreshes).toBe(1);
    expect(await f.accounts.list('usr_1')).toMatchObject([
      { provider: 'fake', status: 'RECONNECT_REQUIRED' },
    ]);
  });

  it('a transient refresh failure keeps a token that has not expired yet, and fails once it has', async () => {
    expect((await f.connect('usr_1')).ok).toBe(true);
    const grant = f.oauth.grants.at(-1)!;
    const old = grant.accessToken;
    f.clock.advance(HOUR - 30_000); // inside the skew, not yet expired
    f.oauth.failTokenRequests(1, 503);
    expect(await f.accounts.getAccessToken('usr_1', 'fake')).toBe(old);
    f.clock.advance(60_000); // expired now
    f.oauth.failTokenRequests(1, 503);
    const error = await f.accounts.getAccessToken('usr_1', 'fake').catch((e: unknown) => e);
    expect(isUpstreamError(error) && error.code).toBe('UPSTREAM_UNAVAILABLE');
    expect((await f.accounts.list('usr_1'))[0]!.status).toBe('ACTIVE');
    // The provider is back: the next request refreshes.
    expect(await f.accounts.getAccessToken('usr_1', 'fake')).toBe(grant.accessToken);
    expect(grant.accessToken).not.toBe(old);
  });

  it('a 401 to the current token marks RECONNECT_REQUIRED; a 401 to a token already replaced does not', async () => {
    expect((await f.connect('usr_1')).ok).toBe(true);
    const first = await f.accounts.getAccessToken('usr_1', 'fake');
    f.clock.advance(HOUR + 1);
    const second = await f.accounts.getAccessToken('usr_1', 'fake');
    expect(second).not.toBe(first);
    expect(await f.accounts.markReconnectRequired('usr_1', 'fake', first)).toBe(false);
    expect(await f.accounts.getAccessToken('usr_1', 'fake')).toBe(second);
    expect(await f.accounts.markReconnectRequired('usr_1', 'fake', second)).toBe(true);
    await expect(f.accounts.getAccessToken('usr_1', 'fake')).rejects.toMatchObject({
      code: 'RECONNECT_REQUIRED',
    });
  });

  it('answers ACCOUNT_NOT_CONNECTED for a user without a connection', async () => {
    const error = await f.accounts.getAccessToken('usr_nobody', 'fake').catch((e: unknown) => e);
    expect(isAccountErrorCode(error, 'ACCOUNT_NOT_CONNECTED')).toBe(true);
  });

  // Needs a provider announcing refresh-token lifetimes: one more fixture, on PostgreSQL only (engine-independent).
  it.runIf(engine === 'postgres')(
    'a connection whose refresh token has expired needs reconnecting, without a doomed refresh',
    async () => {
      const g = await createFixture('postgres', {
        oauth: { refreshTtlSeconds: 7200 },
      });
      try {
        expect((await g.connect('usr_1')).ok).toBe(true);
        g.clock.advance(2 * HOUR + 1);
        await expect(g.accounts.getAccessToken('usr_1', 'fake')).rejects.toMatchObject({
          code: 'RECONNECT_REQUIRED',
        });
        expect(g.oauth.counts.refreshes).toBe(0);
      } finally {
        await g.close();
      }
    },
  );
});

describe('token refresh across processes sharing PostgreSQL', () => {
  let f: Fixture;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    f = await createFixture('postgres', { oauth: { refreshDelayMs: 150 } });
  }, 60_000); // a cold PGlite directory takes seconds on a busy machine
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  });
  afterAll(async () => {
    await f?.close();
  });

  it('two pools (as two replicas would have), 25 requests each: still one refresh', async () => {
    expect((await f.connect('usr_1')).ok).toBe(true);
    const grant = f.oauth.grants.at(-1)!;
    f.clock.advance(HOUR + 1);
    const [sqlA, sqlB] = [await f.db.open(), await f.db.open()];
    try {
      const a = f.make({ sql: sqlA });
      const b = f.make({ sql: sqlB });
      const tokens = await Promise.all(
        Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).getAccessToken('usr_1', 'fake')),
      );
      expect(f.oauth.counts.refreshes).toBe(1);
      expect(grant.usedRefreshTokens.size).toBe(1);
      expect(grant.revoked).toBe(false);
      expect(new Set(tokens)).toEqual(new Set([grant.accessToken]));
    } finally {
      await Promise.all([sqlA.close(), sqlB.close()]);
    }
  });

  it('two real processes, 25 requests each: still one refresh', async () => {
    expect((await f.connect('usr_2')).ok).toBe(true);
    const grant = f.oauth.grants.at(-1)!;
    f.oauth.resetCounts();
    // The children use the real clock: make the stored token expired in real time.
    await f.sql.query(
      `UPDATE connected_accounts SET access_expires_at = now() - interval '1 minute' WHERE user_id = 'usr_2'`,
    );
    const start = () => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'test/unit/accounts/support/refreshWorker.ts'],
        {
          env: {
            PATH: process.env.PATH ?? '',
            HOME: process.env.HOME ?? '/tmp',
            DATABASE_URL: f.db.url!,
            TOKEN_ENCRYPTION_KEYS: `k1:${f.keys.primary.key.toString('base64')}`,
            FAKE_OAUTH_URL: f.oauth.url,
            FAKE_CLIENT_ID: f.oauth.clientId,
            FAKE_CLIENT_SECRET: f.oauth.clientSecret,
            USER_ID: 'usr_2',
            CALLS: '25',
          },
          stdio: ['pipe', 'pipe', 'pipe'],
        },
      );
      children.push(child);
      let out = '';
      let err = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      const ready = new Promise<void>((resolve, reject) => {
        const check = setInterval(() => {
          if (out.includes('ready\n')) {
            clearInterval(check);
            resolve();
          } else if (child.exitCode !== null) {
            clearInterval(check);
            reject(new Error(`worker exited: ${err}`));
          }
        }, 20);
      });
      const done = new Promise<string[]>((resolve, reject) =>
        child.once('exit', (code) =>
          code === 0
            ? resolve(JSON.parse(out.split('\n')[1]!) as string[])
            : reject(new Error(`worker: ${err}`)),
        ),
      );
      return { child, ready, done };
    };
    const workers = [start(), start()];
    await Promise.all(workers.map((w) => w.ready));
    for (const w of workers) w.child.stdin!.end('go\n');
    const results = (await Promise.all(workers.map((w) => w.done))).flat();
    expect(results).toHaveLength(50);
    expect(new Set(results)).toEqual(new Set([grant.accessToken]));
    expect(f.oauth.counts.refreshes).toBe(1);
    expect(grant.usedRefreshTokens.size).toBe(1);
    expect(grant.revoked).toBe(false);
  }, 60_000);
});
