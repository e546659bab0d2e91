// The composed pipeline with a scripted attempt function, on fake timers: which failures are retried,
// how long it waits, and how cancellation, deadlines, the budget and the breaker cut retries short.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type BucketSpec, LocalRateBudget, type ThrottleSignal } from '../../../src/state/rateBudget.js';
import {
  RequestCancelledError,
  UpstreamCircuitOpenError,
  UpstreamRateLimitedError,
  UpstreamRejectedError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
} from '../../../src/upstream/errors.js';
import {
  createPipeline,
  defaultPolicyOptions,
  type PipelineOptions,
  type RetryInfo,
} from '../../../src/upstream/policies/pipeline.js';
import { AdaptiveRateLimiter, isLocalRateLimitError } from '../../../src/upstream/policies/rateLimiter.js';
import { SharedRateLimiter } from '../../../src/upstream/policies/sharedRateLimiter.js';

beforeEach(() => {
  vi.useFakeTimers({ now: 1_700_000_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

const GET = { provider: 'users', route: 'GET /users/:id', method: 'GET' as const, idempotent: true };
const POST = { provider: 'users', route: 'POST /users', method: 'POST' as const, idempotent: false };
const POST_WITH_KEY = { ...POST, idempotent: true };

const unavailable = (extra: { notSent?: boolean } = {}) =>
  new UpstreamUnavailableError('users answered 503', { provider: 'users', status: 503, ...extra });

/** An attempt function that plays `outcomes` in order and records every call. */
function script(outcomes: Array<Error | string>) {
  const calls: { attempt: number; at: number; signal: AbortSignal }[] = [];
  let next = 0;
  const fn = async (signal: AbortSignal, attempt: number): Promise<string> => {
    calls.push({ attempt, at: Date.now(), signal });
    const outcome = outcomes[next++];
    if (outcome === undefined) throw new Error('the script ran out of outcomes');
    if (outcome instanceof Error) throw outcome;
    return outcome;
  };
  return { fn, calls };
}

function make(overrides: Partial<PipelineOptions> = {}) {
  const retries: RetryInfo[] = [];
  const pipeline = createPipeline({
    provider: 'users',
    concurrency: { limit: 4, poolConnections: 4 },
    random: () => 0.5,
    onRetry: (info) => retries.push(info),
    ...overrides,
  });
  return { pipeline, retries };
}

/** Observes a promise without awaiting it, so a test can tell "settled at once" from "still waiting". */
function observe<T>(promise: Promise<T>) {
  const state: { settled: boolean; value?: T; error?: unknown } = { settled: false };
  promise.then(
    (value) => Object.assign(state, { settled: true, value }),
    (error: unknown) => Object.assign(state, { settled: true, error }),
  );
  return state;
}

describe('createPipeline: retries', () => {
  it('503, 503, 200 succeeds after exactly 3 attempts with each delay inside its jitter bound', async () => {
    const { pipeline, retries } = make();
    const s = script([unavailable(), unavailable(), 'ok']);
    const start = Date.now();
    const result = observe(pipeline.execute(GET, {}, s.fn));
    await vi.advanceTimersByTimeAsync(49);
    expect(s.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1); // 0.5 * min(2000, 100 * 2^0) = 50 ms
    expect(s.calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(99);
    expect(s.calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1); // 0.5 * min(2000, 100 * 2^1) = 100 ms
    expect(result).toMatchObject({ settled: true, value: 'ok' });
    expect(s.calls.map((c) => [c.attempt, c.at - start])).toEqual([
      [1, 0],
      [2, 50],
      [3, 150],
    ]);
    expect(retries.map((r) => [r.attempt, r.delayMs, r.route])).toEqual([
      [1, 50, 'GET /users/:id'],
      [2, 100, 'GET /users/:id'],
    ]);
    expect(pipeline.budget.snapshot()).toMatchObject({ requests: 1, retries: 2 });
  });

  it.each([0, 0.3, 0.999])(
    'keeps every delay within [0, min(cap, base * 2^(n-1))] (random = %s)',
    async (r) => {
      const { pipeline, retries } = make({
        random: () => r,
        retry: { maxAttempts: 6, baseDelayMs: 100, maxDelayMs: 500 },
      });
      const s = script([unavailable(), unavailable(), unavailable(), unavailable(), unavailable(), 'ok']);
      const result = observe(pipeline.execute(GET, {}, s.fn));
      await vi.advanceTimersByTimeAsync(5_000);
      expect(result.value).toBe('ok');
      const bounds = [100, 200, 400, 500, 500];
      expect(retries).toHaveLength(5);
      retries.forEach((info, i) => {
        expect(info.delayMs).toBeGreaterThanOrEqual(0);
        expect(info.delayMs).toBeLessThanOrEqual(bounds[i]!);
        expect(info.delayMs).toBeCloseTo(r * bounds[i]!, 9);
      });
    },
  );

  it('gives up after maxAttempts and throws the last error', async () => {
    const { pipeline } = make();
    const last = unavailable();
    const s = script([unavailable(), unavailable(), last]);
    const result = observe(pipeline.execute(GET, {}, s.fn));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(result.error).toBe(last);
    expect(s.calls).toHaveLength(3);
  });

  it('never retries a POST without an idempotency key after a failure that may have reached the provider', async () => {
    const { pipeline, retries } = make();
    const reset = new UpstreamUnavailableError('users is unreachable (ECONNRESET)', {
      provider: 'users',
      notSent: false,
    });
    const s = script([reset, 'ok']);
    const result = observe(pipeline.execute(POST, {}, s.fn));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(result.error).toBe(reset);
    expect(s.calls).toHaveLength(1);
    expect(retries).toEqual([]);
  });

  it('retries a POST without a key when the request provably never left (notSent)', async () => {
    const { pipeline } = make();
    const s = script([unavailable({ notSent: true }), 'ok']);
    const result = observe(pipeline.execute(POST, {}, s.fn));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(result.value).toBe('ok');
    expect(s.calls).toHaveLength(2);
  });

  it('retries a POST that carries an idempotency key (idempotent = true)', async () => {
    const { pipeline } = make();
    const s = script([unavailable(), 'ok']);
    const result = observe(pipeline.execute(POST_WITH_KEY, {}, s.fn));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(result.value).toBe('ok');
    expect(s.calls).toHaveLength(2);
  });

  it('does not retry a 400 (retryable false)', async () => {
    const { pipeline, retries } = make();
    const badRequest = new UpstreamRejectedError('users answered 400', {
      provider: 'users',
      status: 400,
    });
    expect(badRequest.retryable).toBe(false);
    const s = script([badRequest, 'ok']);
    const result = observe(pipeline.execute(GET, {}, s.fn));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(result.error).toBe(badRequest);
    expect(s.calls).toHaveLength(1);
    expect(retries).toEqual([]);
  });

  it('never retries RequestCancelledError or an UpstreamCircuitOpenError from below', async () => {
    for (const error of [
      new RequestCancelledError(),
      new UpstreamCircuitOpenError('nested circuit open', { provider: 'users', retryAfterSeconds: 1 }),
    ]) {
      const { pipeline } = make();
      const s = script([error, 'ok']);
      const result = observe(pipeline.execute(GET, {}, s.fn));
      await vi.advanceTimersByTimeAsync(1_000);
      expect(result.error).toBe(error);
      expect(s.calls).toHaveLength(1);
    }
  });

  it('cuts a half-open probe at probeTimeoutMs, and the failed probe re-opens the circuit', async () => {
    const { pipeline } = make({
      retry: { maxAttempts: 1 },
      breaker: { minimumRequests: 1, failureRateThreshold: 0.5, halfOpenAfterMs: 1_000 },
      probeTimeoutMs: 200,
    });
    await pipeline.execute(GET, {}, () => Promise.reject(unavailable())).catch(() => {});
    expect(pipeline.breaker.state).toBe('open');
    await vi.advanceTimersByTimeAsync(1_000);
    // A provider that hangs: the attempt only ends when its signal aborts (as the client's does).
    const hanging = (signal: AbortSignal) =>
      new Promise<never>((_, reject) => {
        signal.addEventListener('abort', () =>
          reject(new UpstreamTimeoutError('users: timed out', { provider: 'users' })),
        );
      });
    const probe = observe(pipeline.execute(GET, {}, hanging));
    await vi.advanceTimersByTimeAsync(199);
    expect(probe.settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(probe.error).toBeInstanceOf(UpstreamTimeoutError);
    expect(pipeline.breaker.state).toBe('open');
  });

  it('stops retrying at once when a failure opens the circuit, answering with that failure', async () => {
    const { pipeline, retries } = make({
      retry: { maxAttempts: 5 },
      breaker: { minimumRequests: 2, failureRateThreshold: 0.5 },
    });
    const second = unavailable();
    const s = script([unavailable(), second, 'ok', 'ok', 'ok']);
    const result = observe(pipeline.execute(GET, {}, s.fn));
    await vi.advanceTimersByTimeAsync(5_000);
    expect(result.error).toBe(second); // the provider's own failure, not a backoff then circuit-open
    expect(s.calls).toHaveLength(2);
    expect(retries).toHaveLength(1); // no backoff was spent on a retry the open circuit would refuse
    expect(pipeline.breaker.state).toBe('open');
    const next = observe(pipeline.execute(GET, {}, s.fn));
    await vi.advanceTimersByTimeAsync(0);
    expect(next.error).toBeInstanceOf(UpstreamCircuitOpenError); // and the open circuit is not retried
    expect(s.calls).toHaveLength(2);
  });

  it('does not retry when the retry budget is exhausted', async () => {
    const { pipeline, retries } = make({ budget: { ratio: 0, minRetriesPerSecond: 0 } });
    const first = unavailable();
    const s = script([first, 'ok']);
    const result = observe(pipeline.execute(GET, {}, s.fn));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(result.error).toBe(first);
    expect(s.calls).toHaveLength(1);
    expect(retries).toEqual([]);
  });

  it('waits for a provider Retry-After of 2 s, and gives up on one above maxRetryAfterMs', async () => {
    const { pipeline } = make();
    const throttled = (seconds: number) =>
      new UpstreamRateLimitedError('users answered 429', {
        provider: 'users',
        status: 429,
        retryAfterSeconds: seconds,
      });
    const s = script([throttled(2), 'ok']);
    const start = Date.now();
    const result = observe(pipeline.execute(GET, {}, s.fn));
    await vi.advanceTimersByTimeAsync(1_999);
    expect(s.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(result.value).toBe('ok');
    expect(s.calls.map((c) => c.at - start)).toEqual([0, 2_000]);

    const tooLong = throttled(60);
    const s2 = script([tooLong, 'ok']);
    const result2 = observe(pipeline.execute(GET, {}, s2.fn));
    await vi.advanceTimersByTimeAsync(0);
    expect(result2.error).toBe(tooLong);
    expect(s2.calls).toHaveLength(1);
  });
});

describe('createPipeline: cancellation and deadlines', () => {
  it('passes ctx.signal to the attempt, or a signal that never aborts', async () => {
    const { pipeline } = make();
    const controller = new AbortController();
    const s = script(['a', 'b']);
    await pipeline.execute(GET, { signal: controller.signal }, s.fn);
    await pipeline.execute(GET, {}, s.fn);
    expect(s.calls[0]?.signal).toBe(controller.signal);
    expect(s.calls[1]?.signal.aborted).toBe(false);
  });

  it('an abort during backoff rejects at once with RequestCancelledError', async () => {
    const { pipeline, retries } = make({ retry: { baseDelayMs: 1_000 } });
    const controller = new AbortController();
    const s = script([unavailable(), 'ok']);
    const result = observe(pipeline.execute(GET, { signal: controller.signal }, s.fn));
    await vi.advanceTimersByTimeAsync(0);
    expect(retries).toHaveLength(1); // now waiting 500 ms
    const before = Date.now();
    controller.abort(new Error('client went away'));
    await vi.advanceTimersByTimeAsync(0); // microtasks only: no time passes
    expect(Date.now()).toBe(before);
    expect(result.settled).toBe(true);
    expect(result.error).toBeInstanceOf(RequestCancelledError);
    expect(s.calls).toHaveLength(1);
  });

  it('the operation deadline aborting a backoff surfaces the last upstream error', async () => {
    const { pipeline } = make({ retry: { baseDelayMs: 1_000 } });
    const controller = new AbortController();
    const first = unavailable();
    const s = script([first, 'ok']);
    const result = observe(pipeline.execute(GET, { signal: controller.signal }, s.fn));
    await vi.advanceTimersByTimeAsync(0);
    controller.abort(new DOMException('the operation timed out', 'TimeoutError'));
    await vi.advanceTimersByTimeAsync(0);
    expect(result.error).toBe(first);
    expect(s.calls).toHaveLength(1);
  });

  it('a deadline shorter than the backoff throws the last error without waiting', async () => {
    const { pipeline, retries } = make({ retry: { baseDelayMs: 1_000 } }); // backoff 500 ms
    const first = unavailable();
    const s = script([first, 'ok']);
    const result = observe(pipeline.execute(GET, { deadline: Date.now() + 300 }, s.fn));
    await vi.advanceTimersByTimeAsync(0);
    expect(result.settled).toBe(true);
    expect(result.error).toBe(first);
    expect(retries).toEqual([]);
    expect(s.calls).toHaveLength(1);
  });

  it('does not start when the signal is already aborted or the deadline has passed', async () => {
    const { pipeline } = make();
    const s = script(['ok']);
    await expect(pipeline.execute(GET, { signal: AbortSignal.abort() }, s.fn)).rejects.toBeInstanceOf(
      RequestCancelledError,
    );
    await expect(pipeline.execute(GET, { deadline: Date.now() - 1 }, s.fn)).rejects.toMatchObject({
      code: 'UPSTREAM_TIMEOUT',
      notSent: true,
    });
    expect(s.calls).toHaveLength(0);
  });
});

describe('createPipeline: breaker and limiter in the chain', () => {
  it('a fast-failed call spends no rate-limit token and never reaches the attempt', async () => {
    const { pipeline } = make({
      retry: { maxAttempts: 1 },
      breaker: { minimumRequests: 1 },
      rateLimit: { ratePerSecond: 10, burst: 10 },
    });
    const s = script([unavailable(), 'never']);
    await expect(pipeline.execute(GET, {}, s.fn)).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
    expect(pipeline.breaker.state).toBe('open');
    const tokens = pipeline.limiter?.tokens;
    const before = Date.now();
    const result = observe(pipeline.execute(GET, {}, s.fn));
    // Fake timers also freeze performance.now(), so "fast" is shown as: settled with no time passing.
    await vi.advanceTimersByTimeAsync(0);
    expect(result.settled).toBe(true);
    expect(Date.now()).toBe(before);
    expect(result.error).toBeInstanceOf(UpstreamCircuitOpenError);
    expect(pipeline.limiter?.tokens).toBe(tokens);
    expect(s.calls).toHaveLength(1);
  });

  it("a provider 429 halves the limiter's rate", async () => {
    const { pipeline } = make({ retry: { maxAttempts: 1 }, rateLimit: { ratePerSecond: 40, burst: 40 } });
    const throttled = new UpstreamRateLimitedError('users answered 429', { provider: 'users', status: 429 });
    await expect(pipeline.execute(GET, {}, script([throttled]).fn)).rejects.toBe(throttled);
    expect(pipeline.limiter?.currentRatePerSecond).toBe(20);
  });

  it('reads RateLimit headers from successful responses', async () => {
    const { pipeline } = make({ rateLimit: { ratePerSecond: 40, burst: 40, maxWaitMs: 5_000 } });
    const response = {
      status: 200,
      headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '3' },
      data: 1,
    };
    await pipeline.execute(GET, {}, async () => response);
    expect(pipeline.limiter?.tokens).toBe(0);
    const s = script(['ok']);
    const result = observe(pipeline.execute(GET, {}, s.fn));
    await vi.advanceTimersByTimeAsync(2_999);
    expect(s.calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(100);
    expect(result.value).toBe('ok');
  });

  it('a 429 with Retry-After: 86400 stops calls for at most the 60 s cap; then calls are sent again', async () => {
    const { pipeline } = make({
      breaker: { minimumRequests: 100 },
      rateLimit: { ratePerSecond: 40, burst: 40, maxWaitMs: 1_000 },
    });
    const day = new UpstreamRateLimitedError('users answered 429', {
      provider: 'users',
      status: 429,
      retryAfterSeconds: 60,
      rateLimitHeaders: { 'retry-after': '86400' },
    });
    const first = script([day]);
    await expect(pipeline.execute(GET, {}, first.fn)).rejects.toBe(day);
    expect(first.calls).toHaveLength(1); // 60 s is past maxRetryAfterMs: no retry
    expect(pipeline.limiter?.pauseRemainingMs).toBe(60_000);

    const during = script(['never']);
    const refused = await pipeline.execute(GET, {}, during.fn).catch((e: unknown) => e);
    expect(isLocalRateLimitError(refused)).toBe(true);
    expect((refused as UpstreamRateLimitedError).retryAfterSeconds).toBeLessThanOrEqual(60.1);
    expect(during.calls).toHaveLength(0);

    await vi.advanceTimersByTimeAsync(60_000);
    const after = script(['ok']);
    const result = observe(pipeline.execute(GET, {}, after.fn));
    await vi.advanceTimersByTimeAsync(100);
    expect(result.value).toBe('ok');
    expect(after.calls).toHaveLength(1);
  });

  it('reads rate-limit headers from error answers too: a 503 with X-RateLimit-Remaining 0 pauses', async () => {
    const { pipeline } = make({
      retry: { maxAttempts: 1 },
      rateLimit: { ratePerSecond: 40, burst: 40, maxWaitMs: 1_000 },
    });
    const exhausted = new UpstreamUnavailableError('users answered 503', {
      provider: 'users',
      status: 503,
      rateLimitHeaders: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '3' },
    });
    await expect(pipeline.execute(GET, {}, script([exhausted]).fn)).rejects.toBe(exhausted);
    expect(pipeline.limiter?.pauseRemainingMs).toBe(3_000);
    const s = script(['never']);
    expect(isLocalRateLimitError(await pipeline.execute(GET, {}, s.fn).catch((e: unknown) => e))).toBe(true);
    expect(s.calls).toHaveLength(0);
  });

  it('reads a rate-limit error with another status (GitHub’s secondary limit: 403 + Retry-After) as a 429', async () => {
    const { pipeline } = make({
      breaker: { minimumRequests: 100 },
      rateLimit: { ratePerSecond: 40, burst: 40, maxWaitMs: 1_000 },
    });
    const secondary = new UpstreamRateLimitedError('github: secondary rate limit', {
      provider: 'users',
      status: 403,
      retryAfterSeconds: 60,
      rateLimitHeaders: { 'retry-after': '60' },
    });
    await expect(pipeline.execute(GET, {}, script([secondary]).fn)).rejects.toBe(secondary);
    expect(pipeline.limiter?.pauseRemainingMs).toBe(60_000);
    expect(pipeline.limiter?.currentRatePerSecond).toBe(20); // halved, as for a 429
    const s = script(['never']);
    expect(isLocalRateLimitError(await pipeline.execute(GET, {}, s.fn).catch((e: unknown) => e))).toBe(true);
    expect(s.calls).toHaveLength(0);
  });

  it('with rateLimitScope credential, keeps one bucket per credential: one paused credential stops no other', async () => {
    const { pipeline } = make({
      retry: { maxAttempts: 1 },
      rateLimitScope: 'credential',
      rateLimit: { ratePerSecond: 40, burst: 40, maxWaitMs: 1_000 },
    });
    expect(pipeline.limiter).toBeUndefined();
    const alice = { ...GET, credentialId: 'alice' };
    const bob = { ...GET, credentialId: 'bob' };
    const exhausted = { status: 200, headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '30' } };
    await pipeline.execute(alice, {}, async () => exhausted);
    expect(pipeline.limiterFor('alice')?.pauseRemainingMs).toBe(30_000);
    expect(pipeline.limiterFor('bob')?.pauseRemainingMs).toBe(0);
    const refused = script(['never']);
    expect(
      isLocalRateLimitError(await pipeline.execute(alice, {}, refused.fn).catch((e: unknown) => e)),
    ).toBe(true);
    expect(refused.calls).toHaveLength(0);
    const served = script(['ok']);
    expect(await pipeline.execute(bob, {}, served.fn)).toBe('ok');
    expect(served.calls).toHaveLength(1);
  });

  it('refuses at once, with the wait as Retry-After, when a pause outlasts maxWaitMs', async () => {
    const { pipeline } = make({ rateLimit: { ratePerSecond: 40, burst: 40, maxWaitMs: 1_000 } });
    const response = { status: 200, headers: { 'ratelimit-remaining': '0', 'ratelimit-reset': '3' } };
    await pipeline.execute(GET, {}, async () => response);
    const s = script(['never']);
    const result = observe(pipeline.execute(GET, {}, s.fn));
    await vi.advanceTimersByTimeAsync(0);
    expect(isLocalRateLimitError(result.error)).toBe(true);
    expect(result.error).toMatchObject({ code: 'UPSTREAM_RATE_LIMITED', retryAfterSeconds: 3.025 });
    expect(s.calls).toHaveLength(0);
  });

  it("our own limiter's refusal is neither retried nor counted against the circuit", async () => {
    const { pipeline, retries } = make({
      breaker: { minimumRequests: 1 },
      rateLimit: { ratePerSecond: 1, burst: 1, maxWaitMs: 0 },
    });
    await pipeline.execute(GET, {}, script(['ok']).fn);
    const s = script(['never']);
    const error = await pipeline.execute(GET, {}, s.fn).catch((e: unknown) => e);
    expect(isLocalRateLimitError(error)).toBe(true);
    expect(s.calls).toHaveLength(0);
    expect(retries).toEqual([]);
    expect(pipeline.breaker.state).toBe('closed');
  });

  it('keeps one breaker per breakerGroup and reports state changes with the group', async () => {
    const changes: [string, string][] = [];
    const { pipeline } = make({
      retry: { maxAttempts: 1 },
      breaker: { minimumRequests: 1 },
      breakerGroup: (route) => (route.startsWith('POST') ? 'users-writes' : 'users-reads'),
      onStateChange: (state, group) => changes.push([state, group]),
    });
    await expect(pipeline.execute(GET, {}, script([unavailable()]).fn)).rejects.toMatchObject({
      code: 'UPSTREAM_UNAVAILABLE',
    });
    await expect(pipeline.execute(GET, {}, script(['x']).fn)).rejects.toBeInstanceOf(
      UpstreamCircuitOpenError,
    );
    await expect(pipeline.execute(POST, {}, script(['created']).fn)).resolves.toBe('created');
    expect(changes).toEqual([['open', 'users-reads']]);
    expect(pipeline.breakerFor('GET /users/:id').state).toBe('open');
    expect(pipeline.breakerFor('POST /users').state).toBe('closed');
  });

  it('never runs more attempts at once than the clamped concurrency limit', async () => {
    const { pipeline } = make({ concurrency: { limit: 10, poolConnections: 2 } });
    let inFlight = 0;
    let max = 0;
    const slow = async () => {
      inFlight++;
      max = Math.max(max, inFlight);
      await new Promise((r) => setTimeout(r, 100));
      inFlight--;
      return 'ok';
    };
    const all = Promise.all(Array.from({ length: 7 }, () => pipeline.execute(GET, {}, slow)));
    await vi.advanceTimersByTimeAsync(0);
    expect(pipeline.concurrency.activeCount).toBe(2);
    expect(pipeline.concurrency.pendingCount).toBe(5);
    await vi.advanceTimersByTimeAsync(400);
    await all;
    expect(max).toBe(2);
  });

  it('writes its defaults with units and refuses maxAttempts below 1', () => {
    expect(defaultPolicyOptions.retry).toEqual({
      maxAttempts: 3,
      baseDelayMs: 100,
      maxDelayMs: 2_000,
      maxRetryAfterMs: 5_000,
    });
    expect(() => make({ retry: { maxAttempts: 0 } })).toThrow(
      'retry.maxAttempts must be an integer >= 1, got 0',
    );
  });
});

describe('createPipeline: a rate budget shared by replicas', () => {
  /** A budget that records which bucket each take and throttle went to. */
  function recordingBudget() {
    const budget = new LocalRateBudget();
    const takes: string[] = [];
    const throttles: Array<{ bucket: string; signal: ThrottleSignal }> = [];
    const take = budget.take.bind(budget);
    const throttle = budget.throttle.bind(budget);
    budget.take = (bucket: string, spec: BucketSpec) => {
      takes.push(bucket);
      return take(bucket, spec);
    };
    budget.throttle = (bucket: string, spec: BucketSpec, signal: ThrottleSignal) => {
      throttles.push({ bucket, signal });
      return throttle(bucket, spec, signal);
    };
    return { budget, takes, throttles };
  }

  it('takes every token from the shared budget, per credential when so scoped, and sends it the 429s', async () => {
    const { budget, takes, throttles } = recordingBudget();
    const { pipeline } = make({
      retry: { maxAttempts: 1 },
      rateLimitScope: 'credential',
      rateLimit: { ratePerSecond: 40, burst: 40, maxWaitMs: 1_000 },
      sharedBudget: { budget, replicaCount: () => 2 },
    });
    expect(pipeline.limiterFor('alice')).toBeInstanceOf(SharedRateLimiter);
    await pipeline.execute({ ...GET, credentialId: 'alice' }, {}, script(['ok']).fn);
    await pipeline.execute({ ...GET, credentialId: 'bob' }, {}, script(['ok']).fn);
    expect(takes).toEqual(['users|alice', 'users|bob']);
    const limited = new UpstreamRateLimitedError('users answered 429', {
      provider: 'users',
      status: 429,
      retryAfterSeconds: 2,
      rateLimitHeaders: { 'retry-after': '2' },
    });
    await expect(pipeline.execute({ ...GET, credentialId: 'alice' }, {}, script([limited]).fn)).rejects.toBe(
      limited,
    );
    expect(throttles).toEqual([{ bucket: 'users|alice', signal: { halve: true, pauseMs: 2_000 } }]);
  });

  it('without a shared budget, the in-process limiter as before', () => {
    const { pipeline } = make({ rateLimit: { ratePerSecond: 40, burst: 40, maxWaitMs: 1_000 } });
    expect(pipeline.limiter).toBeInstanceOf(AdaptiveRateLimiter);
  });
});
