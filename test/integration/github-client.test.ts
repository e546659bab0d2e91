// The GitHub client against the GitHub simulator, with a clock the test moves: a stale entry is
// revalidated with If-None-Match and GitHub's 304 costs no quota (GitHub's documented rule, which
// the simulator enforces); a change at GitHub changes the ETag and is fetched. GitHub's
// x-ratelimit-* feed a rate limiter per user: one user's exhausted quota pauses only that user.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UserCredentialSource } from '../../src/accounts/provider.js';
import { GitHubClient } from '../../src/providers/github/client.js';
import { createGitHubSimulator, type GitHubSimulator } from '../../src/simulators/github/simulator.js';
import { ResponseCache } from '../../src/upstream/cache.js';
import { isUpstreamCode } from '../../src/upstream/errors.js';
import { createPipeline } from '../../src/upstream/policies/pipeline.js';
import { PoolRegistry } from '../../src/upstream/pools.js';

describe('GitHub client', () => {
  let sim: GitHubSimulator;
  let url: string;
  const pools = new PoolRegistry();
  let now = Date.now();
  const tokens = new Map<string, { accessToken: string; accountId: string }>();
  // Users' credentials: tokens the simulator issued, as connected accounts would hand them out.
  const accounts: UserCredentialSource = {
    credential: async (userId) => {
      const credential = tokens.get(userId);
      if (!credential) throw new Error(`no token for ${userId}`);
      return credential;
    },
    markReconnectRequired: async () => true,
    usersOfAccount: async () => [],
    markAccountRevoked: async () => [],
  };
  const connect = (userId: string, login: string) => {
    const account = sim.accounts.get(login) ?? sim.addAccount({ login });
    tokens.set(userId, {
      accessToken: sim.issueUserToken(login).access_token,
      accountId: String(account.id),
    });
  };
  const pipeline = (options: { rateLimit?: boolean } = {}) =>
    createPipeline({
      provider: 'github',
      concurrency: { limit: 8, poolConnections: 8 },
      rateLimitScope: 'credential',
      ...(options.rateLimit ? { rateLimit: { ratePerSecond: 100, maxWaitMs: 0, maxPauseMs: 60_000 } } : {}),
    });
  /** A client with an empty cache of its own over `executor`. */
  const client = (executor = pipeline()) =>
    new GitHubClient({
      baseUrl: url,
      clientId: sim.clientId,
      clientSecret: sim.clientSecret,
      accounts,
      pools,
      cache: new ResponseCache({ maxBytes: 8 * 1024 * 1024, now: () => now }),
      cachePolicy: { ttlSeconds: 60 },
      executor,
    });

  beforeAll(async () => {
    sim = createGitHubSimulator({ rateLimit: 3 });
    url = await sim.start();
  });
  afterAll(async () => {
    await sim.close();
    await pools.destroy();
  });

  it('revalidates a stale page with its ETag: the 304 costs no quota, a change at GitHub is fetched', async () => {
    connect('usr_etag', 'octo-ben');
    const github = client();
    const token = tokens.get('usr_etag')!.accessToken;
    const first = await github.repositoriesPage('usr_etag', { first: 3, after: null }, {});
    expect(first.edges).toHaveLength(3);
    expect(sim.quota(token)?.used).toBe(1);

    now += 61_000; // past GitHub's max-age and the TTL: stale
    sim.resetCounters();
    const again = await github.repositoriesPage('usr_etag', { first: 3, after: null }, {});
    expect(again).toEqual(first);
    const revalidation = sim.requests.filter((r) => r.route === 'GET /user/repos');
    expect(revalidation).toHaveLength(1);
    expect(revalidation[0]!.headers['if-none-match']).toMatch(/^W\/"[0-9a-f]{64}"$/);
    expect(sim.quota(token)?.used).toBe(1); // answered 304: no quota spent

    now += 30_000; // fresh again after the 304: no call at all
    await github.repositoriesPage('usr_etag', { first: 3, after: null }, {});
    expect(sim.requests.filter((r) => r.route === 'GET /user/repos')).toHaveLength(1);

    const name = first.edges[0]!.node.name;
    const repo = sim.starRepository(`octo-ben/${name}`, 'octo-ada');
    now += 61_000;
    const changed = await github.repositoriesPage('usr_etag', { first: 3, after: null }, {});
    expect(changed.edges[0]!.node).toMatchObject({ name, stars: repo.stargazers });
    expect(repo.stargazers).toBe(first.edges[0]!.node.stars + 1);
    expect(sim.quota(token)?.used).toBe(2);
  });

  it('pauses a user whose x-ratelimit-remaining reached 0, without calling GitHub; another user is served', async () => {
    connect('usr_quota_a', 'octo-quota-a');
    connect('usr_quota_b', 'octo-quota-b');
    const limited = pipeline({ rateLimit: true });
    // The simulator allows 3 requests per user per hour: three clients with empty caches use them up.
    for (let i = 0; i < 3; i++) await client(limited).getViewerAccount('usr_quota_a', {});
    const token = tokens.get('usr_quota_a')!.accessToken;
    expect(sim.quota(token)?.remaining).toBe(0);
    sim.resetCounters();
    const refused = await client(limited)
      .getViewerAccount('usr_quota_a', {})
      .catch((e: unknown) => e);
    expect(isUpstreamCode(refused, 'UPSTREAM_RATE_LIMITED')).toBe(true);
    expect(sim.requests).toHaveLength(0); // refused by Junction's own limiter, GitHub never asked
    expect((await client(limited).getViewerAccount('usr_quota_b', {})).login).toBe('octo-quota-b');
    expect(sim.requests).toHaveLength(1);
  });
});
