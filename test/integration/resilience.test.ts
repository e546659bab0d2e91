// The resilience pipeline against a real simulator over real sockets: retries, breaker,
// coalescing, rate limiting, stale serving, deadlines and broken bodies.
import { afterEach, describe, expect, it } from 'vitest';
import { batchCalls, type Harness, startHarness, USER_FETCHES } from '../helpers/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const fastRetries = { RETRY_BASE_DELAY_MS: '5', RETRY_MAX_DELAY_MS: '20' };

describe('retries', () => {
  it('succeeds after exactly 3 attempts when the provider answers 503, 503, 200', async () => {
    h = await startHarness({ env: fastRetries });
    h.users.faults.add({ match: USER_FETCHES, statusSequence: [503, 503] });
    const res = await h.gql('{ user(id: "usr_0005") { id } }');
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data.user.id).toBe('usr_0005');
    expect(batchCalls(h.users)).toHaveLength(3);
  });

  it('gives up after maxAttempts with UPSTREAM_UNAVAILABLE', async () => {
    h = await startHarness({ env: fastRetries });
    h.users.faults.add({ match: USER_FETCHES, status: 503 });
    const res = await h.gql('{ user(id: "usr_0005") { id } }');
    expect(res.body.errors![0].extensions).toMatchObject({
      code: 'UPSTREAM_UNAVAILABLE',
      provider: 'users',
      retryable: true,
    });
    expect(batchCalls(h.users)).toHaveLength(3);
  });

  it('honours Retry-After given in seconds', async () => {
    h = await startHarness({ env: fastRetries });
    h.users.faults.add({ match: USER_FETCHES, status: 429, headers: { 'retry-after': '1' }, times: 1 });
    const started = Date.now();
    const res = await h.gql('{ user(id: "usr_0006") { id } }');
    expect(res.body.data.user.id).toBe('usr_0006');
    expect(Date.now() - started).toBeGreaterThanOrEqual(990);
    expect(batchCalls(h.users)).toHaveLength(2);
  });

  it('honours Retry-After given as an HTTP date', async () => {
    h = await startHarness({ env: fastRetries });
    const at = new Date(Date.now() + 2000).toUTCString(); // whole seconds: 1..2 s from now
    h.users.faults.add({ match: USER_FETCHES, status: 503, headers: { 'retry-after': at }, times: 1 });
    const started = Date.now();
    const res = await h.gql('{ user(id: "usr_0006") { id } }');
    expect(res.body.data.user.id).toBe('usr_0006');
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it('does not retry a 4xx other than 408, 409 and 429', async () => {
    h = await startHarness({ env: fastRetries });
    h.users.faults.add({ match: USER_FETCHES, status: 400 });
    const res = await h.gql('{ user(id: "usr_0005") { id } }');
    expect(res.body.errors![0].extensions).toMatchObject({ code: 'UPSTREAM_REJECTED', retryable: false });
    expect(batchCalls(h.users)).toHaveLength(1);
  });

  it('retries a connection reset on an idempotent GET', async () => {
    h = await startHarness({ env: fastRetries });
    h.users.faults.add({ match: USER_FETCHES, reset: 'before-response', times: 1 });
    const res = await h.gql('{ user(id: "usr_0008") { id } }');
    expect(res.body.data.user.id).toBe('usr_0008');
    expect(batchCalls(h.users)).toHaveLength(2);
  });
});

describe('circuit breaker', () => {
  it('opens after the threshold, fails fast with zero upstream calls, then closes after one probe', async () => {
    h = await startHarness({
      env: {
        ...fastRetries,
        RETRY_MAX_ATTEMPTS: '1',
        BREAKER_MIN_REQUESTS: '4',
        BREAKER_HALF_OPEN_AFTER_MS: '400',
        USERS_CACHE_TTL_SECONDS: '0',
      },
    });
    const fault = h.users.faults.add({ match: USER_FETCHES, status: 503 });
    for (let i = 0; i < 4; i += 1) await h.gql(`{ user(id: "usr_000${i + 1}") { id } }`);
    const ready = (await (await fetch(`${h.url}/readyz`)).json()) as any;
    expect(ready.providers.users.circuit).toBe('open');
    expect(ready.status).toBe('ready'); // a provider outage does not take Junction out of rotation

    const before = h.users.requests.length;
    const client = h.app.services.clients.users;
    const started = performance.now();
    const error = await client.listUsers({ limit: 1, cursor: null }, {}).catch((e: unknown) => e);
    const elapsed = performance.now() - started;
    expect(error).toMatchObject({ code: 'UPSTREAM_CIRCUIT_OPEN', provider: 'users' });
    expect((error as { retryAfterSeconds: number }).retryAfterSeconds).toBeGreaterThan(0);
    expect(elapsed).toBeLessThan(5);
    const viaGraphql = await h.gql('{ user(id: "usr_0009") { id } }');
    expect(viaGraphql.body.errors![0].extensions).toMatchObject({
      code: 'UPSTREAM_CIRCUIT_OPEN',
      retryAfter: expect.any(Number),
    });
    expect(h.users.requests.length).toBe(before);

    fault.remove();
    await new Promise((r) => setTimeout(r, 450));
    const probes = await Promise.allSettled(
      Array.from({ length: 5 }, () => client.listUsers({ limit: 1, cursor: null }, {})),
    );
    expect(h.users.requests.length - before).toBe(1); // exactly one half-open probe went out
    expect(probes.filter((p) => p.status === 'fulfilled')).toHaveLength(1);
    const after = await h.gql('{ user(id: "usr_0010") { id } }');
    expect(after.body.data.user.id).toBe('usr_0010');
    expect(((await (await fetch(`${h.url}/readyz`)).json()) as any).providers.users.circuit).toBe('closed');
  });
});

describe('a hanging provider', () => {
  it('trips the breaker even at low call volume; then the other fields answer without waiting on it, and only probes reach it', async () => {
    h = await startHarness({
      env: {
        OPERATION_TIMEOUT_MS: '1500',
        UPSTREAM_TIMEOUT_MS: '600',
        BREAKER_HALF_OPEN_AFTER_MS: '400',
        BREAKER_PROBE_TIMEOUT_MS: '150',
        // The subject is the breaker, not the client budget.
        CLIENT_RATE_LIMIT_PER_MINUTE: '0',
      },
    });
    await h.gql('{ users(first: 10) { nodes { name } } }');
    h.stripe.faults.add({ match: { path: /^\/v1\// }, hang: true });
    h.stripe.resetCounters();
    const started = Date.now();
    const codes: string[] = [];
    // A fixed amount of work (not a timed loop): what is asserted are counts, never latencies, so a
    // loaded machine changes nothing.
    const loop = async () => {
      for (let i = 0; i < 60; i += 1) {
        const res = await h!.gql('{ users(first: 10) { nodes { name billing { id } } } }');
        expect(res.body.data.users.nodes[0].name).toEqual(expect.any(String)); // names always arrive
        for (const e of res.body.errors ?? []) codes.push(e.extensions.code);
      }
    };
    await Promise.all([loop(), loop()]);
    const elapsedMs = Date.now() - started;
    // Before the breaker opened: each loop's first query fans out to 10 customers (with retries);
    // after: one probe per half-open period at most. The 120 queries could have made 1,200 calls.
    const probesAtMost = Math.ceil(elapsedMs / 400) + 1;
    expect(h.stripe.requests.length).toBeLessThanOrEqual(2 * 10 * 3 + probesAtMost);
    // Most billing fields failed fast (circuit open), not by waiting out a timeout.
    const fast = codes.filter((c) => c === 'UPSTREAM_CIRCUIT_OPEN').length;
    expect(codes.length).toBeGreaterThan(0);
    expect(fast / codes.length).toBeGreaterThan(0.8);
    expect(codes.every((c) => c === 'UPSTREAM_CIRCUIT_OPEN' || c === 'UPSTREAM_TIMEOUT')).toBe(true);
    const ready = (await (await fetch(`${h.url}/readyz`)).json()) as any;
    expect(ready.providers.stripe.circuit).not.toBe('closed');
  }, 60_000);
});

describe('coalescing', () => {
  it('turns 1,000 concurrent identical loads into one upstream request', async () => {
    h = await startHarness();
    const client = h.app.services.clients.users;
    const users = await Promise.all(Array.from({ length: 1000 }, () => client.getUser('usr_0042', {})));
    expect(users.every((u) => u?.id === 'usr_0042')).toBe(true);
    expect(batchCalls(h.users)).toHaveLength(1);
  });
});

describe('rate limiting', () => {
  it('never lets more than 50 requests reach the provider in any second under 5x that demand', async () => {
    h = await startHarness({
      env: {
        USERS_RATE_LIMIT_PER_SECOND: '50',
        RATE_LIMIT_MAX_WAIT_MS: '8000',
        USERS_CACHE_TTL_SECONDS: '0',
      },
    });
    const client = h.app.services.clients.users;
    await client.listUsers({ limit: 1, cursor: null }, {}); // token fetch out of the way
    h.users.resetCounters();
    const results = await Promise.allSettled(
      Array.from({ length: 250 }, () => client.listUsers({ limit: 1, cursor: null }, {})),
    );
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(0); // no 429 reached the caller
    const times = h.users.requests
      .filter((r) => r.route === 'GET /users')
      .map((r) => r.at)
      .sort((a, b) => a - b);
    expect(times).toHaveLength(250);
    let worst = 0;
    for (let i = 0, j = 0; i < times.length; i += 1) {
      while (times[i]! - times[j]! >= 1000) j += 1;
      worst = Math.max(worst, i - j + 1);
    }
    expect(worst).toBeLessThanOrEqual(50);
  }, 30_000);

  it('fails with UPSTREAM_RATE_LIMITED when the wait would exceed its bound', async () => {
    h = await startHarness({
      env: { USERS_RATE_LIMIT_PER_SECOND: '5', RATE_LIMIT_MAX_WAIT_MS: '100', USERS_CACHE_TTL_SECONDS: '0' },
    });
    const client = h.app.services.clients.users;
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () => client.listUsers({ limit: 1, cursor: null }, {})),
    );
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected.length).toBeGreaterThan(0);
    expect(rejected[0]!.reason).toMatchObject({ code: 'UPSTREAM_RATE_LIMITED', provider: 'users' });
  });
});

describe('cache that serves stale', () => {
  it('returns the cached value marked stale when the provider is down (stale-if-error)', async () => {
    h = await startHarness({
      env: {
        ...fastRetries,
        USERS_CACHE_TTL_SECONDS: '1',
        USERS_CACHE_SWR_SECONDS: '0',
        USERS_CACHE_SIE_SECONDS: '60',
      },
    });
    const first = await h.gql('{ user(id: "usr_0011") { id name } }');
    expect(first.body.extensions?.stale).toBeUndefined();
    h.users.faults.add({ match: USER_FETCHES, status: 503 });
    await new Promise((r) => setTimeout(r, 1100));
    const second = await h.gql('{ user(id: "usr_0011") { id name } }');
    expect(second.body.errors).toBeUndefined();
    expect(second.body.data).toEqual(first.body.data);
    expect(second.body.extensions.stale).toEqual({ providers: ['users'] });
  });

  it('revalidates an expired entry with If-None-Match and keeps it on 304', async () => {
    h = await startHarness({
      env: { USERS_CACHE_TTL_SECONDS: '1', USERS_CACHE_SWR_SECONDS: '0', USERS_CACHE_SIE_SECONDS: '0' },
    });
    const client = h.app.services.clients.users;
    expect(await client.getUser('usr_0012', {})).toMatchObject({ id: 'usr_0012' });
    const [first] = batchCalls(h.users);
    expect(first!.route).toBe('GET /users/:id');
    expect(first!.headers['if-none-match']).toBeUndefined();
    await new Promise((r) => setTimeout(r, 1100));
    expect(await client.getUser('usr_0012', {})).toMatchObject({ id: 'usr_0012' });
    const calls = batchCalls(h.users);
    expect(calls).toHaveLength(2);
    expect(calls[1]!.headers['if-none-match']).toMatch(/^"[0-9a-f]+"$/);
  });
});

describe('deadlines', () => {
  it('does not hold the operation past its deadline when the provider takes 10 s; other fields resolve', async () => {
    h = await startHarness({ env: { OPERATION_TIMEOUT_MS: '500', UPSTREAM_TIMEOUT_MS: '20000' } });
    h.users.faults.add({ match: USER_FETCHES, latencyMs: 10_000 });
    const started = Date.now();
    const res = await h.gql('{ user(id: "usr_0013") { id } _junction }');
    const elapsed = Date.now() - started;
    expect(elapsed).toBeLessThan(2_000);
    expect(res.body.data).toEqual({ user: null, _junction: true });
    expect(res.body.errors![0].extensions).toMatchObject({ code: 'UPSTREAM_TIMEOUT', provider: 'users' });
  });
});

describe('broken bodies', () => {
  it('maps a truncated body to UPSTREAM_BAD_RESPONSE and caches nothing', async () => {
    h = await startHarness({ env: { RETRY_MAX_ATTEMPTS: '1' } });
    h.users.faults.add({ match: USER_FETCHES, truncate: true, times: 1 });
    const res = await h.gql('{ user(id: "usr_0014") { id } }');
    expect(res.body.errors![0].extensions).toMatchObject({
      code: 'UPSTREAM_BAD_RESPONSE',
      provider: 'users',
    });
    const again = await h.gql('{ user(id: "usr_0014") { id } }');
    expect(again.body.data.user.id).toBe('usr_0014');
    expect(batchCalls(h.users)).toHaveLength(2);
  });
});
