// GET /oauth/:provider/callback over real sockets, with the GitHub simulator: the flow completes only
// in the browser that began it (its binding cookie), and a reused, expired, tampered or foreign state
// is refused with a redirect naming the error, storing nothing.
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { hashState } from '../../src/accounts/oauth.js';
import { approve, beginConnect, callback } from '../helpers/connect.js';
import { type Harness, startHarness } from '../helpers/harness.js';

const RETURN = 'https://app.example.com/settings';

describe('OAuth callback route', () => {
  let h: Harness;
  const sql = () => h.app.accounts.store.sql;
  const accounts = async () =>
    Number(
      (await sql().query<{ n: number }>('SELECT count(*)::int AS n FROM connected_accounts')).rows[0]!.n,
    );
  const errorOf = (location: string) => new URL(location).searchParams.get('error');

  beforeAll(async () => {
    h = await startHarness({
      github: { autoApprove: true },
      env: { OAUTH_RETURN_URLS: `${RETURN},http://127.0.0.1:4000/graphql` },
    });
  }, 60_000);
  afterAll(async () => {
    await h?.close();
  });
  beforeEach(async () => {
    await sql().query('DELETE FROM connected_accounts');
    await sql().query('DELETE FROM oauth_states');
  });

  it('binds the flow with an httpOnly, SameSite=Lax cookie on the callback path, completes with it and clears it', async () => {
    const flow = await beginConnect(h, 'usr_0200', `${RETURN}/accounts`);
    const attributes = flow.setCookie.split(';').map((a) => a.trim());
    expect(attributes[0]).toMatch(/^junction_oauth_[0-9a-f]{16}=[A-Za-z0-9_-]{43}$/);
    expect(attributes.slice(1).sort()).toEqual([
      'HttpOnly',
      'Max-Age=600',
      'Path=/oauth/github/callback',
      'SameSite=Lax',
    ]);

    const back = await approve(flow, 'octo-ben');
    const res = await fetch(back, { redirect: 'manual', headers: { cookie: flow.cookie } });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`${RETURN}/accounts?connected=github`);
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.getSetCookie()[0]).toMatch(
      /^junction_oauth_[0-9a-f]{16}=; Max-Age=0; Path=\/oauth\/github\/callback/,
    );
    expect(await h.app.accounts.list('usr_0200')).toMatchObject([{ provider: 'github', login: 'octo-ben' }]);
  });

  it('refuses a flow completed in another browser (no cookie): nothing stored, and the state is used up', async () => {
    // The attacker begins a flow and sends the authorization URL to a victim, who approves it.
    const attacker = await beginConnect(h, 'usr_0201');
    const back = await approve(attacker, 'octo-ada');
    const victim = await callback(back); // the victim's browser has no cookie for this flow
    expect(victim.status).toBe(303);
    expect(errorOf(victim.location)).toBe('OAUTH_STATE_WRONG_VIEWER');
    expect(await accounts()).toBe(0);
    // Not even the attacker can finish it afterwards.
    const late = await callback(back, attacker.cookie);
    expect(errorOf(late.location)).toBe('OAUTH_STATE_INVALID');
    expect(await accounts()).toBe(0);
  });

  it('refuses another flow’s cookie', async () => {
    const mine = await beginConnect(h, 'usr_0202');
    const theirs = await beginConnect(h, 'usr_0203');
    const back = await approve(theirs, 'octo-ada');
    const res = await callback(back, mine.cookie);
    expect(errorOf(res.location)).toBe('OAUTH_STATE_WRONG_VIEWER');
    expect(await accounts()).toBe(0);
  });

  it('refuses a reused state: the second callback stores nothing and the first connection is untouched', async () => {
    const flow = await beginConnect(h, 'usr_0204');
    const back = await approve(flow, 'octo-ada');
    expect(errorOf((await callback(back, flow.cookie)).location)).toBeNull();
    const row = await h.app.accounts.store.getAccount('usr_0204', 'github');
    const again = await callback(back, flow.cookie);
    expect(errorOf(again.location)).toBe('OAUTH_STATE_INVALID');
    expect(await accounts()).toBe(1);
    expect(await h.app.accounts.store.getAccount('usr_0204', 'github')).toEqual(row);
  });

  it('refuses an expired state, redirecting to the flow’s returnTo with the error', async () => {
    const flow = await beginConnect(h, 'usr_0205', `${RETURN}/later`);
    const back = await approve(flow, 'octo-ada');
    const state = new URL(back).searchParams.get('state')!;
    // Ten minutes pass (the state's lifetime).
    await sql().query(
      "UPDATE oauth_states SET expires_at = now() - interval '1 second' WHERE state_hash = $1",
      [hashState(state)],
    );
    const res = await callback(back, flow.cookie);
    expect(res.location).toBe(`${RETURN}/later?error=OAUTH_STATE_EXPIRED&provider=github`);
    expect(await accounts()).toBe(0);
  });

  it('refuses a tampered state, and a missing one, without touching the flow', async () => {
    const flow = await beginConnect(h, 'usr_0206');
    const back = new URL(await approve(flow, 'octo-ada'));
    const state = back.searchParams.get('state')!;
    const tampered = new URL(back);
    tampered.searchParams.set('state', `${state.slice(0, -1)}${state.endsWith('A') ? 'B' : 'A'}`);
    expect(errorOf((await callback(tampered.toString(), flow.cookie)).location)).toBe('OAUTH_STATE_INVALID');
    const missing = new URL(back);
    missing.searchParams.delete('state');
    expect(errorOf((await callback(missing.toString(), flow.cookie)).location)).toBe('OAUTH_STATE_INVALID');
    expect(await accounts()).toBe(0);
    // The real state still completes.
    expect(errorOf((await callback(back.toString(), flow.cookie)).location)).toBeNull();
    expect(await accounts()).toBe(1);
  });

  it('reports a denied consent as OAUTH_ACCESS_DENIED and stores nothing', async () => {
    const flow = await beginConnect(h, 'usr_0207');
    const state = new URL(flow.authorizationUrl).searchParams.get('state')!;
    const denied = `${h.url}/oauth/github/callback?error=access_denied&state=${state}`;
    expect(errorOf((await callback(denied, flow.cookie)).location)).toBe('OAUTH_ACCESS_DENIED');
    expect(await accounts()).toBe(0);
  });

  it('comes back to the loopback name the flow began on (localhost or 127.0.0.1), where its cookie lives', async () => {
    const local = h.url.replace('127.0.0.1', 'localhost');
    const res = await fetch(`${local}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await h.token('usr_0208')}` },
      body: JSON.stringify({ query: 'mutation { connectAccount(provider: GITHUB) { authorizationUrl } }' }),
    });
    const url = (await res.json()).data.connectAccount.authorizationUrl as string;
    expect(new URL(url).searchParams.get('redirect_uri')).toBe(`${local}/oauth/github/callback`);
    const cookie = res.headers.getSetCookie()[0]!.split(';')[0]!;
    const back = await approve({ authorizationUrl: url, cookie, setCookie: '' }, 'octo-ada');
    expect(back.startsWith(`${local}/oauth/github/callback?`)).toBe(true);
    expect(errorOf((await callback(back, cookie)).location)).toBeNull(); // the exchange sent the same redirect_uri
    expect(await accounts()).toBe(1);
    // A Host that is not loopback never moves the callback.
    const forged = await request(`${h.url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        host: 'evil.example',
        authorization: `Bearer ${await h.token('usr_0208')}`,
      },
      body: JSON.stringify({ query: 'mutation { connectAccount(provider: GITHUB) { authorizationUrl } }' }),
    });
    const forgedUrl = (
      (await forged.body.json()) as { data: { connectAccount: { authorizationUrl: string } } }
    ).data.connectAccount.authorizationUrl;
    expect(new URL(forgedUrl).searchParams.get('redirect_uri')).toBe(`${h.url}/oauth/github/callback`);
  });

  it('answers 404 for a path that is no provider id', async () => {
    const res = await fetch(`${h.url}/oauth/Not..A-Provider/callback?state=x`, { redirect: 'manual' });
    expect(res.status).toBe(404);
  });
});
