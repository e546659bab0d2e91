// Capped exponential backoff with full jitter, and how a provider's Retry-After stretches or ends it.
import { describe, expect, it } from 'vitest';
import { backoffCeilingMs, createBackoff } from '../../../src/upstream/policies/backoff.js';

const base = { baseDelayMs: 100, maxDelayMs: 2_000, maxRetryAfterMs: 5_000 };

describe('backoff', () => {
  it('keeps the delay after attempt n within [0, min(cap, base * 2^(n-1))]', () => {
    const expectedCeilings = [100, 200, 400, 800, 1_600, 2_000, 2_000, 2_000];
    expect(expectedCeilings.map((_, i) => backoffCeilingMs(i + 1, 100, 2_000))).toEqual(expectedCeilings);
    for (const r of [0, 0.25, 0.5, 0.999]) {
      const backoff = createBackoff({ ...base, random: () => r });
      expectedCeilings.forEach((ceiling, i) => {
        const delay = backoff.delayFor(i + 1);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(ceiling);
        expect(delay).toBeCloseTo(r * ceiling, 9);
      });
    }
  });

  it('reaches close to the bound when random is near 1, and 0 when random is 0', () => {
    const high = createBackoff({ ...base, random: () => 0.999 });
    expect(high.delayFor(3)).toBeCloseTo(399.6, 6);
    expect(high.delayFor(20)).toBeCloseTo(1_998, 6);
    expect(createBackoff({ ...base, random: () => 0 }).delayFor(3)).toBe(0);
  });

  it('jitters: with Math.random, delays spread over the whole range', () => {
    const backoff = createBackoff(base);
    const delays = Array.from({ length: 500 }, () => backoff.delayFor(4) ?? -1);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...delays)).toBeLessThanOrEqual(800);
    expect(Math.min(...delays)).toBeLessThan(200);
    expect(Math.max(...delays)).toBeGreaterThan(600);
  });

  it('honours a Retry-After of 2 s: waits at least 2000 ms even when the jitter is smaller', () => {
    const backoff = createBackoff({ ...base, random: () => 0 });
    expect(backoff.delayFor(1, 2)).toBe(2_000);
    // A jittered delay already above the Retry-After is kept.
    expect(createBackoff({ ...base, random: () => 0.999 }).delayFor(6, 0.5)).toBeCloseTo(1_998, 6);
  });

  it('gives up (undefined) when Retry-After exceeds maxRetryAfterMs, and caps at it otherwise', () => {
    const backoff = createBackoff({ ...base, random: () => 0.5 });
    expect(backoff.delayFor(1, 5.001)).toBeUndefined();
    expect(backoff.delayFor(1, 60)).toBeUndefined();
    expect(backoff.delayFor(1, 5)).toBe(5_000);
    // The exponential part may not push a delay past maxRetryAfterMs either.
    const longCap = createBackoff({
      baseDelayMs: 10_000,
      maxDelayMs: 60_000,
      maxRetryAfterMs: 3_000,
      random: () => 0.9,
    });
    expect(longCap.delayFor(1, 1)).toBe(3_000);
  });

  it('refuses negative or non-finite settings with a message naming the option', () => {
    expect(() => createBackoff({ ...base, baseDelayMs: -1 })).toThrow(
      /baseDelayMs must be a finite number >= 0 \(ms\), got -1/,
    );
    expect(() => createBackoff({ ...base, maxRetryAfterMs: Number.NaN })).toThrow(/maxRetryAfterMs/);
  });
});
