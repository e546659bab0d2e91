// SharedRateLimiter: tokens from a budget shared by replicas (here an in-process LocalRateBudget that
// two limiters share, as two replicas share the Redis bucket), FIFO waiters per replica, refusal past
// maxWaitMs, and throttling signals sent to the budget so every limiter on it slows.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type BucketSpec, LocalRateBudget, type ThrottleSignal } from '../../../src/state/rateBudget.js';
import { isLocalRateLimitError } from '../../../src/upstream/policies/rateLimiter.js';
import { SharedRateLimiter } from '../../../src/upstream/policies/sharedRateLimiter.js';

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

function limiter(
  budget: LocalRateBudget,
  options: Partial<ConstructorParameters<typeof SharedRateLimiter>[0]> = {},
) {
  return new SharedRateLimiter({
    provider: 'stripe',
    ratePerSecond: 10,
    burst: 1,
    maxWaitMs: 1_000,
    maxPauseMs: 60_000,
    budget,
    bucket: 'stripe',
    ...options,
  });
}

describe('SharedRateLimiter', () => {
  it('two limiters on one budget share its rate: together 10/s, not 10/s each', async () => {
    const budget = new LocalRateBudget();
    const a = limiter(budget, { maxWaitMs: 10_000 });
    const b = limiter(budget, { maxWaitMs: 10_000 });
    const granted: number[] = [];
    const all = Array.from({ length: 10 }, (_, i) =>
      (i % 2 === 0 ? a : b).acquire().then(() => granted.push(Date.now() - 1_000_000)),
    );
    await vi.advanceTimersByTimeAsync(2_000);
    await Promise.all(all);
    expect(granted).toHaveLength(10);
    // One token at once (burst 1), then one per 100 ms: the tenth at about 900 ms, not 400 ms.
    expect(Math.max(...granted)).toBeGreaterThanOrEqual(850);
    for (let i = 1; i < granted.length; i++) {
      expect(granted.filter((t) => t < granted[i]! && t > granted[i]! - 95)).toHaveLength(0);
    }
  });

  it('waiters of one limiter are served in arrival order', async () => {
    const budget = new LocalRateBudget();
    const a = limiter(budget, { maxWaitMs: 10_000 });
    const order: number[] = [];
    const all = Array.from({ length: 5 }, (_, i) => a.acquire().then(() => order.push(i)));
    await vi.advanceTimersByTimeAsync(1_000);
    await Promise.all(all);
    expect(order).toEqual([0, 1, 2, 3, 4]);
  });

  it('refuses with LocalRateLimitError when no token can come within maxWaitMs, without waiting it out', async () => {
    const budget = new LocalRateBudget();
    const a = limiter(budget, { maxWaitMs: 150 });
    const results = Array.from({ length: 6 }, () =>
      a.acquire().then(
        () => 'granted',
        (error) => (isLocalRateLimitError(error) ? 'refused' : 'other'),
      ),
    );
    await vi.advanceTimersByTimeAsync(20);
    // At 10/s within 150 ms: the first at once, the second at 100 ms; the last ones are refused already.
    const settledEarly = await Promise.race([results[5]!, Promise.resolve('pending')]);
    expect(settledEarly).toBe('refused');
    await vi.advanceTimersByTimeAsync(500);
    expect(await Promise.all(results)).toEqual([
      'granted',
      'granted',
      'refused',
      'refused',
      'refused',
      'refused',
    ]);
    expect(a.waiting).toBe(0);
  });

  it('maxWaitMs 0 still takes a token that is there', async () => {
    const a = limiter(new LocalRateBudget(), { maxWaitMs: 0 });
    const first = a.acquire();
    await vi.advanceTimersByTimeAsync(0);
    await expect(first).resolves.toBeUndefined();
    const second = a.acquire().catch((error) => error);
    await vi.advanceTimersByTimeAsync(5);
    expect(isLocalRateLimitError(await second)).toBe(true);
  });

  it('an aborted waiter leaves the queue; its place goes to the next', async () => {
    const a = limiter(new LocalRateBudget(), { maxWaitMs: 10_000 });
    await a.acquire(); // the burst token
    const controller = new AbortController();
    const gone = a.acquire(controller.signal).catch((error) => error);
    const next = a.acquire();
    controller.abort(new Error('client left'));
    expect(((await gone) as Error).message).toBe('client left');
    await vi.advanceTimersByTimeAsync(150);
    await expect(next).resolves.toBeUndefined();
  });

  it("a 429 with Retry-After seen by one limiter pauses the other's bucket (it refuses rather than wait past maxWaitMs)", async () => {
    const budget = new LocalRateBudget();
    const signals: ThrottleSignal[] = [];
    const throttle = budget.throttle.bind(budget);
    budget.throttle = (bucket: string, spec: BucketSpec, signal: ThrottleSignal) => {
      signals.push(signal);
      return throttle(bucket, spec, signal);
    };
    const a = limiter(budget);
    const b = limiter(budget);
    await a.acquire();
    a.onResponse({ status: 429, headers: { 'retry-after': '5' } });
    expect(signals).toEqual([{ halve: true, pauseMs: 5_000 }]);
    await vi.advanceTimersByTimeAsync(0);
    const onB = b.acquire().catch((error) => error);
    await vi.advanceTimersByTimeAsync(10);
    expect(isLocalRateLimitError(await onB)).toBe(true);
    // B shows the shared pause and the halved rate once it has read the bucket.
    void b.pauseRemainingMs;
    await vi.advanceTimersByTimeAsync(0);
    expect(b.pauseRemainingMs).toBeGreaterThan(4_000);
    expect(b.currentRatePerSecond).toBe(5);
    expect(b.configuredRatePerSecond).toBe(10);
    await vi.advanceTimersByTimeAsync(5_200);
    const after = b.acquire();
    await vi.advanceTimersByTimeAsync(300);
    await expect(after).resolves.toBeUndefined();
  });

  it('cuts a pause longer than maxPauseMs and reports it once as first', async () => {
    const budget = new LocalRateBudget();
    const clamps: boolean[] = [];
    const a = limiter(budget, { maxPauseMs: 2_000, onPauseClamped: (c) => clamps.push(c.first) });
    a.onResponse({ status: 429, headers: { 'retry-after': '86400' } });
    a.onResponse({ status: 429, headers: { 'retry-after': '86400' } });
    expect(clamps).toEqual([true, false]);
    expect(a.clampedPauses).toBe(2);
    await vi.advanceTimersByTimeAsync(0);
    expect(a.pauseRemainingMs).toBeLessThanOrEqual(2_000);
    expect(a.pauseRemainingMs).toBeGreaterThan(1_000);
  });

  it('a low RateLimit-Remaining spreads what is left over the window, for every limiter on the bucket', async () => {
    const budget = new LocalRateBudget();
    const a = limiter(budget, { ratePerSecond: 100, burst: 100 });
    const b = limiter(budget, { ratePerSecond: 100, burst: 100 });
    a.onResponse({ status: 200, headers: { 'x-ratelimit-remaining': '4', 'x-ratelimit-reset': '2' } });
    await vi.advanceTimersByTimeAsync(0);
    void b.currentRatePerSecond;
    await vi.advanceTimersByTimeAsync(0);
    expect(b.currentRatePerSecond).toBeCloseTo(2, 5);
  });
});
