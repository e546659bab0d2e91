// The GitHub simulator over real sockets: the OAuth web flow (consent page, PKCE, single-use codes,
// redirect URI binding, rotating refresh tokens, revocation), the REST routes (Link paging, ETag/304
// that costs no quota, rate limits, version and media checks, scopes), faults and signed webhooks.
// Time moves through the simulator's injected clock, never by sleeping.
import { createHmac, randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders, Server } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { s256Challenge } from '../../../src/simulators/github/oauth.js';
import { seedGitHub } from '../../../src/simulators/github/seed.js';
import type { GitHubSimulator, GitHubSimulatorOptions } from '../../../src/simulators/github/simulator.js';
import { createGitHubSimulator, GITHUB_ROUTES } from '../../../src/simulators/github/simulator.js';

interface TokenBody {
  access_token: string;
  expires_in: number;
  refresh_token: string;
  refresh_token_expires_in: number;
  scope: string;
  token_type: string;
}
interface TokenError {
  error: string;
  error_description: string;
  error_uri: string;
}
interface Repo {
  id: number;
  full_name: string;
  private: boolean;
  stargazers_count: number;
}

const REDIRECT = 'http://127.0.0.1:4000/oauth/github/callback';
const T0 = Date.UTC(2026, 2, 1, 12, 0, 0);
const HOUR_MS = 60 * 60 * 1000;

let clock: number;
let sim: GitHubSimulator;
let base: string;

async function startSim(opts: GitHubSimulatorOptions = {}): Promise<void> {
  await sim?.close();
  sim = createGitHubSimulator({ now: () => clock, ...opts });
  base = await sim.start();
}

beforeEach(async () => {
  clock = T0;
  sim = createGitHubSimulator({ now: () => clock, autoApprove: true });
  base = await sim.start();
});

afterEach(async () => {
  await sim.close();
});

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(48).toString('base64url'); // 64 characters
  return { verifier, challenge: s256Challenge(verifier) };
}

function authorizeUrl(params: Record<string, string>): string {
  return `${base}/login/oauth/authorize?${new URLSearchParams({ client_id: sim.clientId, ...params })}`;
}

/** Runs the auto-approved authorization request and returns the callback URL it redirected to. */
async function authorize(params: Record<string, string>): Promise<URL> {
  const res = await fetch(authorizeUrl(params), { redirect: 'manual' });
  expect(res.status).toBe(302);
  return new URL(res.headers.get('location') ?? '');
}

async function codeFor(params: Record<string, string>): Promise<string> {
  const callback = await authorize(params);
  const code = callback.searchParams.get('code');
  expect(code).toMatch(/^[0-9a-f]{20}$/);
  return code ?? '';
}

async function tokenRequest(params: Record<string, string>): Promise<Response> {
  return fetch(`${base}/login/oauth/access_token`, {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: sim.clientId, client_secret: sim.clientSecret, ...params }),
  });
}

async function exchange(params: Record<string, string>): Promise<TokenBody | TokenError> {
  const res = await tokenRequest(params);
  // GitHub answers the token endpoint with 200 whether it worked or not.
  expect(res.status).toBe(200);
  return (await res.json()) as TokenBody | TokenError;
}

/** A token pair through the whole web flow with PKCE. */
async function connect(scope = 'read:user repo', login = 'octo-ada'): Promise<TokenBody> {
  const { verifier, challenge } = pkce();
  const code = await codeFor({
    redirect_uri: REDIRECT,
    scope,
    state: 's1',
    login,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  const body = await exchange({ code, redirect_uri: REDIRECT, code_verifier: verifier });
  expect(body).toHaveProperty('access_token');
  return body as TokenBody;
}

function api(
  path: string,
  token: string | undefined,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${base}${path}`, {
    headers: {
      accept: 'application/vnd.github+json',
      'x-github-api-version': '2022-11-28',
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...headers,
    },
  });
}

function basicAuth(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
}

function parseLink(header: string | null): Record<string, string> {
  const rels: Record<string, string> = {};
  for (const part of (header ?? '').split(',')) {
    const m = /<([^>]+)>;\s*rel="([a-z]+)"/.exec(part.trim());
    if (m?.[1] !== undefined && m[2] !== undefined) rels[m[2]] = m[1];
  }
  return rels;
}

describe('authorize page (github.com/login/oauth/authorize)', () => {
  beforeEach(async () => {
    await startSim({ appName: 'Junction <dev>' });
  });

  it('shows the app, the scopes, the seeded accounts and Authorize / Cancel, escaped', async () => {
    const res = await fetch(authorizeUrl({ scope: 'read:user repo', state: 'xyz', login: 'octo-ben' }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('x-frame-options')).toBe('deny');
    const html = await res.text();
    expect(html).toContain('Junction &#60;dev&#62;');
    expect(html).not.toContain('Junction <dev>');
    expect(html).toContain('<code>read:user</code>');
    expect(html).toContain('<code>repo</code>');
    for (const login of ['octo-ada', 'octo-ben', 'octo-cai'])
      expect(html).toContain(`<option value="${login}"`);
    expect(html).toContain('<option value="octo-ben" selected>');
    expect(html).toMatch(/<button[^>]*value="authorize"[^>]*>Authorize/);
    expect(html).toMatch(/<button[^>]*value="cancel"[^>]*>Cancel/);
  });

  it('Authorize posts back and redirects to redirect_uri with code and state; the code works once', async () => {
    const { verifier, challenge } = pkce();
    const page = await (
      await fetch(
        authorizeUrl({
          redirect_uri: REDIRECT,
          state: 'st-1',
          code_challenge: challenge,
          code_challenge_method: 'S256',
        }),
      )
    ).text();
    const requestId = /name="request_id" value="([0-9a-f]+)"/.exec(page)?.[1] ?? '';
    expect(requestId).not.toBe('');
    const res = await fetch(`${base}/login/oauth/authorize`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ request_id: requestId, login: 'octo-ben', decision: 'authorize' }),
    });
    expect(res.status).toBe(302);
    const callback = new URL(res.headers.get('location') ?? '');
    expect(`${callback.origin}${callback.pathname}`).toBe(REDIRECT);
    expect(callback.searchParams.get('state')).toBe('st-1');
    const code = callback.searchParams.get('code') ?? '';
    const token = (await exchange({ code, redirect_uri: REDIRECT, code_verifier: verifier })) as TokenBody;
    const user = (await (await api('/user', token.access_token)).json()) as { login: string };
    expect(user.login).toBe('octo-ben');

    // The held request is single use: replaying the form is refused.
    const replay = await fetch(`${base}/login/oauth/authorize`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ request_id: requestId, login: 'octo-ada', decision: 'authorize' }),
    });
    expect(replay.status).toBe(400);
  });

  it('Cancel redirects with error=access_denied and the state, and issues no code', async () => {
    const page = await (await fetch(authorizeUrl({ state: 'st-2' }))).text();
    const requestId = /name="request_id" value="([0-9a-f]+)"/.exec(page)?.[1] ?? '';
    const res = await fetch(`${base}/login/oauth/authorize`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ request_id: requestId, login: 'octo-ada', decision: 'cancel' }),
    });
    expect(res.status).toBe(302);
    const callback = new URL(res.headers.get('location') ?? '');
    expect(callback.searchParams.get('error')).toBe('access_denied');
    expect(callback.searchParams.get('state')).toBe('st-2');
    expect(callback.searchParams.has('code')).toBe(false);
  });

  it('a consent page left open longer than 10 minutes can no longer authorize', async () => {
    const page = await (await fetch(authorizeUrl({ state: 'late' }))).text();
    const requestId = /name="request_id" value="([0-9a-f]+)"/.exec(page)?.[1] ?? '';
    clock += 10 * 60 * 1000;
    const res = await fetch(`${base}/login/oauth/authorize`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ request_id: requestId, login: 'octo-ada', decision: 'authorize' }),
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('Authorization expired');
  });

  it('an unknown client_id gets a 404 page; a foreign redirect_uri is reported to the registered callback', async () => {
    const unknown = await fetch(`${base}/login/oauth/authorize?client_id=nope`);
    expect(unknown.status).toBe(404);

    const res = await fetch(authorizeUrl({ redirect_uri: 'https://evil.example/cb', state: 'st-3' }), {
      redirect: 'manual',
    });
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get('location') ?? '');
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
    expect(location.searchParams.get('error')).toBe('redirect_uri_mismatch');
    expect(location.searchParams.get('state')).toBe('st-3');
  });

  it('setRedirectUris registers new callback URLs (e.g. once the app knows its port)', async () => {
    const later = 'http://127.0.0.1:45678/oauth/github/callback';
    const before = await fetch(authorizeUrl({ redirect_uri: later }), { redirect: 'manual' });
    expect(new URL(before.headers.get('location') ?? '').searchParams.get('error')).toBe(
      'redirect_uri_mismatch',
    );
    sim.setRedirectUris([later]);
    expect(sim.redirectUris).toEqual([later]);
    const page = await fetch(authorizeUrl({ redirect_uri: later }));
    expect(page.status).toBe(200);
    expect(() => sim.setRedirectUris(['not a url'])).toThrow(/absolute http/);
  });

  it('refuses the plain PKCE method (GitHub accepts only S256)', async () => {
    const res = await fetch(
      authorizeUrl({ code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' }),
      {
        redirect: 'manual',
      },
    );
    const location = new URL(res.headers.get('location') ?? '');
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.has('code')).toBe(false);
  });
});

describe('token endpoint (github.com/login/oauth/access_token)', () => {
  it('exchanges a code for an expiring ghu_ token and a ghr_ refresh token', async () => {
    const token = await connect();
    expect(token).toEqual({
      access_token: expect.stringMatching(/^ghu_[A-Za-z0-9]{36}$/),
      expires_in: 28_800,
      refresh_token: expect.stringMatching(/^ghr_[A-Za-z0-9]{76}$/),
      refresh_token_expires_in: 15_811_200,
      scope: 'read:user,repo',
      token_type: 'bearer',
    });
    expect(sim.tokensIssued()).toBe(1);
  });

  it('refuses a wrong PKCE verifier, and a missing one', async () => {
    const { challenge } = pkce();
    const params = { redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: 'S256' };
    const wrong = await exchange({
      code: await codeFor(params),
      redirect_uri: REDIRECT,
      code_verifier: pkce().verifier,
    });
    expect(wrong).toMatchObject({ error: 'bad_verification_code' });
    const missing = await exchange({ code: await codeFor(params), redirect_uri: REDIRECT });
    expect(missing).toMatchObject({ error: 'bad_verification_code' });
    expect(sim.tokensIssued()).toBe(0);
  });

  it('refuses a code used twice', async () => {
    const { verifier, challenge } = pkce();
    const code = await codeFor({
      redirect_uri: REDIRECT,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    const first = await exchange({ code, redirect_uri: REDIRECT, code_verifier: verifier });
    expect(first).toHaveProperty('access_token');
    const second = await exchange({ code, redirect_uri: REDIRECT, code_verifier: verifier });
    expect(second).toEqual({
      error: 'bad_verification_code',
      error_description: 'The code passed is incorrect or expired.',
      error_uri: expect.stringContaining('docs.github.com'),
    });
  });

  it('refuses a code older than 10 minutes', async () => {
    const code = await codeFor({ redirect_uri: REDIRECT });
    clock += 10 * 60 * 1000;
    expect(await exchange({ code, redirect_uri: REDIRECT })).toMatchObject({
      error: 'bad_verification_code',
    });
  });

  it('refuses a redirect_uri other than the authorized one, and a missing one', async () => {
    await startSim({
      autoApprove: true,
      redirectUris: [REDIRECT, 'http://localhost:4000/oauth/github/callback'],
    });
    const other = await exchange({
      code: await codeFor({ redirect_uri: REDIRECT }),
      redirect_uri: 'http://localhost:4000/oauth/github/callback',
    });
    expect(other).toMatchObject({ error: 'redirect_uri_mismatch' });
    const missing = await exchange({ code: await codeFor({ redirect_uri: REDIRECT }) });
    expect(missing).toMatchObject({ error: 'redirect_uri_mismatch' });
    expect(sim.tokensIssued()).toBe(0);
  });

  it('refuses a wrong client secret without spending the code', async () => {
    const code = await codeFor({ redirect_uri: REDIRECT });
    const res = await fetch(`${base}/login/oauth/access_token`, {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: sim.clientId, client_secret: 'wrong', code, redirect_uri: REDIRECT }),
    });
    expect(await res.json()).toMatchObject({ error: 'incorrect_client_credentials' });
    expect(await exchange({ code, redirect_uri: REDIRECT })).toHaveProperty('access_token');
  });

  it('answers form-encoded unless JSON is asked for, as GitHub does', async () => {
    const code = await codeFor({ redirect_uri: REDIRECT });
    const res = await fetch(`${base}/login/oauth/access_token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        client_id: sim.clientId,
        client_secret: sim.clientSecret,
        code,
        redirect_uri: REDIRECT,
      }),
    });
    expect(res.headers.get('content-type')).toMatch(/^application\/x-www-form-urlencoded/);
    const form = new URLSearchParams(await res.text());
    expect(form.get('access_token')).toMatch(/^ghu_/);
    expect(form.get('token_type')).toBe('bearer');
  });

  it('refresh rotates the pair; the old access token stops working and the old refresh token is refused', async () => {
    const first = await connect();
    const refreshed = (await exchange({
      grant_type: 'refresh_token',
      refresh_token: first.refresh_token,
    })) as TokenBody;
    expect(refreshed.access_token).toMatch(/^ghu_/);
    expect(refreshed.refresh_token).not.toBe(first.refresh_token);
    expect(refreshed.expires_in).toBe(28_800);
    expect(refreshed.scope).toBe('read:user,repo');

    expect((await api('/user', first.access_token)).status).toBe(401);
    expect((await api('/user', refreshed.access_token)).status).toBe(200);

    const replay = await exchange({ grant_type: 'refresh_token', refresh_token: first.refresh_token });
    expect(replay).toEqual({
      error: 'bad_refresh_token',
      error_description: 'The refresh token passed is incorrect or expired.',
      error_uri: expect.stringContaining('docs.github.com'),
    });
    // The replay was treated as a leak: the whole grant is gone, the new pair with it.
    expect((await api('/user', refreshed.access_token)).status).toBe(401);
    expect(
      await exchange({ grant_type: 'refresh_token', refresh_token: refreshed.refresh_token }),
    ).toMatchObject({
      error: 'bad_refresh_token',
    });
  });

  it('an expired refresh token is refused', async () => {
    await startSim({ autoApprove: true, refreshTokenTtlSeconds: 60 });
    const token = await connect();
    clock += 60_000;
    expect(await exchange({ grant_type: 'refresh_token', refresh_token: token.refresh_token })).toMatchObject(
      {
        error: 'bad_refresh_token',
      },
    );
  });
});

describe('expiry and revocation', () => {
  it('an access token older than its TTL gets 401 Bad credentials; refreshing brings access back', async () => {
    const token = await connect();
    clock += 8 * HOUR_MS - 1;
    expect((await api('/user', token.access_token)).status).toBe(200);
    clock += 1;
    const res = await api('/user', token.access_token);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({
      message: 'Bad credentials',
      documentation_url: 'https://docs.github.com/rest',
      status: '401',
    });
    const refreshed = (await exchange({
      grant_type: 'refresh_token',
      refresh_token: token.refresh_token,
    })) as TokenBody;
    expect((await api('/user', refreshed.access_token)).status).toBe(200);
  });

  it('tokenTtlSeconds shortens the lifetime for tests; expireTokens(login) expires them at once', async () => {
    await startSim({ autoApprove: true, tokenTtlSeconds: 5 });
    const token = await connect();
    expect(token.expires_in).toBe(5);
    const other = sim.issueUserToken('octo-ben');
    expect(sim.expireTokens('octo-ada')).toBe(1);
    expect((await api('/user', token.access_token)).status).toBe(401);
    expect((await api('/user', other.access_token)).status).toBe(200);
  });

  it('DELETE /applications/{client_id}/grant with Basic client auth revokes every token of the user', async () => {
    const a = await connect();
    const b = await connect();
    const wrong = await fetch(`${base}/applications/${sim.clientId}/grant`, {
      method: 'DELETE',
      headers: { authorization: basicAuth(sim.clientId, 'nope'), 'content-type': 'application/json' },
      body: JSON.stringify({ access_token: a.access_token }),
    });
    expect(wrong.status).toBe(404);
    expect((await api('/user', a.access_token)).status).toBe(200);

    const res = await fetch(`${base}/applications/${sim.clientId}/grant`, {
      method: 'DELETE',
      headers: {
        authorization: basicAuth(sim.clientId, sim.clientSecret),
        'content-type': 'application/json',
      },
      body: JSON.stringify({ access_token: a.access_token }),
    });
    expect(res.status).toBe(204);
    expect((await api('/user', a.access_token)).status).toBe(401);
    expect((await api('/user', b.access_token)).status).toBe(401);
    expect(await exchange({ grant_type: 'refresh_token', refresh_token: b.refresh_token })).toMatchObject({
      error: 'bad_refresh_token',
    });
  });

  it('DELETE /applications/{client_id}/token revokes that token only', async () => {
    const a = sim.issueUserToken('octo-ada');
    const b = sim.issueUserToken('octo-ada');
    const remove = (token: string) =>
      fetch(`${base}/applications/${sim.clientId}/token`, {
        method: 'DELETE',
        headers: {
          authorization: basicAuth(sim.clientId, sim.clientSecret),
          'content-type': 'application/json',
        },
        body: JSON.stringify({ access_token: token }),
      });
    expect((await remove(a.access_token)).status).toBe(204);
    expect((await api('/user', a.access_token)).status).toBe(401);
    expect((await api('/user', b.access_token)).status).toBe(200);
    expect(await exchange({ grant_type: 'refresh_token', refresh_token: a.refresh_token })).toMatchObject({
      error: 'bad_refresh_token',
    });
    expect((await remove(a.access_token)).status).toBe(404);
  });

  it('revokeGrant(login) makes the tokens 401', async () => {
    const token = await connect();
    expect(sim.revokeGrant('octo-ada')).toBe(true);
    expect((await api('/user', token.access_token)).status).toBe(401);
    expect(sim.revokeGrant('octo-ada')).toBe(false);
  });

  it('keeps at most ten live tokens per user: the eleventh revokes the oldest', async () => {
    const tokens = Array.from({ length: 11 }, () => sim.issueUserToken('octo-ada'));
    expect((await api('/user', tokens[0]?.access_token)).status).toBe(401);
    expect((await api('/user', tokens[1]?.access_token)).status).toBe(200);
    expect((await api('/user', tokens[10]?.access_token)).status).toBe(200);
  });
});

describe('GET /user/repos', () => {
  it('Link paging walks the 250 repositories exactly once, with GitHub rels', async () => {
    const { access_token: token } = sim.issueUserToken('octo-ada');
    const seen: number[] = [];
    let url: string | undefined = `${base}/user/repos?per_page=100`;
    let pages = 0;
    while (url !== undefined) {
      const res = await fetch(url, { headers: { authorization: `token ${token}` } });
      expect(res.status).toBe(200);
      const repos = (await res.json()) as Repo[];
      seen.push(...repos.map((r) => r.id));
      const rels = parseLink(res.headers.get('link'));
      pages += 1;
      if (pages === 1) expect(Object.keys(rels)).toEqual(['next', 'last']);
      if (pages === 2) {
        expect(Object.keys(rels)).toEqual(['prev', 'next', 'last', 'first']);
        expect(new URL(rels.last ?? '').searchParams.get('page')).toBe('3');
        expect(new URL(rels.first ?? '').searchParams.get('per_page')).toBe('100');
      }
      if (pages === 3) expect(Object.keys(rels)).toEqual(['prev', 'first']);
      url = rels.next;
    }
    expect(pages).toBe(3);
    expect(seen).toHaveLength(250);
    expect(new Set(seen).size).toBe(250);
    expect(new Set(seen)).toEqual(new Set(sim.repositories('octo-ada').map((r) => r.id)));
  });

  it('pages 30 by default, caps per_page at 100, and sorts by full_name ascending', async () => {
    const { access_token: token } = sim.issueUserToken('octo-ada');
    const first = (await (await api('/user/repos', token)).json()) as Repo[];
    expect(first).toHaveLength(30);
    const names = first.map((r) => r.full_name);
    expect(names).toEqual([...names].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase())));
    const big = (await (await api('/user/repos?per_page=1000', token)).json()) as Repo[];
    expect(big).toHaveLength(100);
  });

  it('hides private repositories from a token without the repo scope', async () => {
    const all = sim.repositories('octo-ada');
    const privateCount = all.filter((r) => r.private).length;
    expect(privateCount).toBeGreaterThan(0);
    const { access_token: token } = sim.issueUserToken('octo-ada', ['read:user']);
    const res = await api('/user/repos?per_page=100&page=3', token);
    const last = parseLink(res.headers.get('link'));
    expect(last.next).toBeUndefined();
    const count = 200 + ((await res.json()) as Repo[]).length;
    expect(count).toBe(all.length - privateCount);
  });

  it('sorts by created (newest first by default), filters by visibility and since', async () => {
    const { access_token: token } = sim.issueUserToken('octo-ada');
    const all = sim.repositories('octo-ada');
    const byCreated = (await (await api('/user/repos?sort=created&per_page=5', token)).json()) as Repo[];
    const newest = [...all].sort((a, b) => b.createdAt - a.createdAt).slice(0, 5);
    expect(byCreated.map((r) => r.id)).toEqual(newest.map((r) => r.id));

    const priv = (await (await api('/user/repos?visibility=private&per_page=100', token)).json()) as Repo[];
    expect(priv.length).toBe(all.filter((r) => r.private).length);
    expect(priv.every((r) => r.private)).toBe(true);

    const cut = [...all].sort((a, b) => a.updatedAt - b.updatedAt)[200]?.updatedAt ?? 0;
    const since = new Date(cut).toISOString();
    const recent = (await (await api(`/user/repos?since=${since}&per_page=100`, token)).json()) as Repo[];
    expect(recent.length).toBe(all.filter((r) => r.updatedAt >= cut).length);
    expect((await api('/user/repos?sort=stars', token)).status).toBe(422);
  });

  it('refuses type together with visibility (422 Validation Failed)', async () => {
    const { access_token: token } = sim.issueUserToken('octo-ada');
    const res = await api('/user/repos?type=owner&visibility=public', token);
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({ message: 'Validation Failed', status: '422' });
  });
});

describe('ETag and rate limits', () => {
  it('a 304 revalidation costs no quota; a changed body gets a new ETag', async () => {
    const { access_token: token } = sim.issueUserToken('octo-ada');
    const first = await api('/user/repos?per_page=100', token);
    const etag = first.headers.get('etag') ?? '';
    expect(etag).toMatch(/^W\/"[0-9a-f]{64}"$/);
    expect(first.headers.get('x-ratelimit-remaining')).toBe('4999');
    expect(sim.quota(token)?.remaining).toBe(4999);

    for (let i = 0; i < 3; i++) {
      const again = await api('/user/repos?per_page=100', token, { 'if-none-match': etag });
      expect(again.status).toBe(304);
      expect(await again.text()).toBe('');
      expect(again.headers.get('etag')).toBe(etag);
      expect(again.headers.get('x-ratelimit-remaining')).toBe('4999');
      expect(again.headers.get('x-ratelimit-used')).toBe('1');
    }
    expect(sim.quota(token)?.remaining).toBe(4999);

    sim.addRepository('octo-ada', { name: 'aaa-new-first' });
    const changed = await api('/user/repos?per_page=100', token, { 'if-none-match': etag });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(etag);
    expect(changed.headers.get('x-ratelimit-remaining')).toBe('4998');
  });

  it('GET /user answers If-Modified-Since with 304 too, for free', async () => {
    const { access_token: token } = sim.issueUserToken('octo-ada');
    const first = await api('/user', token);
    const lastModified = first.headers.get('last-modified') ?? '';
    expect(lastModified).toMatch(/GMT$/);
    const again = await api('/user', token, { 'if-modified-since': lastModified });
    expect(again.status).toBe(304);
    expect(sim.quota(token)?.used).toBe(1);
  });

  it('reports x-ratelimit-* per user, refuses with 403 when spent, and refills when the window resets', async () => {
    await startSim({ rateLimit: 3 });
    const ada = sim.issueUserToken('octo-ada');
    const ben = sim.issueUserToken('octo-ben');
    const headers: Array<Record<string, string | null>> = [];
    for (let i = 0; i < 3; i++) {
      const res = await api('/user', ada.access_token);
      expect(res.status).toBe(200);
      headers.push({
        limit: res.headers.get('x-ratelimit-limit'),
        remaining: res.headers.get('x-ratelimit-remaining'),
        used: res.headers.get('x-ratelimit-used'),
        reset: res.headers.get('x-ratelimit-reset'),
        resource: res.headers.get('x-ratelimit-resource'),
      });
    }
    const reset = String(Math.ceil((T0 + HOUR_MS) / 1000));
    expect(headers.map((h) => h.remaining)).toEqual(['2', '1', '0']);
    expect(headers.every((h) => h.limit === '3' && h.reset === reset && h.resource === 'core')).toBe(true);

    const refused = await api('/user', ada.access_token);
    expect(refused.status).toBe(403);
    expect(refused.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(await refused.json()).toMatchObject({
      message: expect.stringMatching(/^API rate limit exceeded/),
    });
    // Another user's bucket is untouched; a second token of the same user shares the spent one.
    expect((await api('/user', ben.access_token)).status).toBe(200);
    const ada2 = sim.issueUserToken('octo-ada');
    expect((await api('/user', ada2.access_token)).status).toBe(403);

    clock += HOUR_MS;
    const after = await api('/user', ada.access_token);
    expect(after.status).toBe(200);
    expect(after.headers.get('x-ratelimit-remaining')).toBe('2');
  });

  it('GET /rate_limit reports the bucket without spending it', async () => {
    const { access_token: token } = sim.issueUserToken('octo-ada');
    await api('/user', token);
    const res = await api('/rate_limit', token);
    const body = (await res.json()) as { resources: { core: { used: number; remaining: number } } };
    expect(body.resources.core).toMatchObject({ used: 1, remaining: 4999 });
    expect(sim.quota(token)?.used).toBe(1);
    const anonymous = (await (await api('/rate_limit', undefined)).json()) as typeof body;
    expect(anonymous.resources.core).toMatchObject({ used: 0, remaining: 60 });
  });

  it("a secondary rate limit fault answers 403 or 429 with retry-after and GitHub's body", async () => {
    const { access_token: token } = sim.issueUserToken('octo-ada');
    sim.faults.add({ match: { route: GITHUB_ROUTES.userRepos }, status: 403, times: 1 });
    sim.faults.add({ match: { route: GITHUB_ROUTES.userRepos }, status: 429, times: 1 });
    for (const status of [403, 429]) {
      const res = await api('/user/repos', token);
      expect(res.status).toBe(status);
      expect(res.headers.get('retry-after')).toBe('60');
      expect(await res.json()).toMatchObject({
        message: expect.stringContaining('secondary rate limit'),
        documentation_url: expect.stringContaining('secondary-rate-limits'),
        status: String(status),
      });
    }
    expect((await api('/user/repos', token)).status).toBe(200);
    // Faulted answers never reached the handler, so they cost no quota.
    expect(sim.quota(token)?.used).toBe(1);
  });
});

describe('request checks and views', () => {
  it('needs a token (401 Requires authentication) and accepts both `token` and `Bearer`', async () => {
    const none = await api('/user', undefined);
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ message: 'Requires authentication', status: '401' });
    const { access_token: token } = sim.issueUserToken('octo-ada');
    const classic = await fetch(`${base}/user`, { headers: { authorization: `token ${token}` } });
    expect(classic.status).toBe(200);
  });

  it('refuses an unsupported X-GitHub-Api-Version (400) and an Accept without JSON (415)', async () => {
    const { access_token: token } = sim.issueUserToken('octo-ada');
    const version = await api('/user', token, { 'x-github-api-version': '2020-01-01' });
    expect(version.status).toBe(400);
    expect(await version.json()).toMatchObject({ message: 'API version 2020-01-01 is not supported.' });
    const media = await api('/user', token, { accept: 'text/html' });
    expect(media.status).toBe(415);
    const ok = await api('/user', token, {
      accept: 'application/json',
      'x-github-api-version': '2026-03-10',
    });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-github-api-version-selected')).toBe('2026-03-10');
    const noVersion = await fetch(`${base}/user`, { headers: { authorization: `Bearer ${token}` } });
    expect(noVersion.headers.get('x-github-api-version-selected')).toBe('2022-11-28');
    expect(sim.quota(token)?.used).toBe(2);
  });

  it('GET /user is the private view with read:user and the public view without it', async () => {
    const priv = (await (
      await api('/user', sim.issueUserToken('octo-ada', ['read:user']).access_token)
    ).json()) as Record<string, unknown>;
    expect(priv).toMatchObject({
      login: 'octo-ada',
      user_view_type: 'private',
      two_factor_authentication: true,
    });
    const pub = (await (
      await api('/user', sim.issueUserToken('octo-ada', []).access_token)
    ).json()) as Record<string, unknown>;
    expect(pub).toMatchObject({ login: 'octo-ada', user_view_type: 'public' });
    expect(pub).not.toHaveProperty('two_factor_authentication');
    expect(pub.public_repos).toBe(sim.repositories('octo-ada').filter((r) => !r.private).length);
  });

  it('serves the avatar GET /user points at', async () => {
    const user = (await (await api('/user', sim.issueUserToken('octo-ada').access_token)).json()) as {
      avatar_url: string;
    };
    expect(user.avatar_url.startsWith(base)).toBe(true);
    const res = await fetch(user.avatar_url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/svg+xml');
    expect(await res.text()).toMatch(/^<svg /);
  });

  it('addAccount adds a user with no repositories who can connect', async () => {
    sim.addAccount({ login: 'new-octo', name: 'New Octo' });
    expect(() => sim.addAccount({ login: 'NEW-octo' })).toThrow(/exists already/);
    expect(() => sim.addAccount({ login: '-bad-' })).toThrow(/GitHub login/);
    const token = await connect('read:user repo', 'new-octo');
    const me = (await (await api('/user', token.access_token)).json()) as {
      login: string;
      public_repos: number;
    };
    expect(me).toMatchObject({ login: 'new-octo', public_repos: 0 });
    const repos = await api('/user/repos', token.access_token);
    expect(await repos.json()).toEqual([]);
    expect(repos.headers.get('link')).toBeNull();
  });

  it('seeds deterministically', () => {
    const a = seedGitHub();
    const b = seedGitHub();
    expect(a).toEqual(b);
    expect(a.repos.filter((r) => r.ownerLogin === 'octo-ada')).toHaveLength(250);
    expect(new Set(a.repos.map((r) => `${r.ownerLogin}/${r.name}`)).size).toBe(a.repos.length);
  });
});

describe('webhooks', () => {
  let receiver: Server;
  let receiverUrl: string;
  let received: Array<{ headers: IncomingHttpHeaders; body: string }>;
  const secret = 'webhook-secret-for-tests';

  beforeEach(async () => {
    received = [];
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks/github`;
    sim.setWebhook({ url: receiverUrl, secret });
  });

  afterEach(async () => {
    await new Promise((resolve) => receiver.close(resolve));
  });

  function hmac(body: string, key = secret): string {
    return `sha256=${createHmac('sha256', key).update(body).digest('hex')}`;
  }

  it('addRepository sends signed repository (created) and push events with GitHub headers', async () => {
    const repo = sim.addRepository('octo-ben', { name: 'fresh-start', description: 'new' });
    await sim.flushWebhooks();
    expect(received.map((r) => r.headers['x-github-event'])).toEqual(['repository', 'push']);
    for (const { headers, body } of received) {
      expect(headers['x-hub-signature-256']).toBe(hmac(body));
      expect(headers['x-hub-signature']).toBe(
        `sha1=${createHmac('sha1', secret).update(body).digest('hex')}`,
      );
      expect(headers['x-github-delivery']).toMatch(/^[0-9a-f-]{36}$/);
      expect(headers['x-github-hook-id']).toMatch(/^\d+$/);
      expect(headers['content-type']).toBe('application/json');
      expect(headers['user-agent']).toMatch(/^GitHub-Hookshot\//);
    }
    const created = JSON.parse(received[0]?.body ?? '{}') as { action: string; repository: { id: number } };
    expect(created).toMatchObject({ action: 'created', repository: { id: repo.id } });
    const push = JSON.parse(received[1]?.body ?? '{}') as {
      ref: string;
      created: boolean;
      commits: unknown[];
    };
    expect(push).toMatchObject({ ref: 'refs/heads/main', created: true });
    expect(push.commits).toHaveLength(1);
    expect(sim.webhookDeliveries.every((d) => d.ok)).toBe(true);
  });

  it('revokeGrant sends github_app_authorization (revoked) with the user as sender', async () => {
    sim.issueUserToken('octo-ada');
    sim.revokeGrant('octo-ada');
    await sim.flushWebhooks();
    expect(received).toHaveLength(1);
    expect(received[0]?.headers['x-github-event']).toBe('github_app_authorization');
    expect(JSON.parse(received[0]?.body ?? '{}')).toMatchObject({
      action: 'revoked',
      sender: { login: 'octo-ada' },
    });
  });

  it('starRepository sends star (created); sendWebhook signs any payload; a redelivery keeps its GUID', async () => {
    sim.starRepository(`octo-ada/${sim.repositories('octo-ada')[0]?.name}`, 'octo-ben');
    const custom = sim.sendWebhook('ping', { zen: 'Keep it logically awesome.', hook_id: 1 });
    sim.redeliverWebhook(custom.guid);
    const wrong = sim.sendWebhook('ping', { zen: 'x' }, { secret: 'another-secret' });
    await sim.flushWebhooks();
    expect(received.map((r) => r.headers['x-github-event'])).toEqual(['star', 'ping', 'ping', 'ping']);
    expect(JSON.parse(received[0]?.body ?? '{}')).toMatchObject({
      action: 'created',
      sender: { login: 'octo-ben' },
    });
    expect(received[1]?.headers['x-github-delivery']).toBe(custom.guid);
    expect(received[2]?.headers['x-github-delivery']).toBe(custom.guid);
    expect(received[2]?.body).toBe(received[1]?.body);
    expect(received[3]?.headers['x-github-delivery']).toBe(wrong.guid);
    expect(received[3]?.headers['x-hub-signature-256']).toBe(hmac(wrong.body, 'another-secret'));
    expect(received[3]?.headers['x-hub-signature-256']).not.toBe(hmac(wrong.body));
  });

  it('sends nothing when no webhook is set, and sendWebhook says why', async () => {
    sim.setWebhook(undefined);
    sim.addRepository('octo-ada', { name: 'quiet' });
    await sim.flushWebhooks();
    expect(received).toHaveLength(0);
    expect(() => sim.sendWebhook('ping', {})).toThrow(/no webhook is set/);
  });

  it('does not retry a failed delivery (GitHub does not); the attempt is recorded', async () => {
    sim.setWebhook({ url: 'http://127.0.0.1:9/unreachable', secret });
    sim.sendWebhook('ping', { zen: 'x' });
    await sim.flushWebhooks();
    expect(sim.webhookDeliveries).toHaveLength(1);
    expect(sim.webhookDeliveries[0]?.ok).toBe(false);
  });
});
