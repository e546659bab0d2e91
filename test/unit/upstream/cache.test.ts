// ResponseCache: coalescing, TTL, stale-while-revalidate, stale-if-error, Cache-Control, ETag, size.
import { describe, expect, it } from 'vitest';
import { cacheKey, type LoadResult, parseCacheControl, ResponseCache } from '../../../src/upstream/cache.js';
import type { CallContext, UpstreamCallInfo } from '../../../src/upstream/callContext.js';
import { UpstreamUnavailableError } from '../../../src/upstream/errors.js';

function clock(start = 1_000_000) {
  let t = start;
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

const value = <T>(v: T, extra: Partial<Extract<LoadResult<T>, { kind: 'value' }>> = {}): LoadResult<T> => ({
  kind: 'value',
  value: v,
  ...extra,
});

const info: UpstreamCallInfo = {
  provider: 'p',
  route: 'GET /x',
  status: 200,
  attempt: 1,
  durationMs: 1,
  startedAtMs: 0,
  outcome: 'success',
};

describe('ResponseCache', () => {
  it('turns 1,000 concurrent misses for one key into one load', async () => {
    const cache = new ResponseCache({ maxBytes: 1 << 20 });
    let loads = 0;
    const load = async () => {
      loads += 1;
      await new Promise((r) => setTimeout(r, 20));
      return value({ id: 'x' });
    };
    const results = await Promise.all(
      Array.from({ length: 1000 }, () => cache.getOrLoad('k', 'p', { ttlSeconds: 60 }, load, {})),
    );
    expect(loads).toBe(1);
    expect(results.every((r) => r.value.id === 'x')).toBe(true);
    expect((await cache.getOrLoad('k', 'p', { ttlSeconds: 60 }, load, {})).outcome).toBe('hit');
  });

  it('serves a stale value at once inside the SWR window and refreshes it in the background', async () => {
    const c = clock();
    const cache = new ResponseCache({ maxBytes: 1 << 20, now: c.now });
    const policy = { ttlSeconds: 10, staleWhileRevalidateSeconds: 30 };
    let version = 1;
    let loads = 0;
    const load = async () => {
      loads += 1;
      return value(version);
    };
    await cache.getOrLoad('k', 'p', policy, load, {});
    version = 2;
    c.advance(5_000);
    expect(await cache.getOrLoad('k', 'p', policy, load, {})).toEqual({ value: 1, outcome: 'hit' });
    c.advance(10_000); // 15 s: stale, inside the 30 s SWR window
    expect(await cache.getOrLoad('k', 'p', policy, load, {})).toEqual({ value: 1, outcome: 'stale' });
    await new Promise((r) => setImmediate(r));
    expect(loads).toBe(2);
    expect(await cache.getOrLoad('k', 'p', policy, load, {})).toEqual({ value: 2, outcome: 'hit' });
    c.advance(60_000); // past TTL and SWR: a plain miss that waits for the load
    version = 3;
    expect(await cache.getOrLoad('k', 'p', policy, load, {})).toEqual({ value: 3, outcome: 'miss' });
  });

  it('falls back to the stale value when the refresh fails inside the stale-if-error window', async () => {
    const c = clock();
    const cache = new ResponseCache({ maxBytes: 1 << 20, now: c.now });
    const policy = { ttlSeconds: 10, staleIfErrorSeconds: 60 };
    await cache.getOrLoad('k', 'p', policy, async () => value('old'), {});
    c.advance(11_000); // stale, inside the stale-if-error window
    const outcomes: string[] = [];
    const res = await cache.getOrLoad(
      'k',
      'p',
      policy,
      async () => {
        throw new UpstreamUnavailableError('down', { provider: 'p' });
      },
      { onCache: (_p, o) => outcomes.push(o) },
    );
    expect(res).toEqual({ value: 'old', outcome: 'stale' });
    expect(outcomes).toEqual(['stale']);
  });

  it('propagates the failure when there is no stale value to fall back on', async () => {
    const cache = new ResponseCache({ maxBytes: 1 << 20 });
    await expect(
      cache.getOrLoad(
        'k',
        'p',
        { ttlSeconds: 10, staleIfErrorSeconds: 60 },
        async () => {
          throw new UpstreamUnavailableError('down', { provider: 'p' });
        },
        {},
      ),
    ).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
  });

  it('never stores a no-store answer, and lets max-age shorten the TTL', async () => {
    const c = clock();
    const cache = new ResponseCache({ maxBytes: 1 << 20, now: c.now });
    let loads = 0;
    const noStore = async () => {
      loads += 1;
      return value('v', { noStore: true });
    };
    await cache.getOrLoad('a', 'p', { ttlSeconds: 60 }, noStore, {});
    await cache.getOrLoad('a', 'p', { ttlSeconds: 60 }, noStore, {});
    expect(loads).toBe(2);
    expect(cache.stats().entries).toBe(0);

    let shortLoads = 0;
    const short = async () => {
      shortLoads += 1;
      return value('v', { maxAgeSeconds: 0 });
    };
    await cache.getOrLoad('b', 'p', { ttlSeconds: 60 }, short, {});
    c.advance(1);
    await cache.getOrLoad('b', 'p', { ttlSeconds: 60 }, short, {});
    expect(shortLoads).toBe(2);
  });

  it('revalidates with the stale entry ETag and keeps the value on not-modified', async () => {
    const c = clock();
    const cache = new ResponseCache({ maxBytes: 1 << 20, now: c.now });
    const policy = { ttlSeconds: 10 };
    await cache.getOrLoad('k', 'p', policy, async () => value('body', { etag: '"v1"' }), {});
    c.advance(11_000);
    let seenEtag: string | undefined;
    const res = await cache.getOrLoad(
      'k',
      'p',
      policy,
      async (stale) => {
        seenEtag = stale?.etag;
        return { kind: 'not-modified' };
      },
      {},
    );
    expect(seenEtag).toBe('"v1"');
    expect(res.value).toBe('body');
  });

  it('keeps 100,000 distinct keys within its byte budget', async () => {
    const maxBytes = 2 * 1024 * 1024;
    const cache = new ResponseCache({ maxBytes });
    for (let i = 0; i < 100_000; i += 1) {
      await cache.getOrLoad(
        `k${i}`,
        'p',
        { ttlSeconds: 60 },
        async () => value({ id: i, name: `user number ${i}` }),
        {},
      );
    }
    const stats = cache.stats();
    expect(stats.bytes).toBeLessThanOrEqual(maxBytes);
    expect(stats.entries).toBeGreaterThan(1000);
    expect(stats.entries).toBeLessThan(100_000);
  });

  it('invalidates one key, or every key under a prefix', async () => {
    const cache = new ResponseCache({ maxBytes: 1 << 20 });
    const k1 = cacheKey('stripe', 'cred', 'payments', 'cus_1');
    const k2 = cacheKey('stripe', 'cred', 'payments', 'cus_2');
    for (const k of [k1, k2])
      await cache.getOrLoad(k, 'stripe', { ttlSeconds: 60 }, async () => value(1), {});
    expect(cache.invalidate(k1)).toBe(true);
    expect(cache.invalidatePrefix(cacheKey('stripe', 'cred', 'payments', ''))).toBe(1);
    expect(cache.stats().entries).toBe(0);
  });

  it('runs a coalesced load under nobody’s signal: a waiter that gives up leaves, the others get the value and see the call', async () => {
    const cache = new ResponseCache({ maxBytes: 1 << 20 });
    const seen = { a: [] as string[], b: [] as string[], c: [] as string[] };
    const waiter = (name: keyof typeof seen, signal?: AbortSignal): CallContext => ({
      signal,
      deadline: Date.now() + 60_000,
      requestId: `req-${name}`,
      onCall: (info) => seen[name].push(`${info.route} ${info.status}`),
    });
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const loadContexts: CallContext[] = [];
    const load = async (_stale: unknown, ctx: CallContext) => {
      loadContexts.push(ctx);
      ctx.onCall?.({ ...info, route: 'GET /first', status: 503, outcome: 'error' });
      await gate;
      ctx.onCall?.({ ...info, route: 'GET /second', status: 200 });
      return value('shared');
    };
    const aborter = new AbortController();
    const a = cache.getOrLoad('k', 'p', { ttlSeconds: 60 }, load, waiter('a', aborter.signal));
    const b = cache.getOrLoad('k', 'p', { ttlSeconds: 60 }, load, waiter('b'));
    expect(cache.stats()).toMatchObject({ loading: 1, waiting: 2 });
    const reason = new Error('client disconnected');
    aborter.abort(reason);
    await expect(a).rejects.toBe(reason);
    expect(cache.stats()).toMatchObject({ loading: 1, waiting: 1 });
    // A late joiner is told the call made before it came.
    const c = cache.getOrLoad('k', 'p', { ttlSeconds: 60 }, load, waiter('c'));
    release();
    expect((await b).value).toBe('shared');
    expect((await c).value).toBe('shared');
    expect(loadContexts).toHaveLength(1);
    expect(loadContexts[0]!.signal).toBeUndefined();
    expect(loadContexts[0]!.deadline).toBeUndefined();
    expect(loadContexts[0]!.requestId).toBe('req-a');
    expect(seen).toEqual({
      a: ['GET /first 503'],
      b: ['GET /first 503', 'GET /second 200'],
      c: ['GET /first 503', 'GET /second 200'],
    });
    expect(cache.stats()).toMatchObject({ loading: 0, waiting: 0 });
  });

  it('an uncached load (TTL 0) still lets its caller give up', async () => {
    const cache = new ResponseCache({ maxBytes: 1 << 20 });
    const aborter = new AbortController();
    const never = cache.getOrLoad('k', 'p', { ttlSeconds: 0 }, () => new Promise<never>(() => {}), {
      signal: aborter.signal,
    });
    aborter.abort(new Error('gone'));
    await expect(never).rejects.toThrow('gone');
  });
});

describe('parseCacheControl', () => {
  it('reads no-store, no-cache and max-age', () => {
    expect(parseCacheControl('private, max-age=30')).toEqual({ maxAgeSeconds: 30, noStore: false });
    expect(parseCacheControl('no-store')).toEqual({ maxAgeSeconds: undefined, noStore: true });
    expect(parseCacheControl('no-cache, max-age=60')).toEqual({ maxAgeSeconds: 0, noStore: false });
    expect(parseCacheControl(undefined)).toEqual({ maxAgeSeconds: undefined, noStore: false });
  });
});
