// The retry budget: retries capped to a share of first attempts over a sliding window, plus a floor.
import { describe, expect, it } from 'vitest';
import { RetryBudget } from '../../../src/upstream/policies/retryBudget.js';

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('RetryBudget', () => {
  it('allows retries up to ratio of the requests in the window', () => {
    const c = clock();
    const budget = new RetryBudget({ ratio: 0.2, windowMs: 10_000, minRetriesPerSecond: 0, now: c.now });
    for (let i = 0; i < 10; i++) budget.recordRequest();
    expect(budget.tryWithdraw()).toBe(true);
    expect(budget.tryWithdraw()).toBe(true);
    expect(budget.tryWithdraw()).toBe(false);
    expect(budget.snapshot()).toEqual({ requests: 10, retries: 2, available: 0 });
    // More traffic earns more retries.
    for (let i = 0; i < 5; i++) budget.recordRequest();
    expect(budget.tryWithdraw()).toBe(true);
    expect(budget.tryWithdraw()).toBe(false);
  });

  it('lets low traffic retry through minRetriesPerSecond', () => {
    const c = clock();
    const budget = new RetryBudget({ ratio: 0.2, windowMs: 10_000, minRetriesPerSecond: 1, now: c.now });
    budget.recordRequest();
    const granted = Array.from({ length: 20 }, () => budget.tryWithdraw()).filter(Boolean).length;
    // 1/s over a 10 s window = 10, plus 0.2 of one request (not a whole retry).
    expect(granted).toBe(10);
  });

  it('with ratio 0 and no floor, never allows a retry', () => {
    const budget = new RetryBudget({ ratio: 0, windowMs: 10_000, minRetriesPerSecond: 0 });
    for (let i = 0; i < 100; i++) budget.recordRequest();
    expect(budget.tryWithdraw()).toBe(false);
  });

  it('forgets requests and retries that slid out of the window', () => {
    const c = clock();
    const budget = new RetryBudget({ ratio: 0.5, windowMs: 10_000, minRetriesPerSecond: 0, now: c.now });
    for (let i = 0; i < 4; i++) budget.recordRequest();
    expect(budget.tryWithdraw()).toBe(true);
    expect(budget.tryWithdraw()).toBe(true);
    expect(budget.tryWithdraw()).toBe(false);
    c.advance(5_000);
    for (let i = 0; i < 2; i++) budget.recordRequest();
    expect(budget.tryWithdraw()).toBe(true); // 6 requests * 0.5 = 3 > 2 retries
    expect(budget.tryWithdraw()).toBe(false);
    c.advance(6_000); // the first 4 requests and 2 retries are gone; 2 requests and 1 retry remain
    expect(budget.snapshot()).toEqual({ requests: 2, retries: 1, available: 0 });
    c.advance(10_000); // everything is gone, even after an idle spell with no writes
    expect(budget.snapshot()).toEqual({ requests: 0, retries: 0, available: 0 });
  });

  it('refuses a ratio outside [0, 1]', () => {
    expect(() => new RetryBudget({ ratio: 1.5, windowMs: 10_000, minRetriesPerSecond: 1 })).toThrow(
      'retry budget ratio must be in [0, 1], got 1.5',
    );
  });

  it('divides the floor among live replicas when they share the provider (REDIS_URL)', () => {
    const c = clock();
    let replicas = 3;
    const budget = new RetryBudget({
      ratio: 0,
      windowMs: 10_000,
      minRetriesPerSecond: 1,
      now: c.now,
      replicaCount: () => replicas,
    });
    // 10 per 10 s window for the cluster: 3.33 here, so 3 whole retries.
    expect(Array.from({ length: 20 }, () => budget.tryWithdraw()).filter(Boolean)).toHaveLength(3);
    replicas = 1; // the others left: the whole floor again
    expect(Array.from({ length: 20 }, () => budget.tryWithdraw()).filter(Boolean)).toHaveLength(7);
  });
});
