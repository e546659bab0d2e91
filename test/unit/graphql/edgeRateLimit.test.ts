// ClientRateLimiter: weights by cost, refuses without taking, says when to retry.
import { describe, expect, it } from 'vitest';
import { ClientRateLimiter } from '../../../src/graphql/edgeRateLimit.js';

describe('ClientRateLimiter', () => {
  it('weighs an operation as ceil(cost / costPerRequest), at least 1', () => {
    const limiter = new ClientRateLimiter({ perMinute: 10, costPerRequest: 100 });
    expect([0, 1, 100, 101, 9801].map((c) => limiter.weight(c))).toEqual([1, 1, 1, 2, 99]);
  });

  it('refuses what does not fit without taking it, and gives a retry time within the minute', async () => {
    const limiter = new ClientRateLimiter({ perMinute: 10, costPerRequest: 100 });
    expect(await limiter.take('viewer:a', 8)).toBeUndefined();
    const refusal = await limiter.take('viewer:a', 5);
    expect(refusal?.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(refusal?.retryAfterSeconds).toBeLessThanOrEqual(60);
    // The refused 5 were not taken: 2 still fit, then nothing.
    expect(await limiter.take('viewer:a', 2)).toBeUndefined();
    expect(await limiter.take('viewer:a', 1)).toBeDefined();
    // Budgets are per key.
    expect(await limiter.take('viewer:b', 10)).toBeUndefined();
  });

  it('checks its options, naming them', () => {
    expect(() => new ClientRateLimiter({ perMinute: 0, costPerRequest: 1 })).toThrow(
      /perMinute: expected an integer >= 1, got 0/,
    );
    expect(() => new ClientRateLimiter({ perMinute: 1, costPerRequest: 0.5 })).toThrow(/costPerRequest/);
  });
});
