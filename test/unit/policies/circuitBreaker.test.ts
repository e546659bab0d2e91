// The circuit breaker: opens on the failure rate, fails fast while open, lets exactly one probe
// through when half-open, and counts only provider failures.
import { describe, expect, it, vi } from 'vitest';
import {
  RequestCancelledError,
  UpstreamCircuitOpenError,
  UpstreamInputError,
  UpstreamNotFoundError,
  UpstreamRejectedError,
  UpstreamUnavailableError,
} from '../../../src/upstream/errors.js';
import { CircuitBreaker, type CircuitState } from '../../../src/upstream/policies/circuitBreaker.js';
import { LocalRateLimitError } from '../../../src/upstream/policies/rateLimiter.js';

const unavailable = () =>
  new UpstreamUnavailableError('users answered 503', { provider: 'users', status: 503 });

function setup(overrides: Partial<ConstructorParameters<typeof CircuitBreaker>[0]> = {}) {
  let t = 1_000_000;
  const states: CircuitState[] = [];
  const breaker = new CircuitBreaker({
    provider: 'users',
    failureRateThreshold: 0.5,
    minimumRequests: 4,
    samplingWindowMs: 10_000,
    halfOpenAfterMs: 5_000,
    onStateChange: (s) => states.push(s),
    now: () => t,
    ...overrides,
  });
  const fail = () => breaker.execute(() => Promise.reject(unavailable())).catch((e: unknown) => e);
  const succeed = () => breaker.execute(() => Promise.resolve('ok'));
  return { breaker, states, fail, succeed, advance: (ms: number) => (t += ms) };
}

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

async function openIt(s: ReturnType<typeof setup>) {
  await s.succeed();
  await s.succeed();
  await s.fail();
  await s.fail(); // 2 of 4 failed = 50 %
  expect(s.breaker.state).toBe('open');
}

describe('CircuitBreaker', () => {
  it('stays closed below the minimum volume, then opens when the failure rate reaches the threshold', async () => {
    const s = setup();
    await s.fail();
    await s.fail();
    await s.fail();
    expect(s.breaker.state).toBe('closed'); // 3 calls < minimumRequests 4
    await s.succeed();
    await s.succeed();
    expect(s.breaker.state).toBe('closed'); // 3 of 5 failed but only failures trip the check
    await s.fail(); // 4 of 6 failed
    expect(s.breaker.state).toBe('open');
    expect(s.states).toEqual(['open']);
  });

  it('while open, fails in under 5 ms with UpstreamCircuitOpenError and never calls the function', async () => {
    const s = setup();
    await openIt(s);
    s.advance(1_500);
    const fn = vi.fn(() => Promise.resolve('never'));
    // Real timers here. Best of 5, so a GC pause on a busy machine cannot fail it, while a breaker
    // that waited on anything (a timer, the attempt) would be slow every time.
    let fastestMs = Number.POSITIVE_INFINITY;
    let error: unknown;
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      error = await s.breaker.execute(fn).catch((e: unknown) => e);
      fastestMs = Math.min(fastestMs, performance.now() - started);
    }
    expect(fastestMs).toBeLessThan(5);
    expect(fn).not.toHaveBeenCalled();
    expect(error).toBeInstanceOf(UpstreamCircuitOpenError);
    expect(error).toMatchObject({ code: 'UPSTREAM_CIRCUIT_OPEN', provider: 'users', retryAfterSeconds: 3.5 });
    // acquire() throws synchronously: nothing is awaited.
    expect(() => s.breaker.acquire()).toThrow(UpstreamCircuitOpenError);
  });

  it('after halfOpenAfter lets exactly one probe through; concurrent callers get circuit-open; success closes', async () => {
    const s = setup();
    await openIt(s);
    s.advance(5_000);
    const probe = deferred<string>();
    const probeFn = vi.fn(() => probe.promise);
    const probing = s.breaker.execute(probeFn);
    expect(s.breaker.state).toBe('half-open');

    const others = vi.fn(() => Promise.resolve('other'));
    const results = await Promise.allSettled([1, 2, 3].map(() => s.breaker.execute(others)));
    expect(others).not.toHaveBeenCalled();
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(UpstreamCircuitOpenError);
    }
    expect(probeFn).toHaveBeenCalledTimes(1);

    probe.resolve('up again');
    await expect(probing).resolves.toBe('up again');
    expect(s.breaker.state).toBe('closed');
    expect(s.states).toEqual(['open', 'half-open', 'closed']);
    // Closed with a clean window: a single failure does not re-open it.
    await s.fail();
    expect(s.breaker.state).toBe('closed');
    await expect(s.succeed()).resolves.toBe('ok');
  });

  it('a probe failure re-opens the circuit for another halfOpenAfter', async () => {
    const s = setup();
    await openIt(s);
    s.advance(5_000);
    await s.fail();
    expect(s.breaker.state).toBe('open');
    expect(s.states).toEqual(['open', 'half-open', 'open']);
    const error = await s.succeed().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'UPSTREAM_CIRCUIT_OPEN', retryAfterSeconds: 5 });
    s.advance(5_000);
    await expect(s.succeed()).resolves.toBe('ok');
    expect(s.breaker.state).toBe('closed');
  });

  it('gives cancelled calls no verdict, so callers giving up on a hanging provider do not dilute its failure rate', async () => {
    const s = setup({ minimumRequests: 4, failureRateThreshold: 0.6 });
    await s.fail();
    await s.fail();
    await s.fail();
    for (let i = 0; i < 2; i++) {
      await expect(
        s.breaker.execute(() => Promise.reject(new RequestCancelledError())),
      ).rejects.toBeInstanceOf(RequestCancelledError);
    }
    expect(s.breaker.state).toBe('closed'); // 3 verdicts < minimumRequests 4 (as successes they would be 3/5 = 60 %: open)
    await s.fail();
    expect(s.breaker.state).toBe('open'); // 4 of 4 failed
  });

  it('counts NOT_FOUND, BAD_USER_INPUT, REJECTED, cancellations and our own limiter refusals as non-failures', async () => {
    const s = setup({ minimumRequests: 2 });
    const healthy = [
      new UpstreamNotFoundError('users answered 404', { provider: 'users', status: 404 }),
      new UpstreamInputError('bad email', { provider: 'users', status: 400, field: 'email' }),
      new UpstreamRejectedError('users answered 403', { provider: 'users', status: 403 }),
      new RequestCancelledError(),
      new LocalRateLimitError('no token', { provider: 'users' }),
    ];
    for (let round = 0; round < 4; round++) {
      for (const error of healthy) {
        await expect(s.breaker.execute(() => Promise.reject(error))).rejects.toBe(error);
      }
    }
    expect(s.breaker.state).toBe('closed');
    // They count as successes in the rate: 1 failure among 21 calls stays under 50 %.
    await s.fail();
    expect(s.breaker.state).toBe('closed');
  });

  it('a NOT_FOUND probe proves the provider is up and closes the circuit', async () => {
    const s = setup();
    await openIt(s);
    s.advance(5_000);
    const notFound = new UpstreamNotFoundError('no such user', { provider: 'users', status: 404 });
    await expect(s.breaker.execute(() => Promise.reject(notFound))).rejects.toBe(notFound);
    expect(s.breaker.state).toBe('closed');
  });

  it('a cancelled probe gives no verdict: the next caller becomes the probe', async () => {
    const s = setup();
    await openIt(s);
    s.advance(5_000);
    await expect(s.breaker.execute(() => Promise.reject(new RequestCancelledError()))).rejects.toBeInstanceOf(
      RequestCancelledError,
    );
    expect(s.breaker.state).toBe('half-open');
    await expect(s.succeed()).resolves.toBe('ok');
    expect(s.breaker.state).toBe('closed');
  });

  it('a released permit (call never sent) frees the probe slot without a verdict', async () => {
    const s = setup();
    await openIt(s);
    s.advance(5_000);
    const permit = s.breaker.acquire();
    expect(() => s.breaker.acquire()).toThrow(UpstreamCircuitOpenError);
    permit.release();
    permit.failed(unavailable()); // a second report is ignored
    expect(s.breaker.state).toBe('half-open');
    expect(() => s.breaker.acquire()).not.toThrow();
  });

  it('ignores failures older than the sampling window', async () => {
    const s = setup();
    await s.fail();
    await s.fail();
    await s.fail();
    s.advance(11_000);
    await s.succeed();
    await s.succeed();
    await s.succeed();
    await s.fail(); // 1 of 4 in the window
    expect(s.breaker.state).toBe('closed');
  });

  it('does not let a call admitted before the circuit opened vote after it', async () => {
    const s = setup();
    const slow = deferred<string>();
    const early = s.breaker.execute(() => slow.promise).catch((e: unknown) => e);
    await openIt(s);
    s.advance(5_000);
    const probe = deferred<string>();
    const probing = s.breaker.execute(() => probe.promise);
    slow.reject(unavailable()); // from the closed era: must not decide the half-open state
    await early;
    expect(s.breaker.state).toBe('half-open');
    probe.resolve('ok');
    await probing;
    expect(s.breaker.state).toBe('closed');
  });

  it('refuses a threshold outside (0, 1]', () => {
    expect(() => setup({ failureRateThreshold: 0 })).toThrow(
      'circuit breaker failureRateThreshold must be in (0, 1], got 0',
    );
  });
});
