// The pure parts of src/state/: reconnect back-off, URL redaction, versioned prefixes, entry life,
// the value codec.
import { describe, expect, it } from 'vitest';
import { decode, encode } from '../../../src/state/codec.js';
import { describeRedisUrl, reconnectDelayMs } from '../../../src/state/redis.js';
import { entryLifeMs, MAX_PREFIX_DEPTH, versionedPrefixes } from '../../../src/state/sharedCache.js';

describe('reconnectDelayMs', () => {
  it('doubles from 50 ms up to the cap, with at most 20 % jitter below, and never gives up', () => {
    const none = () => 1; // no jitter
    expect([1, 2, 3, 4, 5].map((n) => reconnectDelayMs(n, 500, none))).toEqual([50, 100, 200, 400, 500]);
    expect(reconnectDelayMs(10_000, 500, none)).toBe(500);
    expect(reconnectDelayMs(3, 500, () => 0)).toBe(160);
  });
});

describe('describeRedisUrl', () => {
  it('keeps scheme, host, port and database, never credentials', () => {
    expect(describeRedisUrl('rediss://app:s3cret@redis.internal:6380/2')).toBe(
      'rediss://redis.internal:6380/2',
    );
    expect(describeRedisUrl('redis://:only@localhost')).toBe('redis://localhost');
    expect(describeRedisUrl('::::')).toBe('redis (unparseable URL)');
  });
});

describe('versionedPrefixes', () => {
  it('lists every | boundary, then the key', () => {
    expect(versionedPrefixes('stripe|cred|payments|cus_1|cursor|10')).toEqual([
      'stripe|',
      'stripe|cred|',
      'stripe|cred|payments|',
      'stripe|cred|payments|cus_1|',
      'stripe|cred|payments|cus_1|cursor|',
      'stripe|cred|payments|cus_1|cursor|10',
    ]);
    expect(versionedPrefixes('plain')).toEqual(['plain']);
  });

  it('stops at the maximum depth', () => {
    const deep = Array.from({ length: 40 }, (_, i) => `p${i}`).join('|');
    expect(versionedPrefixes(deep)).toHaveLength(MAX_PREFIX_DEPTH + 1);
  });
});

describe('entryLifeMs', () => {
  it('is the fresh time plus the longer stale window, capped', () => {
    const now = 1_000;
    const entry = {
      value: 1,
      etag: undefined,
      storedAt: now,
      freshUntil: now + 30_000,
      swrMs: 30_000,
      sieMs: 300_000,
    };
    expect(entryLifeMs(entry, now, 3_600_000)).toBe(330_000);
    expect(entryLifeMs(entry, now, 60_000)).toBe(60_000);
    expect(
      entryLifeMs({ ...entry, freshUntil: now - 1, swrMs: 0, sieMs: 0 }, now, 60_000),
    ).toBeLessThanOrEqual(0);
  });
});

describe('codec', () => {
  it('round-trips Dates, Maps and undefined; refuses functions; treats garbage and oversize as nothing', () => {
    const value = { at: new Date(0), map: new Map([['a', 1]]), missing: undefined, n: null };
    const bytes = encode(value);
    expect(bytes).toBeInstanceOf(Buffer);
    expect(decode(bytes as Buffer, 1_000)?.value).toEqual(value);
    expect(encode({ f: () => 1 })).toBeUndefined();
    expect(decode(Buffer.from('not v8 data'), 1_000)).toBeUndefined();
    expect(decode(bytes as Buffer, 4)).toBeUndefined();
  });
});
