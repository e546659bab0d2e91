// The users provider end to end: GraphQL -> loader -> cache -> REST client -> users simulator,
// asserted from the simulator's own request counters.
import { afterEach, describe, expect, it } from 'vitest';
import { batchCalls, type Harness, startHarness, USER_FETCHES } from '../helpers/harness.js';

const ids = (n: number, from = 1) =>
  Array.from({ length: n }, (_, i) => `usr_${String(from + i).padStart(4, '0')}`);
const manyUsersQuery = (list: string[]) =>
  `{ ${list.map((id, i) => `u${i}: user(id: "${id}") { id name }`).join(' ')} }`;

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('batching and caching', () => {
  it('50 users in one query make exactly one upstream batch call', async () => {
    h = await startHarness();
    const res = await h.gql(manyUsersQuery(ids(50)));
    expect(res.body.errors).toBeUndefined();
    expect(Object.keys(res.body.data)).toHaveLength(50);
    expect(res.body.data.u49).toEqual({ id: 'usr_0050', name: expect.any(String) });
    const calls = batchCalls(h.users);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.query.get('ids')!.split(',')).toHaveLength(50);
    expect(h.users.count({ route: 'GET /users/:id' })).toBe(0);
  });

  it('makes two batch calls when maxBatch is 25', async () => {
    h = await startHarness({ env: { USERS_MAX_BATCH: '25' } });
    const res = await h.gql(manyUsersQuery(ids(50)));
    expect(res.body.errors).toBeUndefined();
    const calls = batchCalls(h.users);
    expect(calls).toHaveLength(2);
    expect(calls.map((c) => c.query.get('ids')!.split(',').length)).toEqual([25, 25]);
  });

  it('fetches the same user requested twice in one query once', async () => {
    h = await startHarness();
    const res = await h.gql('{ a: user(id: "usr_0007") { id } b: user(id: "usr_0007") { name } me { id } }');
    expect(res.body.data.a.id).toBe('usr_0007');
    const calls = batchCalls(h.users);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.query.get('ids')!.split(',').sort()).toEqual(['usr_0001', 'usr_0007']);
  });

  it('answers a second identical query within the TTL with zero upstream calls', async () => {
    h = await startHarness();
    const query = manyUsersQuery(ids(10, 100));
    const first = await h.gql(query);
    const before = h.users.requests.length;
    const second = await h.gql(query);
    expect(second.body).toEqual(first.body);
    expect(h.users.requests.length - before).toBe(0);
  });

  it('keys the cache by credential: a client with another secret does not reuse entries', async () => {
    h = await startHarness();
    const { UsersClient } = await import('../../src/providers/users/client.js');
    const { OAuth2ClientCredentialsAuth } = await import('../../src/upstream/auth.js');
    await h.app.services.clients.users.getUser('usr_0005', {});
    const other = new UsersClient({
      baseUrl: h.users.url,
      pools: h.app.pools,
      cache: h.app.cache,
      cachePolicy: { ttlSeconds: 60 },
      auth: new OAuth2ClientCredentialsAuth({
        provider: 'users',
        tokenUrl: `${h.users.url}/oauth/token`,
        clientId: 'junction-demo',
        clientSecret: 'another-secret',
      }),
    });
    expect(other.credentialId).not.toBe(h.app.services.clients.users.credentialId);
    // The other credential is refused by the service, so a shared entry would have hidden that.
    await expect(other.getUser('usr_0005', {})).rejects.toMatchObject({ code: 'UPSTREAM_REJECTED' });
  });

  it('returns null, without an error, for an unknown id', async () => {
    h = await startHarness();
    const res = await h.gql('{ user(id: "usr_9999") { id } ok: user(id: "usr_0002") { id } }');
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data).toEqual({ user: null, ok: { id: 'usr_0002' } });
  });
});

describe('OAuth2 client credentials', () => {
  it('refreshes an expired token once while 20 requests wait for it', async () => {
    h = await startHarness({ env: { USERS_CACHE_TTL_SECONDS: '0' } });
    await h.gql('{ user(id: "usr_0001") { id } }');
    expect(h.users.tokensIssued()).toBe(1);
    h.users.expireTokens();
    const results = await Promise.all(ids(20, 200).map((id) => h!.gql(`{ user(id: "${id}") { id } }`)));
    for (const [i, r] of results.entries()) expect(r.body.data.user.id).toBe(ids(20, 200)[i]);
    expect(h.users.tokensIssued()).toBe(2);
  });

  it('answers a 401 with one refresh and a single retry', async () => {
    h = await startHarness();
    await h.gql('{ user(id: "usr_0001") { id } }');
    h.users.expireTokens();
    h.users.resetCounters();
    const res = await h.gql('{ user(id: "usr_0003") { id } }');
    expect(res.body.data.user.id).toBe('usr_0003');
    expect(h.users.tokensIssued()).toBe(1);
    expect(batchCalls(h.users)).toHaveLength(2); // the 401, then the retry
  });

  it('gives up after one retry when the service keeps answering 401', async () => {
    h = await startHarness();
    h.users.faults.add({
      match: USER_FETCHES,
      status: 401,
      body: { error: { code: 'invalid_token' } },
    });
    const res = await h.gql('{ user(id: "usr_0003") { id } }');
    expect(res.body.data.user).toBeNull();
    expect(res.body.errors![0].extensions).toMatchObject({
      code: 'UPSTREAM_REJECTED',
      provider: 'users',
      upstreamStatus: 401,
    });
    expect(batchCalls(h.users)).toHaveLength(2);
    expect(h.users.tokensIssued()).toBe(2);
  });
});

describe('errors', () => {
  it('maps an upstream 500 to UPSTREAM_UNAVAILABLE with provider users, leaking no secret', async () => {
    h = await startHarness({ env: { USERS_CLIENT_SECRET: 'demo-secret' } });
    h.users.faults.add({
      match: USER_FETCHES,
      status: 500,
      body: { error: { message: 'db down at postgres://admin:hunter2@db' } },
    });
    const res = await h.gql('{ user(id: "usr_0004") { id } _junction }');
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ user: null, _junction: true });
    const [error] = res.body.errors!;
    expect(error!.path).toEqual(['user']);
    expect(error!.extensions).toMatchObject({
      code: 'UPSTREAM_UNAVAILABLE',
      provider: 'users',
      upstreamStatus: 500,
      retryable: true,
    });
    expect(error!.extensions!.requestId).toMatch(/^req_/);
    for (const leak of ['demo-secret', 'hunter2', 'utk_', 'Bearer', h.users.url, 'stacktrace']) {
      expect(res.text).not.toContain(leak);
    }
  });

  it('maps a malformed upstream body to UPSTREAM_BAD_RESPONSE', async () => {
    h = await startHarness();
    h.users.faults.add({ match: USER_FETCHES, malformed: true });
    const res = await h.gql('{ user(id: "usr_0004") { id } }');
    expect(res.body.errors![0]!.extensions).toMatchObject({
      code: 'UPSTREAM_BAD_RESPONSE',
      provider: 'users',
    });
  });

  it('maps an unreachable service to UPSTREAM_UNAVAILABLE', async () => {
    h = await startHarness();
    await h.users.close();
    const res = await h.gql('{ user(id: "usr_0004") { id } }');
    expect(res.body.errors![0]!.extensions).toMatchObject({
      code: 'UPSTREAM_UNAVAILABLE',
      provider: 'users',
    });
  });
});

describe('GraphQL API auth', () => {
  it('rejects a missing token on protected fields with UNAUTHENTICATED', async () => {
    h = await startHarness();
    const res = await h.gql('{ me { id } _junction }', { token: null });
    expect(res.body.data).toEqual({ me: null, _junction: true });
    expect(res.body.errors![0]!.extensions!.code).toBe('UNAUTHENTICATED');
    expect(h.users.requests).toHaveLength(0);
  });

  it.each([
    ['garbage', async () => 'not.a.jwt'],
    [
      'expired',
      async (harness: Harness) => {
        const { SignJWT } = await import('jose');
        return new SignJWT({})
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('usr_0001')
          .setIssuedAt(1_600_000_000)
          .setExpirationTime(1_600_000_100)
          .sign(new TextEncoder().encode(harness.jwtSecret));
      },
    ],
    [
      'wrongly signed',
      async () => {
        const { mintToken } = await import('../../src/cli/token.js');
        return mintToken('some-other-secret-that-is-long-enough-0123456789', {
          sub: 'usr_0001',
          admin: true,
        });
      },
    ],
    [
      'alg none',
      async () =>
        `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"usr_0001","roles":["admin"]}').toString('base64url')}.`,
    ],
  ])('rejects a %s token with UNAUTHENTICATED', async (_name, make) => {
    h = await startHarness();
    const res = await h.gql('{ me { id } }', { token: await make(h) });
    expect(res.status).toBe(401);
    expect(res.body.errors![0]!.extensions!.code).toBe('UNAUTHENTICATED');
    expect(res.body.data ?? null).toBeNull();
    expect(h.users.requests).toHaveLength(0);
  });

  it('lets user A read A but not B; an admin reads B', async () => {
    h = await startHarness();
    const a = await h.token('usr_0010');
    const own = await h.gql('{ me { id } user(id: "usr_0010") { id email } }', { token: a });
    expect(own.body.errors).toBeUndefined();
    expect(own.body.data.user.id).toBe('usr_0010');
    const other = await h.gql('{ user(id: "usr_0011") { id email } }', { token: a });
    expect(other.body.data.user).toBeNull();
    expect(other.body.errors![0]!.extensions!.code).toBe('FORBIDDEN');
    const list = await h.gql('{ users(first: 2) { nodes { id } } }', { token: a });
    expect(list.body.errors![0]!.extensions!.code).toBe('FORBIDDEN');
    const admin = await h.gql('{ user(id: "usr_0011") { id } }');
    expect(admin.body.data.user.id).toBe('usr_0011');
  });
});

describe('users connection', () => {
  it('pages through all 1000 users with first/after, each exactly once', async () => {
    h = await startHarness();
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 20; page += 1) {
      const res: Awaited<ReturnType<Harness['gql']>> = await h.gql(
        'query($after: String) { users(first: 70, after: $after) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }',
        { variables: { after } },
      );
      const conn = res.body.data.users;
      seen.push(...conn.edges.map((e: any) => e.node.id));
      if (!conn.pageInfo.hasNextPage) break;
      after = conn.pageInfo.endCursor;
    }
    expect(seen).toHaveLength(1000);
    expect(new Set(seen).size).toBe(1000);
  });

  it('resumes from any edge cursor, not just the end cursor', async () => {
    h = await startHarness();
    const first = await h.gql('{ users(first: 5) { edges { cursor node { id } } } }');
    const third = first.body.data.users.edges[2];
    const next = await h.gql('query($a: String) { users(first: 2, after: $a) { nodes { id } } }', {
      variables: { a: third.cursor },
    });
    expect(next.body.data.users.nodes.map((n: any) => n.id)).toEqual(['usr_0004', 'usr_0005']);
  });

  it('refuses a forged cursor and an out-of-range first with BAD_USER_INPUT', async () => {
    h = await startHarness();
    const forged = await h.gql('{ users(first: 2, after: "bm9wZQ") { nodes { id } } }');
    expect(forged.body.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    const tooMany = await h.gql('{ users(first: 1000) { nodes { id } } }');
    expect(tooMany.body.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    expect(h.users.requests.filter((r) => r.route === 'GET /users')).toHaveLength(0);
  });
});

describe('HTTP surface', () => {
  it('serves /healthz and /readyz with the provider state', async () => {
    h = await startHarness();
    await h.gql('{ user(id: "usr_0001") { id } }');
    const live = await fetch(`${h.url}/healthz`);
    expect((await live.json()) as any).toEqual({ status: 'ok' });
    const ready = await fetch(`${h.url}/readyz`);
    const body = (await ready.json()) as any;
    expect(ready.status).toBe(200);
    expect(body.providers.users).toMatchObject({
      circuit: 'closed',
      lastError: null,
      lastSuccessAt: expect.any(String),
    });
  });

  it('returns the x-request-id it was given and forwards it to the provider', async () => {
    h = await startHarness();
    const res = await h.gql('{ user(id: "usr_0042") { id } }', {
      headers: { 'x-request-id': 'trace-abc-123' },
    });
    expect(res.headers.get('x-request-id')).toBe('trace-abc-123');
    expect(batchCalls(h.users)[0]!.headers['x-request-id']).toBe('trace-abc-123');
  });

  it('resolves User entities through the same loader (_entities), in one batch', async () => {
    h = await startHarness();
    const reps = ids(30).map((id) => ({ __typename: 'User', id }));
    const res = await h.gql(
      'query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id name } } }',
      { variables: { r: reps } },
    );
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data._entities).toHaveLength(30);
    expect(batchCalls(h.users)).toHaveLength(1);
  });
});
