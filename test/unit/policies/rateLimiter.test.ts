// The adaptive token bucket, on fake timers: grants per second, FIFO order, maxWaitMs, abort, and
// slowing down on 429 and RateLimit headers.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { UpstreamRateLimitedError } from '../../../src/upstream/errors.js';
import { AdaptiveRateLimiter, isLocalRateLimitError } from '../../../src/upstream/policies/rateLimiter.js';

beforeEach(() => {
  vi.useFakeTimers({ now: 1_700_000_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

function limiter(options: Partial<ConstructorParameters<typeof AdaptiveRateLimiter>[0]> = {}) {
  return new AdaptiveRateLimiter({
    provider: 'twilio',
    ratePerSecond: 50,
    burst: 50,
    maxWaitMs: 5_000,
    ...options,
  });
}

describe('AdaptiveRateLimiter', () => {
  it('at 50/s with burst 50, 250 requests at once: never more than 50 grants in any second after the burst', async () => {
    const rl = limiter();
    const start = Date.now();
    const grants: { i: number; at: number }[] = [];
    const all = Array.from({ length: 250 }, (_, i) =>
      rl.acquire().then(() => grants.push({ i, at: Date.now() - start })),
    );
    await vi.advanceTimersByTimeAsync(5_000);
    await Promise.all(all);
    expect(grants).toHaveLength(250);
    // FIFO: granted in the order asked.
    expect(grants.map((g) => g.i)).toEqual(Array.from({ length: 250 }, (_, i) => i));
    const times = grants.map((g) => g.at);
    expect(times.at(-1)).toBe(4_000); // (250 - 50) / 50 s

    const perWindow = [0, 1, 2, 3, 4].map(
      (w) => times.filter((t) => t >= w * 1_000 && t < (w + 1) * 1_000).length,
    );
    // The first second holds the initial bucket (burst) plus the refill; every later second <= the rate.
    expect(perWindow[0]).toBeLessThanOrEqual(50 + 50);
    for (const n of perWindow.slice(1)) expect(n).toBeLessThanOrEqual(50);
    // Sliding: any 1 s window that does not contain the initial burst instant holds <= 50 grants.
    for (const t0 of times.filter((t) => t > 0)) {
      expect(times.filter((t) => t >= t0 && t < t0 + 1_000).length).toBeLessThanOrEqual(50);
    }
    expect(rl.totalWaitMs).toBe(times.reduce((sum, t) => sum + t, 0));
  });

  it('refuses at once with UpstreamRateLimitedError when no token is expected within maxWaitMs', async () => {
    const rl = limiter({ ratePerSecond: 10, burst: 10, maxWaitMs: 500 });
    const granted: number[] = [];
    const waiting = Array.from({ length: 15 }, (_, i) => rl.acquire().then(() => granted.push(i)));
    const error = await rl.acquire().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamRateLimitedError);
    expect(isLocalRateLimitError(error)).toBe(true);
    expect(error).toMatchObject({
      code: 'UPSTREAM_RATE_LIMITED',
      provider: 'twilio',
      retryAfterSeconds: 0.6,
      notSent: true,
    });
    await vi.advanceTimersByTimeAsync(500);
    await Promise.all(waiting);
    expect(granted).toHaveLength(15);
  });

  it('rejects a waiter when it has waited maxWaitMs (the rate fell after it queued)', async () => {
    const rl = limiter({ ratePerSecond: 10, burst: 1, maxWaitMs: 300 });
    await rl.acquire();
    const waiting = rl.acquire().catch((e: unknown) => e);
    rl.onResponse({ status: 429, headers: { 'retry-after': '1' } });
    await vi.advanceTimersByTimeAsync(299);
    expect(rl.waiting).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    const error = await waiting;
    expect(error).toBeInstanceOf(UpstreamRateLimitedError);
    expect(rl.waiting).toBe(0);
    expect(rl.totalWaitMs).toBe(300);
  });

  it('abort removes the waiter at once and rejects with the signal reason; the next waiter moves up', async () => {
    const rl = limiter({ ratePerSecond: 1, burst: 1, maxWaitMs: 10_000 });
    await rl.acquire();
    const controller = new AbortController();
    const aborted = rl.acquire(controller.signal).catch((e: unknown) => e);
    let thirdAt: number | undefined;
    const start = Date.now();
    const third = rl.acquire().then(() => (thirdAt = Date.now() - start));
    expect(rl.waiting).toBe(2);
    const reason = new Error('client went away');
    controller.abort(reason);
    expect(await aborted).toBe(reason);
    expect(rl.waiting).toBe(1);
    await vi.advanceTimersByTimeAsync(1_000);
    await third;
    expect(thirdAt).toBe(1_000); // took the token the aborted waiter would have had
  });

  it('rejects at once when the signal is already aborted', async () => {
    const rl = limiter();
    const reason = new Error('gone');
    await expect(rl.acquire(AbortSignal.abort(reason))).rejects.toBe(reason);
    expect(rl.tokens).toBe(50);
  });

  it('a 429 halves the rate (floored at minRatePerSecond) and recovers by 10 % of the rate per second', async () => {
    const rl = limiter({ minRatePerSecond: 10 });
    expect(rl.currentRatePerSecond).toBe(50);
    rl.onResponse({ status: 429, headers: {} });
    expect(rl.currentRatePerSecond).toBe(25);
    expect(rl.tokens).toBe(0);
    rl.onResponse({ status: 429, headers: {} });
    expect(rl.currentRatePerSecond).toBe(12.5);
    rl.onResponse({ status: 429, headers: {} });
    expect(rl.currentRatePerSecond).toBe(10);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(rl.currentRatePerSecond).toBeCloseTo(15, 9);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(rl.currentRatePerSecond).toBe(50);
  });

  it('a 429 with Retry-After pauses the bucket for that long', async () => {
    const rl = limiter();
    rl.onResponse({ status: 429, headers: { 'retry-after': '2' } });
    let grantedAt: number | undefined;
    const start = Date.now();
    const p = rl.acquire().then(() => (grantedAt = Date.now() - start));
    await vi.advanceTimersByTimeAsync(1_999);
    expect(grantedAt).toBeUndefined();
    await vi.advanceTimersByTimeAsync(200);
    await p;
    // Paused 2 s, then one token at the halved rate (25/s = 40 ms).
    expect(grantedAt).toBe(2_040);
  });

  it('X-RateLimit-Remaining 0 with a reset in seconds pauses until the reset', async () => {
    const rl = limiter();
    rl.onResponse({ status: 200, headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '3' } });
    expect(rl.tokens).toBe(0);
    let grantedAt: number | undefined;
    const start = Date.now();
    const p = rl.acquire().then(() => (grantedAt = Date.now() - start));
    await vi.advanceTimersByTimeAsync(2_999);
    expect(grantedAt).toBeUndefined();
    await vi.advanceTimersByTimeAsync(100);
    await p;
    expect(grantedAt).toBe(3_020); // pause, then one token at 50/s
  });

  it('reads X-RateLimit-Reset as epoch seconds when it is above 1e9', async () => {
    const rl = limiter();
    const resetEpoch = Date.now() / 1000 + 2;
    rl.onResponse({
      status: 200,
      headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(resetEpoch) },
    });
    let granted = false;
    const p = rl.acquire().then(() => (granted = true));
    await vi.advanceTimersByTimeAsync(1_999);
    expect(granted).toBe(false);
    await vi.advanceTimersByTimeAsync(100);
    await p;
    expect(granted).toBe(true);
  });

  it('low RateLimit-Remaining spreads what is left over the reset window, then recovers', async () => {
    const rl = limiter();
    rl.onResponse({ status: 200, headers: { 'ratelimit-remaining': '4', 'ratelimit-reset': '10' } });
    expect(rl.currentRatePerSecond).toBeCloseTo(0.4, 9);
    expect(rl.tokens).toBe(4);
    // Plenty left (>= 10 % of burst): no change.
    const other = limiter();
    other.onResponse({ status: 200, headers: { 'ratelimit-remaining': '5', 'ratelimit-reset': '10' } });
    expect(other.currentRatePerSecond).toBe(50);
    // No recovery before the reset, then +5/s.
    await vi.advanceTimersByTimeAsync(10_000);
    expect(rl.currentRatePerSecond).toBeCloseTo(0.4, 9);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(rl.currentRatePerSecond).toBeCloseTo(10.4, 9);
  });

  it('obeys a 429 with Retry-After: 86400 for at most maxPauseMs (60 s), then grants again', async () => {
    const clamps: unknown[] = [];
    const rl = limiter({ maxWaitMs: 1_000, onPauseClamped: (c) => clamps.push(c) });
    rl.onResponse({ status: 429, headers: { 'retry-after': '86400' } });
    expect(rl.pauseRemainingMs).toBe(60_000);
    expect(rl.pausedUntilMs).toBe(Date.now() + 60_000);
    // While paused, a request is refused at once, told to come back when the pause ends, not in a day.
    const refused = await rl.acquire().catch((e: unknown) => e);
    expect(isLocalRateLimitError(refused)).toBe(true);
    expect((refused as UpstreamRateLimitedError).retryAfterSeconds).toBeLessThanOrEqual(60.1);
    await vi.advanceTimersByTimeAsync(58_000);
    await expect(rl.acquire()).rejects.toBeInstanceOf(UpstreamRateLimitedError); // 2 s left > maxWaitMs
    await vi.advanceTimersByTimeAsync(2_000);
    expect(rl.pauseRemainingMs).toBe(0);
    expect(rl.pausedUntilMs).toBeUndefined();
    let granted = false;
    const p = rl.acquire().then(() => (granted = true));
    await vi.advanceTimersByTimeAsync(100);
    await p;
    expect(granted).toBe(true);
    expect(clamps).toEqual([
      { provider: 'twilio', header: 'retry-after', unit: 'delta-seconds', pauseMs: 60_000, first: true },
    ]);
  });

  it('reads X-RateLimit-Reset in epoch ms as such: a 5 s pause, not ~54,000 years', async () => {
    const rl = limiter();
    rl.onResponse({
      status: 200,
      headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Date.now() + 5_000) },
    });
    expect(rl.pauseRemainingMs).toBe(5_000);
    let granted = false;
    const p = rl.acquire(undefined, 10_000).then(() => (granted = true));
    await vi.advanceTimersByTimeAsync(4_999);
    expect(granted).toBe(false);
    await vi.advanceTimersByTimeAsync(100);
    await p;
    expect(granted).toBe(true);
  });

  it('clamps an implausible reset to maxPauseMs and reports every clamp, flagging only the first', () => {
    const clamps: Array<{ header: string; unit: string; pauseMs: number; first: boolean }> = [];
    const rl = limiter({ maxPauseMs: 30_000, onPauseClamped: (c) => clamps.push(c) });
    const microseconds = String(Date.now() * 1000);
    rl.onResponse({
      status: 429,
      headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': microseconds },
    });
    rl.onResponse({
      status: 429,
      headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': microseconds },
    });
    expect(rl.pauseRemainingMs).toBe(30_000);
    expect(rl.clampedPauses).toBe(2);
    expect(clamps.map((c) => [c.header, c.unit, c.pauseMs, c.first])).toEqual([
      ['x-ratelimit-reset', 'implausible', 30_000, true],
      ['x-ratelimit-reset', 'implausible', 30_000, false],
    ]);
    // The callback is told the header's name and the clamped pause, never the value.
    expect(JSON.stringify(clamps)).not.toContain(microseconds);
  });

  it('spreads a low remaining over at most maxPauseMs, then recovers', async () => {
    const rl = limiter();
    rl.onResponse({ status: 200, headers: { 'ratelimit-remaining': '3', 'ratelimit-reset': '86400' } });
    expect(rl.currentRatePerSecond).toBeCloseTo(3 / 60, 9);
    await vi.advanceTimersByTimeAsync(60_000 + 10_000);
    expect(rl.currentRatePerSecond).toBe(50);
  });

  it('pauses on the RateLimit structured field (r=0;t=2)', async () => {
    const rl = limiter();
    rl.onResponse({ status: 200, headers: { ratelimit: '"default";r=0;t=2' } });
    expect(rl.pauseRemainingMs).toBe(2_000);
  });

  it('with maxPauseMs 0, headers never pause but a 429 still halves the rate', () => {
    const rl = limiter({ maxPauseMs: 0 });
    rl.onResponse({ status: 429, headers: { 'retry-after': '30' } });
    expect(rl.pauseRemainingMs).toBe(0);
    expect(rl.currentRatePerSecond).toBe(25);
  });

  it('refuses a rate that is not positive', () => {
    expect(() => limiter({ ratePerSecond: 0 })).toThrow(
      'rate limiter ratePerSecond must be a finite number > 0, got 0',
    );
  });
});
