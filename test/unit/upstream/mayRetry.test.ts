// The one rule for whether a failure may pass if tried again (errors.ts mayRetry).
import { describe, expect, it } from 'vitest';
import { mayRetry, type UpstreamErrorCode } from '../../../src/upstream/errors.js';

describe('mayRetry', () => {
  it('decides by the kind of failure', () => {
    const cases: Array<[UpstreamErrorCode, number | undefined, boolean]> = [
      ['UPSTREAM_TIMEOUT', undefined, true],
      ['UPSTREAM_UNAVAILABLE', 503, true],
      ['UPSTREAM_RATE_LIMITED', 429, true],
      ['UPSTREAM_CIRCUIT_OPEN', undefined, true],
      ['UPSTREAM_REJECTED', 409, true],
      ['UPSTREAM_REJECTED', 400, false],
      ['UPSTREAM_REJECTED', 401, false],
      ['NOT_FOUND', 404, false],
      ['BAD_USER_INPUT', 400, false],
      ['PAYMENT_DECLINED', 402, false],
      ['UPSTREAM_BAD_RESPONSE', 200, false],
    ];
    for (const [code, status, expected] of cases)
      expect([code, status, mayRetry(code, { status })]).toEqual([code, status, expected]);
  });

  it("lets the provider's explicit word win either way, and an answer that broke off pass", () => {
    expect(mayRetry('UPSTREAM_UNAVAILABLE', { status: 503, providerSaysRetry: false })).toBe(false);
    expect(mayRetry('UPSTREAM_REJECTED', { status: 400, providerSaysRetry: true })).toBe(true);
    expect(mayRetry('UPSTREAM_BAD_RESPONSE', { status: 200, incomplete: true })).toBe(true);
  });
});
