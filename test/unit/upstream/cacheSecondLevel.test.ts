// ResponseCache over a second level (what REDIS_URL attaches): two caches over one in-process
// SharedCache stand for two replicas. An L1 miss reads L2; a miss on both is one load; entries carry
// their ETag across; invalidations go through L2; L2's broadcasts drop L1 entries; none of it without
// a second level.
import { describe, expect, it } from 'vitest';
import {
  type InvalidationEvent,
  LocalSharedCache,
  type SharedCache,
  type SharedCacheEntry,
} from '../../../src/state/sharedCache.js';
import {
  boundaryPrefix,
  type CacheOutcome,
  type LoadResult,
  ResponseCache,
} from '../../../src/upstream/cache.js';

const sharedOptions = {
  maxBytes: 1 << 20,
  maxValueBytes: 1 << 16,
  maxLifeMs: 60_000,
  lockTtlMs: 5_000,
  fillWaitMs: 2_000,
  pollIntervalMs: 5,
};

/** A second level that records calls and lets the test broadcast as another replica would. */
class Recording implements SharedCache {
  readonly distributed = true;
  readonly calls: string[] = [];
  private readonly inner = new LocalSharedCache(sharedOptions);
  private readonly listeners = new Set<(event: InvalidationEvent) => void>();
  get<T>(key: string) {
    this.calls.push(`get ${key}`);
    return this.inner.get<T>(key);
  }
  set<T>(key: string, entry: SharedCacheEntry<T>) {
    this.calls.push(`set ${key}`);
    return this.inner.set(key, entry);
  }
  invalidate(key: string) {
    this.calls.push(`invalidate ${key}`);
    return this.inner.invalidate(key);
  }
  invalidatePrefix(prefix: string) {
    this.calls.push(`invalidatePrefix ${prefix}`);
    return this.inner.invalidatePrefix(prefix);
  }
  lock(key: string, ttlMs: number) {
    return this.inner.lock(key, ttlMs);
  }
  fill: SharedCache['fill'] = (key, load, options) => {
    this.calls.push(`fill ${key}`);
    return this.inner.fill(key, load, options);
  };
  onInvalidate(listener: (event: InvalidationEvent) => void) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  broadcast(event: InvalidationEvent) {
    for (const listener of this.listeners) listener(event);
  }
}

function replica(second: SharedCache | undefined) {
  const outcomes: CacheOutcome[] = [];
  const cache = new ResponseCache({ maxBytes: 1 << 20, onOutcome: (_p, o) => outcomes.push(o) });
  if (second) cache.attachSecondLevel(second);
  return { cache, outcomes };
}

const value = <T>(v: T, etag?: string): LoadResult<T> => ({ kind: 'value', value: v, etag });
const KEY = 'users|cred|user|usr_1';

describe('ResponseCache with a second level', () => {
  it("one replica's load is another's shared hit: no second load, counted as shared_hit (a hit for the operation)", async () => {
    const l2 = new Recording();
    const a = replica(l2);
    const b = replica(l2);
    let loads = 0;
    const load = async () => {
      loads += 1;
      return value({ n: loads });
    };
    expect((await a.cache.getOrLoad(KEY, 'users', { ttlSeconds: 60 }, load, {})).outcome).toBe('miss');
    const reported: string[] = [];
    const got = await b.cache.getOrLoad(KEY, 'users', { ttlSeconds: 60 }, load, {
      onCache: (_p, o) => reported.push(o),
    });
    expect(got).toEqual({ value: { n: 1 }, outcome: 'shared_hit' });
    expect(loads).toBe(1);
    expect(b.outcomes).toEqual(['shared_hit']);
    expect(reported).toEqual(['hit']);
    expect(b.cache.stats().sharedHits).toBe(1);
    // Now in B's own first level: a plain hit, no second-level call.
    const before = l2.calls.length;
    expect((await b.cache.getOrLoad(KEY, 'users', { ttlSeconds: 60 }, load, {})).outcome).toBe('hit');
    expect(l2.calls.length).toBe(before);
  });

  it('cold on two replicas at once: one load between them', async () => {
    const l2 = new Recording();
    const [a, b] = [replica(l2), replica(l2)];
    let loads = 0;
    const load = async () => {
      loads += 1;
      await new Promise((r) => setTimeout(r, 30));
      return value('v');
    };
    const results = await Promise.all(
      [a, b].flatMap(({ cache }) =>
        Array.from({ length: 5 }, () => cache.getOrLoad(KEY, 'users', { ttlSeconds: 60 }, load, {})),
      ),
    );
    expect(loads).toBe(1);
    expect(results.every((r) => r.value === 'v')).toBe(true);
  });

  it('revalidates with the ETag of the entry in the second level when this replica has none', async () => {
    const l2 = new Recording();
    const now = Date.now();
    await l2.set(KEY, {
      value: 'old',
      etag: '"e1"',
      storedAt: now - 20_000,
      freshUntil: now - 10_000, // stale, still alive in its stale-if-error window
      swrMs: 0,
      sieMs: 30_000,
    });
    const b = replica(l2);
    let seen: { value: string; etag: string | undefined } | undefined;
    const got = await b.cache.getOrLoad<string>(
      KEY,
      'users',
      { ttlSeconds: 60 },
      async (stale) => {
        seen = stale;
        return { kind: 'not-modified' };
      },
      {},
    );
    expect(seen).toEqual({ value: 'old', etag: '"e1"' });
    expect(got.value).toBe('old');
    // Stored again as fresh: another replica reads it without a load.
    const c = replica(l2);
    const again = await c.cache.getOrLoad(KEY, 'users', { ttlSeconds: 60 }, async () => value('new'), {});
    expect(again).toEqual({ value: 'old', outcome: 'shared_hit' });
  });

  it('invalidations go through the second level: another replica loads again', async () => {
    const l2 = new Recording();
    const [a, b] = [replica(l2), replica(l2)];
    let version = 1;
    const load = async () => value(version);
    await a.cache.getOrLoad(KEY, 'users', { ttlSeconds: 60 }, load, {});
    version = 2;
    a.cache.invalidate(KEY);
    expect((await b.cache.getOrLoad(KEY, 'users', { ttlSeconds: 60 }, load, {})).value).toBe(2);
    expect(l2.calls).toContain(`invalidate ${KEY}`);
    // A prefix that ends mid-segment is widened to its last boundary (correct, if broader).
    a.cache.invalidatePrefix('users|cred|us');
    expect(l2.calls).toContain('invalidatePrefix users|cred|');
    version = 3;
    const c = replica(l2);
    expect((await c.cache.getOrLoad(KEY, 'users', { ttlSeconds: 60 }, load, {})).value).toBe(3);
  });

  it("another replica's invalidation (broadcast) drops this replica's first-level entry", async () => {
    const l2 = new Recording();
    const a = replica(l2);
    let version = 1;
    const load = async () => value(version);
    await a.cache.getOrLoad(KEY, 'users', { ttlSeconds: 60 }, load, {});
    version = 2;
    await l2.invalidate(KEY); // as replica B did it
    expect((await a.cache.getOrLoad(KEY, 'users', { ttlSeconds: 60 }, load, {})).value).toBe(1); // L1 still
    l2.broadcast({ kind: 'key', key: KEY });
    expect((await a.cache.getOrLoad(KEY, 'users', { ttlSeconds: 60 }, load, {})).value).toBe(2);
    await l2.invalidatePrefix('users|cred|');
    version = 3;
    l2.broadcast({ kind: 'prefix', prefix: 'users|cred|' });
    expect((await a.cache.getOrLoad(KEY, 'users', { ttlSeconds: 60 }, load, {})).value).toBe(3);
    version = 4;
    await l2.invalidate(KEY);
    l2.broadcast({ kind: 'all' });
    expect((await a.cache.getOrLoad(KEY, 'users', { ttlSeconds: 60 }, load, {})).value).toBe(4);
  });

  it('no-store answers stay out of the second level', async () => {
    const l2 = new Recording();
    const [a, b] = [replica(l2), replica(l2)];
    let loads = 0;
    const load = async (): Promise<LoadResult<number>> => {
      loads += 1;
      return { kind: 'value', value: loads, noStore: true };
    };
    await a.cache.getOrLoad(KEY, 'users', { ttlSeconds: 60 }, load, {});
    expect((await b.cache.getOrLoad(KEY, 'users', { ttlSeconds: 60 }, load, {})).value).toBe(2);
  });

  it("without a second level, nothing else is called (today's cache)", async () => {
    const a = replica(undefined);
    expect(a.cache.layered).toBe(false);
    await a.cache.getOrLoad(KEY, 'users', { ttlSeconds: 60 }, async () => value(1), {});
    expect(a.outcomes).toEqual(['miss']);
  });

  it('boundaryPrefix keeps whole `|` segments only', () => {
    expect(boundaryPrefix('a|b|')).toBe('a|b|');
    expect(boundaryPrefix('a|b|c')).toBe('a|b|');
    expect(boundaryPrefix('abc')).toBeUndefined();
  });
});
