// The OAuth authorization code flow with PKCE, end to end against a strict fake provider over real
// sockets, on both engines (PGlite and PostgreSQL): a state is single-use, expires, belongs to the
// viewer who asked, cannot be forged, and every refusal stores nothing.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isAccountErrorCode } from '../../src/accounts/errors.js';
import { hashState } from '../../src/accounts/oauth.js';
import { ENGINES } from '../unit/accounts/support/databases.js';
import { APP_URL, createFixture, dumpAccountTables, type Fixture } from '../unit/accounts/support/fixture.js';

const count = async (f: Fixture, table: string) =>
  Number((await f.sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n);

describe.each(ENGINES)('OAuth flow on %s', (engine) => {
  let f: Fixture;
  beforeAll(async () => {
    f = await createFixture(engine);
  }, 60_000); // a cold PGlite directory takes seconds on a busy machine
  afterAll(async () => {
    await f?.close();
  });
  beforeEach(async () => {
    await f.sql.query('DELETE FROM connected_accounts');
    await f.sql.query('DELETE FROM oauth_states');
    f.oauth.resetCounts();
  });

  it('connects: PKCE S256 URL, code exchanged with the verifier, tokens stored, browser sent back to returnTo', async () => {
    const { authorizationUrl, expiresAt } = await f.accounts.begin(
      'usr_1',
      'fake',
      `${APP_URL}/settings/accounts`,
    );
    const url = new URL(authorizationUrl);
    expect(url.origin + url.pathname).toBe(`${f.oauth.url}/authorize`);
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      response_type: 'code',
      client_id: f.oauth.clientId,
      redirect_uri: 'http://127.0.0.1:4000/oauth/fake/callback',
      scope: 'read:user repo',
      code_challenge_method: 'S256',
    });
    expect(url.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(expiresAt.getTime()).toBe(f.clock.now() + 10 * 60 * 1000);

    const params = await f.oauth.consent(authorizationUrl, { login: 'octocat' });
    const outcome = await f.accounts.complete('fake', params);
    expect(outcome).toEqual({
      ok: true,
      provider: 'fake',
      userId: 'usr_1',
      login: 'octocat',
      redirectTo: `${APP_URL}/settings/accounts?connected=fake`,
    });
    expect(await f.accounts.list('usr_1')).toEqual([
      {
        provider: 'fake',
        login: 'octocat',
        scopes: ['read:user', 'repo'],
        status: 'ACTIVE',
        connectedAt: new Date(f.clock.now()),
      },
    ]);
    expect(await f.accounts.list('usr_2')).toEqual([]);
    expect(await f.accounts.getAccessToken('usr_1', 'fake')).toBe(f.oauth.grants.at(-1)!.accessToken);
    expect(await count(f, 'oauth_states')).toBe(0);
  });

  it('stores a hash of the state, never the state or the verifier', async () => {
    const { authorizationUrl } = await f.accounts.begin('usr_1', 'fake');
    const state = new URL(authorizationUrl).searchParams.get('state')!;
    const dump = await dumpAccountTables(f.sql);
    expect(dump).not.toContain(state);
    expect(dump).toContain(hashState(state));
    const { rows } = await f.sql.query<{ ct: string }>('SELECT code_verifier_ct AS ct FROM oauth_states');
    expect(rows[0]!.ct).toMatch(/^v1\.k1\./);
  });

  it('refuses a reused state: the second callback stores nothing and the first connection is untouched', async () => {
    const { authorizationUrl } = await f.accounts.begin('usr_1', 'fake', `${APP_URL}/settings`);
    const params = await f.oauth.consent(authorizationUrl, { login: 'octocat' });
    expect((await f.accounts.complete('fake', params)).ok).toBe(true);
    const exchanges = f.oauth.counts.exchanges;
    const again = await f.accounts.complete('fake', params);
    expect(again).toMatchObject({
      ok: false,
      code: 'OAUTH_STATE_INVALID',
      redirectTo: `${APP_URL}/settings?error=OAUTH_STATE_INVALID&provider=fake`,
    });
    expect(f.oauth.counts.exchanges).toBe(exchanges); // the code was not even tried
    expect(await count(f, 'connected_accounts')).toBe(1);
  });

  it('lets only one of two racing callbacks with the same state through', async () => {
    const { authorizationUrl } = await f.accounts.begin('usr_1', 'fake');
    const params = await f.oauth.consent(authorizationUrl, { login: 'octocat' });
    const outcomes = await Promise.all([1, 2, 3].map(() => f.accounts.complete('fake', params)));
    expect(outcomes.filter((o) => o.ok)).toHaveLength(1);
    expect(outcomes.filter((o) => !o.ok).map((o) => !o.ok && o.code)).toEqual([
      'OAUTH_STATE_INVALID',
      'OAUTH_STATE_INVALID',
    ]);
  });

  it('refuses an expired state (10 min), redirecting to its returnTo with the code, storing nothing', async () => {
    const { authorizationUrl } = await f.accounts.begin('usr_1', 'fake', `${APP_URL}/settings/x`);
    const params = await f.oauth.consent(authorizationUrl, { login: 'octocat' });
    f.clock.advance(10 * 60 * 1000);
    const outcome = await f.accounts.complete('fake', params);
    expect(outcome).toMatchObject({
      ok: false,
      code: 'OAUTH_STATE_EXPIRED',
      redirectTo: `${APP_URL}/settings/x?error=OAUTH_STATE_EXPIRED&provider=fake`,
    });
    expect(f.oauth.counts.exchanges).toBe(0);
    expect(await count(f, 'connected_accounts')).toBe(0);
    expect(await count(f, 'oauth_states')).toBe(0);
  });

  it("refuses another viewer's state, and the state is gone for its owner too", async () => {
    const { authorizationUrl } = await f.accounts.begin('usr_1', 'fake');
    const params = await f.oauth.consent(authorizationUrl, { login: 'octocat' });
    const outcome = await f.accounts.complete('fake', params, { viewerId: 'usr_2' });
    expect(outcome).toMatchObject({ ok: false, code: 'OAUTH_STATE_WRONG_VIEWER' });
    expect(await count(f, 'connected_accounts')).toBe(0);
    expect(await f.accounts.complete('fake', params, { viewerId: 'usr_1' })).toMatchObject({
      ok: false,
      code: 'OAUTH_STATE_INVALID',
    });
  });

  it('refuses a tampered or forged state without asking the provider', async () => {
    const { authorizationUrl } = await f.accounts.begin('usr_1', 'fake');
    const params = await f.oauth.consent(authorizationUrl, { login: 'octocat' });
    const state = params.state!;
    const flipped = `${state.slice(0, -1)}${state.endsWith('A') ? 'B' : 'A'}`;
    for (const bad of [flipped, `${state}x`, '', 'x'.repeat(5000), hashState(state)]) {
      expect(await f.accounts.complete('fake', { ...params, state: bad })).toMatchObject({
        ok: false,
        code: 'OAUTH_STATE_INVALID',
        redirectTo: `${APP_URL}/settings?error=OAUTH_STATE_INVALID&provider=fake`,
      });
    }
    expect(await f.accounts.complete('fake', { code: params.code })).toMatchObject({
      code: 'OAUTH_STATE_INVALID',
    });
    expect(f.oauth.counts.exchanges).toBe(0);
    expect(await count(f, 'connected_accounts')).toBe(0);
    // The genuine state still works: the forgeries did not burn it.
    expect((await f.accounts.complete('fake', params)).ok).toBe(true);
  });

  it('refuses a state begun for another provider', async () => {
    const { authorizationUrl } = await f.accounts.begin('usr_1', 'fake');
    const params = await f.oauth.consent(authorizationUrl, { login: 'octocat' });
    expect(await f.accounts.complete('other', params)).toMatchObject({
      ok: false,
      code: 'PROVIDER_NOT_SUPPORTED',
    });
    const other = f.make({ providers: [f.oauth.spec(), { ...f.oauth.spec(), id: 'other' }] });
    expect(await other.complete('other', params)).toMatchObject({ ok: false, code: 'OAUTH_STATE_INVALID' });
    expect(await count(f, 'connected_accounts')).toBe(0);
  });

  it('PKCE: a code completed with another flow’s verifier is refused by the provider, nothing stored', async () => {
    // An attacker injects the code of their own flow A into the callback of flow B: B's verifier
    // does not match A's challenge, so the provider refuses the exchange.
    const a = await f.accounts.begin('usr_1', 'fake');
    const b = await f.accounts.begin('usr_1', 'fake');
    const fromA = await f.oauth.consent(a.authorizationUrl, { login: 'attacker' });
    const stateB = new URL(b.authorizationUrl).searchParams.get('state')!;
    const outcome = await f.accounts.complete('fake', { code: fromA.code, state: stateB });
    expect(outcome).toMatchObject({ ok: false, code: 'OAUTH_EXCHANGE_FAILED' });
    expect(!outcome.ok && outcome.detail).toBe('token endpoint refused: invalid_grant');
    expect(f.oauth.counts.exchanges).toBe(1);
    expect(f.oauth.counts.refused).toBe(1);
    expect(await count(f, 'connected_accounts')).toBe(0);
  });

  it('reports denied consent with OAUTH_ACCESS_DENIED, storing nothing', async () => {
    const { authorizationUrl } = await f.accounts.begin('usr_1', 'fake', `${APP_URL}/settings`);
    const params = await f.oauth.consent(authorizationUrl, { login: 'octocat', deny: true });
    expect(params.error).toBe('access_denied');
    expect(await f.accounts.complete('fake', params)).toMatchObject({
      ok: false,
      code: 'OAUTH_ACCESS_DENIED',
      redirectTo: `${APP_URL}/settings?error=OAUTH_ACCESS_DENIED&provider=fake`,
    });
    expect(await count(f, 'connected_accounts')).toBe(0);
  });

  it('reports an exchange the provider cannot serve (5xx) with OAUTH_EXCHANGE_FAILED, storing nothing', async () => {
    const { authorizationUrl } = await f.accounts.begin('usr_1', 'fake');
    const params = await f.oauth.consent(authorizationUrl, { login: 'octocat' });
    f.oauth.failTokenRequests(1, 503);
    expect(await f.accounts.complete('fake', params)).toMatchObject({
      ok: false,
      code: 'OAUTH_EXCHANGE_FAILED',
    });
    expect(await count(f, 'connected_accounts')).toBe(0);
  });

  // About the provider's answers, not the engine: run once, on PostgreSQL (a cold PGlite costs seconds).
  it.runIf(engine === 'postgres')(
    'treats a 200 answer carrying `error` (GitHub style) as a refusal',
    async () => {
      const g = await createFixture('postgres', {
        oauth: { errorsWith200: true },
      });
      try {
        const a = await g.accounts.begin('usr_1', 'fake');
        const b = await g.accounts.begin('usr_1', 'fake');
        const fromA = await g.oauth.consent(a.authorizationUrl, { login: 'x' });
        const outcome = await g.accounts.complete('fake', {
          code: fromA.code,
          state: new URL(b.authorizationUrl).searchParams.get('state')!,
        });
        expect(outcome).toMatchObject({
          ok: false,
          code: 'OAUTH_EXCHANGE_FAILED',
          detail: 'token endpoint refused: invalid_grant',
        });
      } finally {
        await g.close();
      }
    },
  );

  it('refuses a returnTo off the allowlist when the flow begins, storing no state', async () => {
    for (const returnTo of [
      'https://evil.example/settings',
      '//evil.example/settings',
      'https://app.example.com@evil.example/settings',
      'https://app.example.com/settingsX',
      'https://app.example.com/other',
      'https://app.example.com/settings/../admin',
      'javascript:alert(1)',
    ]) {
      const error = await f.accounts.begin('usr_1', 'fake', returnTo).catch((e: unknown) => e);
      expect(isAccountErrorCode(error, 'RETURN_URL_NOT_ALLOWED'), returnTo).toBe(true);
    }
    expect(await count(f, 'oauth_states')).toBe(0);
    await expect(f.accounts.begin('usr_1', 'nope')).rejects.toMatchObject({ code: 'PROVIDER_NOT_SUPPORTED' });
    await expect(f.accounts.begin('u'.repeat(257), 'fake')).rejects.toThrow(
      'viewer id: expected 1..256 characters',
    );
  });

  it('keeps at most 10 pending flows per user: beginning an 11th drops the oldest', async () => {
    const first = await f.accounts.begin('usr_1', 'fake');
    for (let i = 0; i < 10; i++) {
      f.clock.advance(1);
      await f.accounts.begin('usr_1', 'fake');
    }
    await f.accounts.begin('usr_2', 'fake');
    expect(
      Number(
        (
          await f.sql.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM oauth_states WHERE user_id = 'usr_1'",
          )
        ).rows[0]!.n,
      ),
    ).toBe(10);
    const params = await f.oauth.consent(first.authorizationUrl, { login: 'octocat' });
    expect(await f.accounts.complete('fake', params)).toMatchObject({
      ok: false,
      code: 'OAUTH_STATE_INVALID',
    });
  });

  it('reconnecting replaces the tokens and sets the connection ACTIVE again', async () => {
    expect((await f.connect('usr_1', 'octocat')).ok).toBe(true);
    await f.sql.query("UPDATE connected_accounts SET status = 'RECONNECT_REQUIRED'");
    await expect(f.accounts.getAccessToken('usr_1', 'fake')).rejects.toMatchObject({
      code: 'RECONNECT_REQUIRED',
    });
    f.clock.advance(1000);
    expect((await f.connect('usr_1', 'octocat')).ok).toBe(true);
    expect(await f.accounts.getAccessToken('usr_1', 'fake')).toBe(f.oauth.grants.at(-1)!.accessToken);
    expect((await f.accounts.list('usr_1'))[0]).toMatchObject({
      status: 'ACTIVE',
      connectedAt: new Date(f.clock.now()),
    });
  });
});
