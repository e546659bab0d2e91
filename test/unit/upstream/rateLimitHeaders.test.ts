// The one reader of throttling headers: which unit a reset number is in, every header form providers
// use, the most restrictive window, the bounded wait passed on in errors, and what errors keep.
import { describe, expect, it } from 'vitest';
import {
  parseResetValue,
  pickRateLimitHeaders,
  readRateLimitSignals,
  resolveResetNumber,
  retryAfterSecondsFrom,
} from '../../../src/upstream/rateLimitHeaders.js';

const NOW = 1_700_000_000_000; // epoch ms, November 2023

describe('resolveResetNumber', () => {
  it('reads a small number as seconds from now', () => {
    expect(resolveResetNumber(30, NOW)).toEqual({ unit: 'delta-seconds', delayMs: 30_000 });
    expect(resolveResetNumber(0.5, NOW)).toEqual({ unit: 'delta-seconds', delayMs: 500 });
    expect(resolveResetNumber(86_400, NOW)).toEqual({ unit: 'delta-seconds', delayMs: 86_400_000 });
  });

  it('reads a number near now / 1000 as epoch seconds (GitHub), fractions included', () => {
    expect(resolveResetNumber(NOW / 1000 + 30, NOW)).toEqual({ unit: 'epoch-seconds', delayMs: 30_000 });
    expect(resolveResetNumber(NOW / 1000 + 1.25, NOW)).toEqual({ unit: 'epoch-seconds', delayMs: 1_250 });
  });

  it('reads a number near now as epoch ms, where the old reader paused for ~54,000 years', () => {
    expect(resolveResetNumber(NOW + 5_000, NOW)).toEqual({ unit: 'epoch-ms', delayMs: 5_000 });
  });

  it('gives 0 for a reset that has passed', () => {
    expect(resolveResetNumber(NOW / 1000 - 60, NOW)).toEqual({ unit: 'epoch-seconds', delayMs: 0 });
    expect(resolveResetNumber(NOW - 60_000, NOW)).toEqual({ unit: 'epoch-ms', delayMs: 0 });
  });

  it('calls everything else implausible (an infinite wait the caller clamps)', () => {
    for (const value of [NOW * 1000, 5e9, 9e11, Number.NaN, -1, Number.POSITIVE_INFINITY]) {
      expect(resolveResetNumber(value, NOW)).toEqual({ unit: 'implausible', delayMs: Infinity });
    }
  });

  it('with a clock before 2001 (a test clock), reads numbers as delays only', () => {
    expect(resolveResetNumber(3, 1_000)).toEqual({ unit: 'delta-seconds', delayMs: 3_000 });
    expect(resolveResetNumber(NOW, 1_000)).toEqual({ unit: 'implausible', delayMs: Infinity });
  });
});

describe('parseResetValue', () => {
  it('reads an HTTP date, and a date past a year from now as implausible', () => {
    const in90s = new Date(NOW + 90_000).toUTCString();
    expect(parseResetValue('retry-after', in90s, NOW)).toEqual({
      header: 'retry-after',
      unit: 'http-date',
      delayMs: 90_000,
    });
    const in2years = new Date(NOW + 2 * 365 * 24 * 3600 * 1000).toUTCString();
    expect(parseResetValue('retry-after', in2years, NOW)?.unit).toBe('implausible');
    expect(parseResetValue('retry-after', new Date(NOW - 5_000).toUTCString(), NOW)?.delayMs).toBe(0);
  });

  it('ignores what is no time at all, and values too long to be one', () => {
    for (const raw of [undefined, '', '  ', 'soon', '1 2', '-5', '5s', '1e3', `${'9'.repeat(2000)}`]) {
      expect(parseResetValue('x-ratelimit-reset', raw, NOW)).toBeUndefined();
    }
  });

  it('takes the first of repeated headers', () => {
    expect(parseResetValue('ratelimit-reset', ['2', '9'], NOW)?.delayMs).toBe(2_000);
  });
});

describe('readRateLimitSignals', () => {
  it('reads the RateLimit structured field (r = remaining, t = seconds) and keeps the most restrictive policy', () => {
    const signals = readRateLimitSignals({ ratelimit: '"burst";r=40;t=1, "daily";r=0;t=3600' }, NOW);
    expect(signals.remaining).toBe(0);
    expect(signals.reset).toEqual({ header: 'ratelimit', unit: 'delta-seconds', delayMs: 3_600_000 });
  });

  it("reads the older drafts' RateLimit dictionary (remaining=, reset=)", () => {
    const signals = readRateLimitSignals({ ratelimit: 'limit=100, remaining=3, reset=7' }, NOW);
    expect(signals.remaining).toBe(3);
    expect(signals.reset?.delayMs).toBe(7_000);
  });

  it('reads RateLimit-*, X-RateLimit-* (GitHub epoch seconds) and X-Rate-Limit-*', () => {
    expect(
      readRateLimitSignals({ 'ratelimit-remaining': '2', 'ratelimit-reset': '10' }, NOW).reset?.delayMs,
    ).toBe(10_000);
    const github = readRateLimitSignals(
      { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(NOW / 1000 + 42) },
      NOW,
    );
    expect(github).toMatchObject({ remaining: 0, reset: { unit: 'epoch-seconds', delayMs: 42_000 } });
    expect(
      readRateLimitSignals({ 'x-rate-limit-remaining': '1', 'x-rate-limit-reset': '4' }, NOW).remaining,
    ).toBe(1);
  });

  it('reads Retry-After as seconds, an HTTP date, or (plausibly) an epoch', () => {
    expect(readRateLimitSignals({ 'retry-after': '2' }, NOW).retryAfter?.delayMs).toBe(2_000);
    expect(readRateLimitSignals({ 'retry-after': String(NOW / 1000 + 3) }, NOW).retryAfter).toMatchObject({
      unit: 'epoch-seconds',
      delayMs: 3_000,
    });
  });

  it('ignores a malformed RateLimit field and falls back to the other headers', () => {
    const signals = readRateLimitSignals(
      { ratelimit: '"x";r=;;;', 'x-ratelimit-remaining': '5', 'x-ratelimit-reset': '9' },
      NOW,
    );
    expect(signals).toMatchObject({ remaining: 5, reset: { delayMs: 9_000 } });
    expect(readRateLimitSignals({}, NOW)).toEqual({
      retryAfter: undefined,
      remaining: undefined,
      reset: undefined,
    });
  });
});

describe('retryAfterSecondsFrom', () => {
  it('bounds Retry-After by the maximum pause: a day becomes 60 s', () => {
    expect(retryAfterSecondsFrom({ 'retry-after': '86400' }, NOW, 60_000)).toBe(60);
    expect(retryAfterSecondsFrom({ 'retry-after': '1.5' }, NOW, 60_000)).toBe(1.5);
  });

  it('falls back to the reset of an exhausted window, and says nothing while requests remain', () => {
    expect(
      retryAfterSecondsFrom(
        { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(NOW + 4_000) },
        NOW,
        60_000,
      ),
    ).toBe(4);
    expect(
      retryAfterSecondsFrom({ 'x-ratelimit-remaining': '7', 'x-ratelimit-reset': '4' }, NOW, 60_000),
    ).toBeUndefined();
  });

  it('turns an implausible value into the maximum pause', () => {
    expect(retryAfterSecondsFrom({ 'retry-after': String(NOW * 1000) }, NOW, 30_000)).toBe(30);
  });
});

describe('pickRateLimitHeaders', () => {
  it('keeps only rate-limit headers, each bounded, and nothing when there are none', () => {
    const picked = pickRateLimitHeaders({
      'retry-after': '5',
      'x-ratelimit-remaining': '0',
      ratelimit: 'x'.repeat(5_000),
      'set-cookie': ['session=secret'],
      authorization: 'Bearer sk_live_secret',
      'content-type': 'text/html',
    });
    expect(Object.keys(picked!).sort()).toEqual(['ratelimit', 'retry-after', 'x-ratelimit-remaining']);
    expect(picked!.ratelimit).toHaveLength(1024);
    expect(pickRateLimitHeaders({ 'content-type': 'application/json' })).toBeUndefined();
  });
});
