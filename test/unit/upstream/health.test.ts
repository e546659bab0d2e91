// ProviderHealth: the one state per provider /readyz shows, from circuits, the limiter and the last
// attempts; codes and times only, never an upstream message.
import { describe, expect, it } from 'vitest';
import type { UpstreamCallInfo } from '../../../src/upstream/callContext.js';
import { PaymentDeclinedError, UpstreamUnavailableError } from '../../../src/upstream/errors.js';
import { ProviderHealth, type ThrottleSource } from '../../../src/upstream/health.js';

const AT = Date.parse('2026-01-01T00:00:00.000Z');

function call(startedAtMs: number, outcome: UpstreamCallInfo['outcome'] = 'success'): UpstreamCallInfo {
  return {
    provider: 'stripe',
    route: 'GET /v1/customers/:id',
    status: 200,
    attempt: 1,
    durationMs: 10,
    startedAtMs,
    outcome,
  };
}

function setup() {
  const throttle: { -readonly [K in keyof ThrottleSource]: ThrottleSource[K] } = {
    currentRatePerSecond: 81,
    configuredRatePerSecond: 81,
    pausedUntilMs: undefined,
    pauseRemainingMs: 0,
  };
  const health = new ProviderHealth();
  health.register('stripe', 'remote');
  health.setCircuit('stripe', 'stripe', 'closed');
  health.watchPipelines({ stripe: { limiter: throttle } });
  const state = () => health.snapshot().stripe!;
  return { health, throttle, state };
}

describe('ProviderHealth', () => {
  it('starts ok, with the throttle at its configured rate', () => {
    const { state } = setup();
    expect(state()).toEqual({
      provider: 'stripe',
      mode: 'remote',
      state: 'ok',
      circuit: 'closed',
      circuits: { stripe: 'closed' },
      lastSuccessAt: null,
      lastError: null,
      throttle: { ratePerSecond: 81, configuredRatePerSecond: 81, pausedUntil: null, pauseRemainingMs: 0 },
    });
  });

  it('keeps code, status and time of the last error, never its message', () => {
    const { health, state } = setup();
    const declined = new PaymentDeclinedError('Your card has insufficient funds.', {
      provider: 'stripe',
      status: 402,
    });
    health.recordAttempt(call(AT, 'error'), declined);
    expect(state().lastError).toEqual({
      code: 'PAYMENT_DECLINED',
      status: 402,
      at: '2026-01-01T00:00:00.010Z',
    });
    expect(JSON.stringify(state())).not.toContain('insufficient');
    // A declined card says nothing about Stripe's health.
    expect(state().state).toBe('ok');
  });

  it('is degraded while the last attempt failed for the provider’s sake, ok again after a success', () => {
    const { health, state } = setup();
    health.recordAttempt(call(AT), undefined);
    const down = new UpstreamUnavailableError('stripe is unreachable (ECONNREFUSED)', { provider: 'stripe' });
    health.recordAttempt(call(AT + 1_000, 'error'), down);
    expect(state()).toMatchObject({
      state: 'degraded',
      lastSuccessAt: '2026-01-01T00:00:00.010Z',
      lastError: { code: 'UPSTREAM_UNAVAILABLE', status: null },
    });
    health.recordAttempt(call(AT + 2_000), undefined);
    expect(state().state).toBe('ok');
    health.recordAttempt(call(AT + 3_000, 'cancelled'), undefined);
    expect(state().lastSuccessAt).toBe('2026-01-01T00:00:02.010Z'); // a cancelled call says nothing
  });

  it('is throttled below the configured rate, paused while a pause runs, circuit-open above all', () => {
    const { health, throttle, state } = setup();
    throttle.currentRatePerSecond = 40.5;
    expect(state()).toMatchObject({ state: 'throttled', throttle: { ratePerSecond: 40.5 } });
    throttle.pausedUntilMs = AT + 60_000;
    throttle.pauseRemainingMs = 59_999.2;
    expect(state()).toMatchObject({
      state: 'paused',
      throttle: { pausedUntil: '2026-01-01T00:01:00.000Z', pauseRemainingMs: 60_000 },
    });
    health.setCircuit('stripe', 'stripe:writes', 'open');
    expect(state()).toMatchObject({
      state: 'circuit-open',
      circuit: 'open',
      circuits: { stripe: 'closed', 'stripe:writes': 'open' },
    });
    health.setCircuit('stripe', 'stripe:writes', 'half-open');
    throttle.pausedUntilMs = undefined;
    throttle.pauseRemainingMs = 0;
    throttle.currentRatePerSecond = 81;
    expect(state()).toMatchObject({ state: 'degraded', circuit: 'half-open' });
  });
});
