// OAuth2 client credentials against the users simulator's real token endpoint.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createUsersSimulator, type UsersSimulator } from '../../../src/simulators/users/simulator.js';
import { OAuth2ClientCredentialsAuth } from '../../../src/upstream/auth.js';

let sim: UsersSimulator;
beforeEach(async () => {
  sim = createUsersSimulator({ seedCount: 0, tokenTtlSeconds: 600 });
  await sim.start();
});
afterEach(() => sim.close());

function auth(
  now: () => number,
  extra: Partial<ConstructorParameters<typeof OAuth2ClientCredentialsAuth>[0]> = {},
) {
  return new OAuth2ClientCredentialsAuth({
    provider: 'users',
    tokenUrl: `${sim.url}/oauth/token`,
    clientId: sim.credentials.clientId,
    clientSecret: sim.credentials.clientSecret,
    now,
    ...extra,
  });
}

describe('OAuth2ClientCredentialsAuth', () => {
  it('caches the token until shortly before it expires', async () => {
    let clock = 1_000_000;
    const a = auth(() => clock, { refreshSkewSeconds: 30 });
    const h1: Record<string, string> = {};
    await a.authorize(h1);
    clock += 569_000; // 569 s of a 600 s token: still outside the 30 s skew
    const h2: Record<string, string> = {};
    await a.authorize(h2);
    expect(h2.authorization).toBe(h1.authorization);
    expect(sim.tokensIssued()).toBe(1);
    clock += 2_000; // 571 s: inside the skew, so refresh
    const h3: Record<string, string> = {};
    await a.authorize(h3);
    expect(h3.authorization).not.toBe(h1.authorization);
    expect(sim.tokensIssued()).toBe(2);
  });

  it('refreshes an expired token once while 20 requests wait for it', async () => {
    let clock = 1_000_000;
    const a = auth(() => clock);
    await a.authorize({});
    clock += 3_600_000;
    const headers = Array.from({ length: 20 }, () => ({}) as Record<string, string>);
    await Promise.all(headers.map((h) => a.authorize(h)));
    expect(sim.tokensIssued()).toBe(2);
    expect(new Set(headers.map((h) => h.authorization)).size).toBe(1);
  });

  it('shares one refresh among concurrent 401s for the same token', async () => {
    const a = auth(Date.now);
    const h: Record<string, string> = {};
    const used = await a.authorize(h);
    const results = await Promise.all(Array.from({ length: 10 }, () => a.refreshAfterUnauthorized(used)));
    expect(results.every(Boolean)).toBe(true);
    expect(sim.tokensIssued()).toBe(2);
  });

  it('fails with UPSTREAM_REJECTED on wrong client credentials, without echoing the secret', async () => {
    const a = auth(Date.now, { clientSecret: 'wrong-secret-value' });
    const error = await a.authorize({}).catch((e: unknown) => e as Error);
    expect(error).toMatchObject({ code: 'UPSTREAM_REJECTED', provider: 'users', status: 401 });
    expect(String((error as Error).message)).not.toContain('wrong-secret-value');
  });

  it('fails with UPSTREAM_RATE_LIMITED on a 429, its Retry-After bounded by maxPauseMs', async () => {
    sim.faults.add({
      match: { route: 'POST /oauth/token' },
      status: 429,
      headers: { 'retry-after': '86400' },
    });
    const error = await auth(Date.now, { maxPauseMs: 30_000 })
      .authorize({})
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'UPSTREAM_RATE_LIMITED',
      provider: 'users',
      status: 429,
      retryAfterSeconds: 30,
      retryable: true,
      notSent: true,
      rateLimitHeaders: { 'retry-after': '86400' },
    });
  });

  it('fails with UPSTREAM_BAD_RESPONSE when the token endpoint answers garbage', async () => {
    sim.faults.add({ match: { route: 'POST /oauth/token' }, malformed: true });
    await expect(auth(Date.now).authorize({})).rejects.toMatchObject({ code: 'UPSTREAM_BAD_RESPONSE' });
  });
});
