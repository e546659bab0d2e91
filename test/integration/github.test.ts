// GitHub as a connected-account provider, through the GraphQL API against the GitHub simulator, on
// PGlite and on PostgreSQL:
// a user connects, reads their account and repositories with their own token (Link pages as Relay
// cursors, the cache and the rate limiter per user), webhooks invalidate and push, revocation and
// 401s make the connection RECONNECT_REQUIRED, disconnect revokes at the provider.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAccountsDatabase, openOnFirstUse } from '../../src/accounts/connectedAccounts.js';
import { beginConnect, connectGitHub } from '../helpers/connect.js';
import { type Harness, startHarness } from '../helpers/harness.js';
import { connectWs, until } from '../helpers/ws.js';
import { createTestDatabase, ENGINES, type TestDatabase } from '../unit/accounts/support/databases.js';

const ME_GITHUB = `query Me($first: Int, $after: String) {
  me { id github { login name avatarUrl profileUrl
    repositories(first: $first, after: $after) {
      edges { cursor } nodes { name fullName description stars language updatedAt url isPrivate }
      pageInfo { hasNextPage endCursor } } } } }`;
const NAMES = `query Names($first: Int, $after: String) {
  me { github { repositories(first: $first, after: $after) { nodes { name } pageInfo { hasNextPage endCursor } } } } }`;
const CONNECTIONS = `query Connections($id: ID!) {
  user(id: $id) { connectedAccounts { provider status login scopes connectedAt } } }`;

const PREVIOUS_SECRET = 'the-webhook-secret-being-rotated-out';

// On both engines the connected accounts run on: the embedded PGlite and PostgreSQL.
describe.each(ENGINES)('GitHub connected account on %s', (engine) => {
  let db: TestDatabase;
  let h: Harness;
  let logins = 0;
  /** A GitHub account of its own for a test (no repositories unless it adds some). */
  const freshLogin = () => h.github.addAccount({ login: `octo-test-${++logins}` }).login;
  const reposCalls = () => h.github.requests.filter((r) => r.route === 'GET /user/repos').length;
  const bearer = (header: string | string[] | undefined) => String(header ?? '').replace(/^Bearer /, '');

  beforeAll(async () => {
    // A secret of the configuration beside the simulator's own: rotation keeps both for a while.
    db = await createTestDatabase(engine);
    h = await startHarness({
      github: { autoApprove: true },
      env: { GITHUB_WEBHOOK_SECRET: PREVIOUS_SECRET },
      accountsDatabase: openOnFirstUse(engine, () =>
        openAccountsDatabase({ databaseUrl: db.url, pgliteDir: db.dir ?? '' }),
      ),
    });
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    await db?.drop();
  });

  it('is null before connecting; after, reads the account and its repositories with the user’s own token', async () => {
    const token = await h.token('usr_0100');
    const before = await h.gql(ME_GITHUB, { token, variables: { first: 5 } });
    expect(before.body.errors).toBeUndefined();
    expect(before.body.data.me.github).toBeNull();

    const landed = await connectGitHub(h, 'usr_0100', 'octo-ada');
    expect(new URL(landed).searchParams.get('connected')).toBe('github');

    h.github.resetCounters();
    const after = await h.gql(ME_GITHUB, { token, variables: { first: 5 } });
    expect(after.body.errors).toBeUndefined();
    const github = after.body.data.me.github;
    expect(github).toMatchObject({ login: 'octo-ada', name: 'Ada Octo' });
    expect(github.avatarUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/avatars\/u\/\d+/);
    expect(github.profileUrl).toMatch(/\/octo-ada$/);
    expect(github.repositories.nodes).toHaveLength(5);
    expect(github.repositories.nodes[0]).toMatchObject({
      name: expect.any(String),
      fullName: expect.stringMatching(/^octo-ada\//),
      stars: expect.any(Number),
      updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      url: expect.stringMatching(/\/octo-ada\//),
    });
    expect(github.repositories.pageInfo.hasNextPage).toBe(true);

    // What GitHub saw: the user's token, the pinned API version and GitHub's media type.
    const calls = h.github.requests.filter((r) => r.route === 'GET /user' || r.route === 'GET /user/repos');
    expect(calls.map((r) => r.route).sort()).toEqual(['GET /user', 'GET /user/repos']);
    for (const call of calls) {
      expect(call.headers.accept).toBe('application/vnd.github+json');
      expect(call.headers['x-github-api-version']).toBe('2022-11-28');
      expect(h.github.quota(bearer(call.headers.authorization))).toBeDefined();
    }
    const repos = calls.find((r) => r.route === 'GET /user/repos');
    expect(Object.fromEntries(repos!.query)).toEqual({ sort: 'full_name', per_page: '100', page: '1' });
  });

  it('pages 250 repositories through Relay cursors made from Link headers: each once, in order, three GitHub calls', async () => {
    await connectGitHub(h, 'usr_0101', 'octo-ada');
    const token = await h.token('usr_0101');
    h.github.resetCounters();
    const names: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const res = await h.gql(NAMES, { token, variables: { first: 40, after } });
      expect(res.body.errors).toBeUndefined();
      const connection = res.body.data.me.github.repositories;
      names.push(...connection.nodes.map((n: { name: string }) => n.name));
      pages += 1;
      if (!connection.pageInfo.hasNextPage) break;
      after = connection.pageInfo.endCursor;
      expect(pages).toBeLessThan(20);
    }
    const expected = h.github
      .repositories('octo-ada')
      .map((r) => r.name)
      .sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : 1));
    expect(names).toHaveLength(250);
    expect(names).toEqual(expected);
    expect(pages).toBe(7); // 40 a time
    // GitHub pages of 100 (page=1..3, from rel="next"), each fetched once however Junction's pages cut them.
    const pageParams = h.github.requests
      .filter((r) => r.route === 'GET /user/repos')
      .map((r) => r.query.get('page'));
    expect(pageParams).toEqual(['1', '2', '3']);

    // A cursor is opaque and checked: a tampered one is BAD_USER_INPUT, and no page=1000 is ever asked.
    const forged = Buffer.from(JSON.stringify(['v1', 'repositories', '1000000000', 0])).toString('base64url');
    const bad = await h.gql(NAMES, { token, variables: { first: 5, after: forged } });
    expect(bad.body.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'after' });
    const garbage = await h.gql(NAMES, { token, variables: { first: 5, after: 'not-a-cursor' } });
    expect(garbage.body.errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(h.github.requests.filter((r) => r.route === 'GET /user/repos')).toHaveLength(3);
  });

  it('keeps users apart: each reads their own account, and nothing one token fetched is served to another', async () => {
    await connectGitHub(h, 'usr_0102', 'octo-ada');
    await connectGitHub(h, 'usr_0103', 'octo-ben');
    const ada = await h.gql(NAMES, { token: await h.token('usr_0102'), variables: { first: 100 } });
    const ben = await h.gql(NAMES, { token: await h.token('usr_0103'), variables: { first: 100 } });
    expect(ada.body.data.me.github.repositories.nodes).toHaveLength(100);
    expect(ben.body.data.me.github.repositories.nodes).toHaveLength(7);
    const benNames = new Set(h.github.repositories('octo-ben').map((r) => r.name));
    expect(
      ben.body.data.me.github.repositories.nodes.every((n: { name: string }) => benNames.has(n.name)),
    ).toBe(true);
  });

  it('lets only the user read their GitHub data; connectedAccounts show admins the status only, never a token', async () => {
    await connectGitHub(h, 'usr_0104', 'octo-ben');
    const own = await h.gql(CONNECTIONS, { token: await h.token('usr_0104'), variables: { id: 'usr_0104' } });
    expect(own.body.data.user.connectedAccounts).toEqual([
      {
        provider: 'GITHUB',
        status: 'ACTIVE',
        login: 'octo-ben',
        scopes: ['read:user', 'repo'],
        connectedAt: expect.stringMatching(/^\d{4}-/),
      },
    ]);
    const admin = await h.gql(CONNECTIONS, { variables: { id: 'usr_0104' } }); // the harness's admin, usr_0001
    expect(admin.body.data.user.connectedAccounts).toEqual([
      { provider: 'GITHUB', status: 'ACTIVE', login: null, scopes: null, connectedAt: null },
    ]);
    const stranger = await h.gql(CONNECTIONS, {
      token: await h.token('usr_0105'),
      variables: { id: 'usr_0104' },
    });
    expect(stranger.body.errors?.[0].extensions.code).toBe('FORBIDDEN');

    const adminReads = await h.gql('query($id: ID!) { user(id: $id) { id github { login } } }', {
      variables: { id: 'usr_0104' },
    });
    expect(adminReads.body.data.user).toEqual({ id: 'usr_0104', github: null });
    expect(adminReads.body.errors?.[0]).toMatchObject({
      path: ['user', 'github'],
      extensions: { code: 'FORBIDDEN' },
    });
    // No token in any answer.
    const row = await h.app.accounts.store.getAccount('usr_0104', 'github');
    const tokens = h.app.accounts.store.readTokens(row!);
    for (const res of [own, admin]) {
      expect(res.text).not.toContain(tokens.accessToken);
      expect(res.text).not.toContain(tokens.refreshToken!);
    }
  });

  it('verifies webhooks (several secrets), and a push invalidates the owner’s repositories and pushes repositoryUpdated once', async () => {
    const login = freshLogin();
    h.github.addRepository(login, { name: 'first' });
    await h.github.flushWebhooks();
    await connectGitHub(h, 'usr_0110', login);
    const token = await h.token('usr_0110');
    const first = await h.gql(NAMES, { token, variables: { first: 10 } });
    expect(first.body.data.me.github.repositories.nodes.map((n: { name: string }) => n.name)).toEqual([
      'first',
    ]);

    const ws = await connectWs(h.url, { token });
    // Another user's repositories are theirs alone.
    const foreign = ws.subscribe({
      query: 'subscription { repositoryUpdated(userId: "usr_0001") { name } }',
    });
    expect((await foreign.next()).errors[0].extensions.code).toBe('FORBIDDEN');
    const sub = ws.subscribe({
      query: 'subscription { repositoryUpdated(userId: "usr_0110") { name fullName } }',
    });
    await new Promise((r) => setTimeout(r, 100)); // the subscribe message is on its way
    const before = reposCalls();
    h.github.addRepository(login, { name: 'second', description: 'pushed later' }); // repository + push events
    await h.github.flushWebhooks();
    const deliveries = h.github.webhookDeliveries.slice(-2);
    expect(deliveries.map((d) => d.status)).toEqual([200, 200]);
    // Both events (repository created, then the first push) were about this user's repositories.
    await until(() => sub.results.length === 2);
    expect(sub.results.map((r) => r.data.repositoryUpdated)).toEqual([
      { name: 'second', fullName: `${login}/second` },
      { name: 'second', fullName: `${login}/second` },
    ]);

    // Invalidated: the next read goes to GitHub again and sees the new repository.
    const second = await h.gql(NAMES, { token, variables: { first: 10 } });
    expect(second.body.data.me.github.repositories.nodes.map((n: { name: string }) => n.name)).toEqual([
      'first',
      'second',
    ]);
    expect(reposCalls()).toBe(before + 1);

    // A redelivery (same X-GitHub-Delivery) is acknowledged as a duplicate and pushes nothing.
    const last = h.github.webhooksSent.at(-1)!;
    h.github.redeliverWebhook(last.guid);
    await h.github.flushWebhooks();
    expect(h.github.webhookDeliveries.at(-1)).toMatchObject({ status: 200 });
    // A delivery signed with the other configured secret is accepted and acted on; a wrong secret
    // is refused and does nothing.
    h.github.sendWebhook('push', last.payload, { secret: PREVIOUS_SECRET });
    await h.github.flushWebhooks();
    expect(h.github.webhookDeliveries.at(-1)).toMatchObject({ status: 200 });
    h.github.sendWebhook('push', last.payload, { secret: 'not-the-secret' });
    await h.github.flushWebhooks();
    expect(h.github.webhookDeliveries.at(-1)).toMatchObject({ status: 400 });
    await until(() => sub.results.length >= 3);
    await new Promise((r) => setTimeout(r, 100)); // room for a push that should not come
    expect(sub.results).toHaveLength(3); // two events, plus the one signed with the other secret
    await ws.close();
  });

  it('acts on star events like push (invalidate, one push), and acknowledges events it has no use for', async () => {
    const login = freshLogin();
    h.github.addRepository(login, { name: 'starred' });
    await h.github.flushWebhooks();
    await connectGitHub(h, 'usr_0111', login);
    const token = await h.token('usr_0111');
    await h.gql(NAMES, { token, variables: { first: 10 } }); // cached now
    const ws = await connectWs(h.url, { token });
    const sub = ws.subscribe({ query: 'subscription { repositoryUpdated(userId: "usr_0111") { name } }' });
    await new Promise((r) => setTimeout(r, 100)); // the subscribe message is on its way
    const { payload } = h.github.webhooksSent.filter((d) => d.event === 'repository').at(-1)!;
    const { repository } = payload as { repository: unknown };
    const before = reposCalls();

    h.github.sendWebhook('ping', { zen: 'Keep it logically awesome.', hook_id: 1 });
    h.github.sendWebhook('watch', { action: 'started', repository });
    await h.github.flushWebhooks();
    expect(h.github.webhookDeliveries.slice(-2).map((d) => d.status)).toEqual([200, 200]);
    await h.gql(NAMES, { token, variables: { first: 10 } });
    expect(reposCalls()).toBe(before); // neither event touched the cache
    expect(sub.results).toHaveLength(0);

    h.github.sendWebhook('star', { action: 'created', starred_at: new Date().toISOString(), repository });
    await h.github.flushWebhooks();
    expect(h.github.webhookDeliveries.at(-1)).toMatchObject({ status: 200 });
    await until(() => sub.results.length === 1);
    expect(sub.results[0].data.repositoryUpdated).toEqual({ name: 'starred' });
    await h.gql(NAMES, { token, variables: { first: 10 } });
    expect(reposCalls()).toBe(before + 1); // invalidated
    await ws.close();
  });

  it('marks the connection RECONNECT_REQUIRED when the user revokes the app (github_app_authorization)', async () => {
    const login = freshLogin();
    await connectGitHub(h, 'usr_0120', login);
    const token = await h.token('usr_0120');
    expect((await h.gql(ME_GITHUB, { token, variables: { first: 1 } })).body.data.me.github.login).toBe(
      login,
    );
    expect(h.github.revokeGrant(login)).toBe(true);
    await h.github.flushWebhooks();
    expect(h.github.webhookDeliveries.at(-1)).toMatchObject({ status: 200 });

    const res = await h.gql(ME_GITHUB, { token, variables: { first: 1 } });
    expect(res.body.data.me.github).toBeNull();
    expect(res.body.errors).toEqual([
      expect.objectContaining({
        path: ['me', 'github'],
        extensions: { code: 'RECONNECT_REQUIRED', provider: 'github' },
      }),
    ]);
    const list = await h.gql(CONNECTIONS, { token, variables: { id: 'usr_0120' } });
    expect(list.body.data.user.connectedAccounts[0].status).toBe('RECONNECT_REQUIRED');

    // Connecting again makes it ACTIVE.
    await connectGitHub(h, 'usr_0120', login);
    expect((await h.gql(ME_GITHUB, { token, variables: { first: 1 } })).body.data.me.github.login).toBe(
      login,
    );
  });

  it('marks the connection RECONNECT_REQUIRED when GitHub answers 401 to the user’s token', async () => {
    const login = freshLogin();
    await connectGitHub(h, 'usr_0121', login);
    const token = await h.token('usr_0121');
    // The grant ends without a webhook reaching Junction (one GitHub could not deliver, say).
    h.github.setWebhook(undefined);
    try {
      h.github.revokeGrant(login);
    } finally {
      h.github.setWebhook({ url: `${h.url}/webhooks/github`, secret: h.githubWebhookSecret });
    }
    h.app.cache.clear();
    const res = await h.gql(NAMES, { token, variables: { first: 1 } });
    expect(res.body.errors?.[0]?.extensions).toEqual({ code: 'RECONNECT_REQUIRED', provider: 'github' });
    const row = await h.app.accounts.store.getAccount('usr_0121', 'github');
    expect(row?.status).toBe('RECONNECT_REQUIRED');
    // From now on Junction does not call GitHub with that token at all.
    const calls = h.github.requests.length;
    const again = await h.gql(NAMES, { token, variables: { first: 1 } });
    expect(again.body.errors?.[0].extensions.code).toBe('RECONNECT_REQUIRED');
    expect(h.github.requests.length).toBe(calls);
  });

  it('disconnects: the grant is revoked at GitHub, the connection is gone, a second disconnect is ACCOUNT_NOT_CONNECTED', async () => {
    const login = freshLogin();
    await connectGitHub(h, 'usr_0130', login);
    const token = await h.token('usr_0130');
    const row = await h.app.accounts.store.getAccount('usr_0130', 'github');
    const { accessToken } = h.app.accounts.store.readTokens(row!);
    expect(h.github.quota(accessToken)).toBeDefined();

    const DISCONNECT = 'mutation { disconnectAccount(provider: GITHUB) { provider revoked } }';
    const res = await h.gql(DISCONNECT, { token });
    expect(res.body).toEqual({ data: { disconnectAccount: { provider: 'GITHUB', revoked: true } } });
    expect(h.github.quota(accessToken)).toBeUndefined(); // the token no longer authenticates at GitHub
    expect(h.github.requests.filter((r) => r.route === 'DELETE /applications/:client_id/grant')).toHaveLength(
      1,
    );
    expect((await h.gql(ME_GITHUB, { token, variables: { first: 1 } })).body.data.me.github).toBeNull();
    expect((await h.gql(CONNECTIONS, { token, variables: { id: 'usr_0130' } })).body.data.user).toEqual({
      connectedAccounts: [],
    });
    const again = await h.gql(DISCONNECT, { token });
    expect(again.body.errors?.[0].extensions).toEqual({ code: 'ACCOUNT_NOT_CONNECTED', provider: 'github' });
  });

  it('treats a secondary rate limit (403 + Retry-After) as a 429: that user pauses, others are still served', async () => {
    const slow = freshLogin();
    const other = freshLogin();
    h.github.addRepository(slow, { name: 'a' });
    h.github.addRepository(other, { name: 'b' });
    await h.github.flushWebhooks();
    await connectGitHub(h, 'usr_0140', slow);
    await connectGitHub(h, 'usr_0141', other);
    h.app.cache.clear();
    const rule = h.github.faults.add({ match: { route: 'GET /user/repos' }, status: 403, times: 1 });
    try {
      const limited = await h.gql(NAMES, { token: await h.token('usr_0140'), variables: { first: 1 } });
      expect(limited.body.errors?.[0].extensions).toMatchObject({
        code: 'UPSTREAM_RATE_LIMITED',
        provider: 'github',
        retryable: true,
        retryAfter: 60,
        upstreamStatus: 403,
        documentationUrl: expect.stringMatching(/^https:\/\/docs\.github\.com\//),
      });
    } finally {
      rule.remove();
    }
    // That user's calls now wait out the pause without reaching GitHub...
    const calls = reposCalls();
    const paused = await h.gql(NAMES, { token: await h.token('usr_0140'), variables: { first: 1 } });
    expect(paused.body.errors?.[0].extensions).toMatchObject({
      code: 'UPSTREAM_RATE_LIMITED',
      provider: 'github',
    });
    expect(reposCalls()).toBe(calls);
    // ...while another user's bucket is their own.
    const served = await h.gql(NAMES, { token: await h.token('usr_0141'), variables: { first: 1 } });
    expect(served.body.errors).toBeUndefined();
    expect(served.body.data.me.github.repositories.nodes).toEqual([{ name: 'b' }]);
    expect(reposCalls()).toBe(calls + 1);
  });

  it('maps GitHub’s errors to the contract: a 5xx is UPSTREAM_UNAVAILABLE with its status, and nulls only github', async () => {
    const login = freshLogin();
    await connectGitHub(h, 'usr_0150', login);
    h.app.cache.clear();
    const rule = h.github.faults.add({ match: { route: 'GET /user' }, status: 502 });
    try {
      const res = await h.gql('{ me { id email github { login } } }', { token: await h.token('usr_0150') });
      expect(res.body.data.me).toMatchObject({ id: 'usr_0150', github: null });
      expect(res.body.data.me.email).toEqual(expect.any(String));
      expect(res.body.errors?.[0]).toMatchObject({
        path: ['me', 'github'],
        extensions: {
          code: 'UPSTREAM_UNAVAILABLE',
          provider: 'github',
          upstreamStatus: 502,
          retryable: true,
        },
      });
    } finally {
      rule.remove();
    }
  });

  it('answers connectAccount over HTTP only (its cookie binds the flow), and refuses a returnTo off the allowlist', async () => {
    const token = await h.token('usr_0160');
    const ws = await connectWs(h.url, { token });
    const op = ws.subscribe({ query: 'mutation { connectAccount(provider: GITHUB) { authorizationUrl } }' });
    const result = await op.next();
    expect(result.data).toBeNull();
    expect(result.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'provider' });
    expect(result.errors[0].message).toMatch(/over HTTP/);
    await ws.close();

    const res = await h.gql(
      'mutation { connectAccount(provider: GITHUB, returnTo: "https://evil.example/x") { authorizationUrl } }',
      {
        token,
      },
    );
    expect(res.body.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'returnTo' });
    expect(res.headers.getSetCookie()).toEqual([]);
    expect(
      await h.app.accounts.store.sql.query('SELECT 1 FROM oauth_states WHERE user_id = $1', ['usr_0160']),
    ).toMatchObject({
      rowCount: 0,
    });

    // Over HTTP: the authorization URL asks GitHub for the configured scopes with PKCE S256.
    const flow = await beginConnect(h, 'usr_0160');
    const url = new URL(flow.authorizationUrl);
    expect(`${url.origin}${url.pathname}`).toBe(`${h.github.url}/login/oauth/authorize`);
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      client_id: h.github.clientId,
      redirect_uri: `${h.url}/oauth/github/callback`,
      scope: 'read:user repo',
      code_challenge_method: 'S256',
    });
  });
});
