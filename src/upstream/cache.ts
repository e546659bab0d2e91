// Shared response cache over lru-cache: a byte budget, a TTL per resource, one coalesced upstream
// call per key (lru-cache's `fetch`), stale-while-revalidate, stale-if-error, ETag revalidation,
// upstream Cache-Control, and explicit invalidation. Keys always include the credential fingerprint.
// A coalesced load is shared work: it runs under a SharedCallContext, never under one caller's signal.
import { LRUCache } from 'lru-cache';
import {
  type FillSource,
  type InvalidationEvent,
  MAX_PREFIX_DEPTH,
  type SharedCache,
  type SharedCacheEntry,
} from '../state/sharedCache.js';
import { isTimeoutReason, raceAbort } from './abort.js';
import type { CallContext } from './callContext.js';
import { UpstreamTimeoutError } from './errors.js';
import { SharedCallContext } from './sharedContext.js';

export interface CachePolicy {
  /** Seconds an entry is fresh. Upstream `max-age` can only shorten it. Trap: 0 disables caching. */
  ttlSeconds: number;
  /** After going stale, seconds during which the stale value is served at once while one refresh runs. Default 0. */
  staleWhileRevalidateSeconds?: number;
  /** After going stale, seconds during which a failed refresh falls back to the stale value. Default 0. */
  staleIfErrorSeconds?: number;
}

/** What a loader hands back to the cache. */
export type LoadResult<T> =
  | {
      kind: 'value';
      value: T;
      /** ETag to revalidate with later. */
      etag?: string | undefined;
      /** Upstream Cache-Control max-age in seconds, if it gave one. */
      maxAgeSeconds?: number | undefined;
      /** Upstream said `no-store` (or `private` for a shared cache that must not keep it). */
      noStore?: boolean | undefined;
    }
  | {
      /** Upstream answered 304 to the stale entry's ETag: keep the value, restart its TTL. */
      kind: 'not-modified';
      maxAgeSeconds?: number | undefined;
    };

/**
 * Loads a value; receives the stale entry (for its ETag) when there is one, and the CallContext to
 * call the provider with. Trap: use that `ctx`, not the caller's: a coalesced load serves every
 * caller waiting on it, so it gets a shared context that no single caller can cancel.
 */
export type Loader<T> = (
  stale: { value: T; etag: string | undefined } | undefined,
  ctx: CallContext,
) => Promise<LoadResult<T>>;

/** `shared_hit`: this replica missed, the second level (Redis, shared by replicas) had it. */
export type CacheOutcome = 'hit' | 'stale' | 'miss' | 'shared_hit';

interface Entry {
  value: unknown;
  etag: string | undefined;
  /** epoch ms until which the entry is fresh */
  freshUntil: number;
  swrMs: number;
  sieMs: number;
  noStore: boolean;
  size: number;
  /** Where the fetch that made it found it, when not in its own load: the second level, or stale there. */
  origin?: 'shared' | 'stale' | undefined;
}

interface FetchContext {
  load: Loader<unknown>;
  policy: CachePolicy;
  /** The caller that starts the load (its request id is forwarded). */
  ctx: CallContext;
}

export interface ResponseCacheOptions {
  /** Upper bound of the cache's memory, in bytes (JSON size of the values). Default 64 MiB. */
  maxBytes: number;
  /** Clock in ms; replaceable in tests. Default `Date.now`. */
  now?: () => number;
  /** Called for every lookup's outcome (metrics). */
  onOutcome?: (provider: string, outcome: CacheOutcome) => void;
}

export interface CacheStats {
  entries: number;
  bytes: number;
  hits: number;
  misses: number;
  stale: number;
  /** L1 misses the second level answered (0 without one). */
  sharedHits: number;
  /** Loads in flight (one per key, however many callers wait on it). */
  loading: number;
  /** Callers waiting on those loads. */
  waiting: number;
}

export class ResponseCache {
  private readonly lru: LRUCache<string, Entry, FetchContext>;
  private readonly now: () => number;
  private readonly counters = { hits: 0, misses: 0, stale: 0, sharedHits: 0 };
  private readonly onOutcome: ResponseCacheOptions['onOutcome'];
  /** The shared context of each load in flight, by key: how late callers join its report. */
  private readonly inflight = new Map<string, SharedCallContext>();
  /** The second level (Redis, shared by replicas); undefined without REDIS_URL: no L2 call at all. */
  private second: SharedCache | undefined;
  private stopListening: (() => void) | undefined;
  /** This replica's invalidations on their way to the second level: a load here waits for them. */
  private readonly invalidating = new Set<Promise<void>>();

  constructor(options: ResponseCacheOptions) {
    this.now = options.now ?? Date.now;
    this.onOutcome = options.onOutcome;
    this.lru = new LRUCache<string, Entry, FetchContext>({
      // One clock for lru-cache's TTLs and our stale windows, so tests can move both together.
      perf: { now: this.now },
      // Read the clock on every check rather than lru-cache's 1 ms cached "now" (cheap, and exact).
      ttlResolution: 0,
      maxSize: options.maxBytes,
      sizeCalculation: (entry) => Math.max(1, entry.size),
      // lru-cache's own TTL marks the entry stale; we keep stale entries for SWR / stale-if-error
      // and decide per call, from the entry's windows, whether a stale value may be used.
      ttl: 1,
      allowStale: false,
      noDeleteOnFetchRejection: true,
      fetchMethod: async (key, stale, { options, context }) => {
        const previous = stale ? { value: stale.value, etag: stale.etag } : undefined;
        // Runs synchronously inside lru.fetch(), so getOrLoad finds it in `inflight` right after.
        const shared = new SharedCallContext(context.ctx, stale ? 'stale' : 'miss');
        this.inflight.set(key, shared);
        const second = this.second;
        if (second) {
          try {
            const entry = await this.fetchThrough(second, key, stale, context, shared);
            options.ttl = Math.max(1, Math.round(entry.freshUntil - this.now()));
            return entry;
          } finally {
            if (this.inflight.get(key) === shared) this.inflight.delete(key);
          }
        }
        let result: LoadResult<unknown>;
        try {
          result = await context.load(previous, shared.ctx);
        } finally {
          if (this.inflight.get(key) === shared) this.inflight.delete(key);
        }
        const policy = context.policy;
        const maxAge = result.maxAgeSeconds;
        const ttlSeconds = maxAge === undefined ? policy.ttlSeconds : Math.min(maxAge, policy.ttlSeconds);
        // lru-cache reads ttl 0 as "never expires": a zero TTL must become 1 ms, never 0.
        const ttlMs = Math.max(1, Math.round(ttlSeconds * 1000));
        options.ttl = ttlMs;
        const base = {
          freshUntil: this.now() + ttlMs,
          swrMs: (policy.staleWhileRevalidateSeconds ?? 0) * 1000,
          sieMs: (policy.staleIfErrorSeconds ?? 0) * 1000,
        };
        if (result.kind === 'not-modified') {
          if (!stale) throw new Error('loader answered not-modified without a stale entry');
          return { ...stale, ...base };
        }
        return {
          ...base,
          value: result.value,
          etag: result.etag,
          noStore: result.noStore === true || ttlSeconds <= 0,
          size: approximateSize(result.value),
        };
      },
    });
  }

  /**
   * The cached value for `key`, or what `load` returns (one call however many callers miss at once).
   * A stale value is served at once inside the SWR window (with a background refresh), or when the
   * refresh fails inside the stale-if-error window; `ctx.onCache` learns which happened.
   */
  async getOrLoad<T>(
    key: string,
    provider: string,
    policy: CachePolicy,
    load: Loader<T>,
    ctx: CallContext,
  ): Promise<{ value: T; outcome: CacheOutcome }> {
    if (policy.ttlSeconds <= 0) {
      // Uncached: the caller's own load, but it may still meet others in a batch (users by id).
      const loaded = await this.waitFor(load(undefined, ctx), provider, ctx);
      if (loaded.kind !== 'value') throw new Error('not-modified without a cached entry');
      this.count('miss', provider, ctx);
      return { value: loaded.value, outcome: 'miss' };
    }
    const now = this.now();
    const existing = this.lru.peek(key, { allowStale: true });
    if (existing && now < existing.freshUntil && !existing.noStore) {
      // Fresh hit, the hot path: no fetch machinery, no abort listener.
      this.lru.get(key); // recency
      this.count('hit', provider, ctx);
      return { value: existing.value as T, outcome: 'hit' };
    }
    let allowStale = false;
    let allowStaleOnFetchRejection = false;
    if (existing && now >= existing.freshUntil) {
      const age = now - existing.freshUntil;
      allowStale = age < existing.swrMs;
      allowStaleOnFetchRejection = age < Math.max(existing.sieMs, existing.swrMs);
      if (!allowStale && !allowStaleOnFetchRejection && existing.etag === undefined) this.lru.delete(key);
    }
    const status: LRUCache.Status<string, Entry, FetchContext> = {};
    const pending = this.lru.fetch(key, {
      context: { load: load as Loader<unknown>, policy, ctx },
      allowStale,
      allowStaleOnFetchRejection,
      // With a second level, invalidations arrive from other replicas at any time: one landing during
      // a load hands its waiters the value it got (they asked before the change) and keeps it out of
      // L1, instead of failing them. Without one, today's behaviour.
      ...(this.second ? { ignoreFetchAbort: true } : {}),
      status,
    });
    // Served stale at once: nothing to wait for (the refresh runs on without this caller).
    const leave = status.returnedStale ? undefined : this.inflight.get(key)?.join(ctx);
    let entry: Entry | undefined;
    try {
      entry = await this.waitFor(pending, provider, ctx);
    } finally {
      leave?.();
    }
    if (entry === undefined) throw new Error(`cache fetch for ${provider} returned nothing`);
    if (entry.noStore) this.lru.delete(key);
    const outcome: CacheOutcome = status.returnedStale
      ? 'stale'
      : status.fetch === 'hit'
        ? 'hit'
        : entry.origin === 'shared'
          ? 'shared_hit'
          : entry.origin === 'stale'
            ? 'stale'
            : 'miss';
    this.count(outcome, provider, ctx);
    return { value: entry.value as T, outcome };
  }

  /**
   * Waits for `work` until the caller gives up: its cancellation rejects with the signal's reason,
   * its deadline with UPSTREAM_TIMEOUT. The work itself runs on for whoever else waits on it.
   */
  private async waitFor<R>(work: Promise<R>, provider: string, ctx: CallContext): Promise<R> {
    try {
      return await raceAbort(work, ctx.signal);
    } catch (error) {
      if (ctx.signal?.aborted && error === ctx.signal.reason && isTimeoutReason(error)) {
        throw new UpstreamTimeoutError(`${provider}: the operation's deadline passed while waiting`, {
          provider,
          cause: error,
        });
      }
      throw error;
    }
  }

  /**
   * Makes `shared` this cache's second level: L1 misses look there, a miss everywhere is one load
   * across replicas, fresh entries are written there, invalidations go through it, and those of other
   * replicas drop entries here. Called once at startup, with REDIS_URL only.
   */
  attachSecondLevel(shared: SharedCache): void {
    this.stopListening?.();
    this.second = shared;
    this.stopListening = shared.onInvalidate((event) => this.dropHere(event));
  }

  /** True when a second level is in use. */
  get layered(): boolean {
    return this.second !== undefined;
  }

  /** Drops one entry (mutations and webhooks call this), on every replica when there is a second level. */
  invalidate(key: string): boolean {
    const removed = this.lru.delete(key);
    if (this.second) this.track(this.second.invalidate(key));
    return removed;
  }

  /**
   * Drops every entry whose key starts with `prefix` (on every replica when there is a second level,
   * which cuts the prefix to its last `|` boundary). O(entries) here: for rare events, not hot paths.
   */
  invalidatePrefix(prefix: string): number {
    const removed = this.dropPrefixHere(prefix);
    const boundary = this.second ? boundaryPrefix(prefix) : undefined;
    if (this.second && boundary !== undefined) this.track(this.second.invalidatePrefix(boundary));
    return removed;
  }

  /** Another replica's invalidation: this replica's L1 only (the second level has it already). */
  private dropHere(event: InvalidationEvent): void {
    if (event.kind === 'key') this.lru.delete(event.key);
    else if (event.kind === 'prefix') this.dropPrefixHere(event.prefix);
    else this.lru.clear();
  }

  private track(work: Promise<void>): void {
    const tracked: Promise<void> = work
      .catch(() => {
        // The second level never throws for Redis (it degrades); nothing to add for anything else.
      })
      .finally(() => this.invalidating.delete(tracked));
    this.invalidating.add(tracked);
  }

  /**
   * An L1 miss through the second level: its fresh entry, or one load across replicas (sharedCache
   * fill), stored there with its freshness, stale windows and ETag.
   */
  private async fetchThrough(
    second: SharedCache,
    key: string,
    stale: Entry | undefined,
    context: FetchContext,
    shared: SharedCallContext,
  ): Promise<Entry> {
    // This replica's own invalidations reach Redis before it reads there again (read your writes).
    if (this.invalidating.size > 0) await Promise.all([...this.invalidating]);
    const { policy } = context;
    let noStore = false;
    let servedStale = false;
    const { entry, source } = await second.fill<unknown>(key, async (current) => {
      // The shared entry is at least as recent as this replica's: revalidate with its ETag.
      const basis = current
        ? { value: current.value, etag: current.etag }
        : stale
          ? { value: stale.value, etag: stale.etag }
          : undefined;
      let result: LoadResult<unknown>;
      try {
        result = await context.load(basis, shared.ctx);
      } catch (error) {
        // Stale-if-error from the second level when this replica holds no stale entry of its own.
        const now = this.now();
        if (!stale && current && now - current.freshUntil < Math.max(current.sieMs, current.swrMs)) {
          servedStale = true;
          return { entry: current, store: false };
        }
        throw error;
      }
      const maxAge = result.maxAgeSeconds;
      const ttlSeconds = maxAge === undefined ? policy.ttlSeconds : Math.min(maxAge, policy.ttlSeconds);
      const ttlMs = Math.max(1, Math.round(ttlSeconds * 1000));
      const now = this.now();
      const timing = {
        storedAt: now,
        freshUntil: now + ttlMs,
        swrMs: (policy.staleWhileRevalidateSeconds ?? 0) * 1000,
        sieMs: (policy.staleIfErrorSeconds ?? 0) * 1000,
      };
      if (result.kind === 'not-modified') {
        if (!basis) throw new Error('loader answered not-modified without a stale entry');
        return { entry: { value: basis.value, etag: basis.etag, ...timing }, store: true };
      }
      noStore = result.noStore === true || ttlSeconds <= 0;
      const loaded: SharedCacheEntry<unknown> = { value: result.value, etag: result.etag, ...timing };
      return { entry: loaded, store: !noStore };
    });
    return {
      value: entry.value,
      etag: entry.etag,
      freshUntil: entry.freshUntil,
      swrMs: entry.swrMs,
      sieMs: entry.sieMs,
      noStore,
      size: approximateSize(entry.value),
      origin: servedStale ? 'stale' : originOf(source),
    };
  }

  /** Drops this replica's entries under `prefix`. */
  private dropPrefixHere(prefix: string): number {
    let removed = 0;
    for (const key of [...this.lru.keys()]) {
      if (key.startsWith(prefix) && this.lru.delete(key)) removed += 1;
    }
    return removed;
  }

  clear(): void {
    this.lru.clear();
  }

  stats(): CacheStats {
    let waiting = 0;
    for (const shared of this.inflight.values()) waiting += shared.size;
    return {
      entries: this.lru.size,
      bytes: this.lru.calculatedSize,
      ...this.counters,
      loading: this.inflight.size,
      waiting,
    };
  }

  private count(outcome: CacheOutcome, provider: string, ctx: CallContext): void {
    if (outcome === 'hit') this.counters.hits += 1;
    else if (outcome === 'stale') this.counters.stale += 1;
    else if (outcome === 'shared_hit') this.counters.sharedHits += 1;
    else this.counters.misses += 1;
    // The operation's report counts a second-level hit as a hit: no provider call was made for it.
    ctx.onCache?.(provider, outcome === 'shared_hit' ? 'hit' : outcome);
    this.onOutcome?.(provider, outcome);
  }
}

/** Cache key: provider, credential fingerprint, resource and id, so credentials never share an entry. */
export function cacheKey(provider: string, credentialId: string, resource: string, id: string): string {
  return `${provider}|${credentialId}|${resource}|${id}`;
}

/** Parses the parts of Cache-Control a shared cache must honour. */
export function parseCacheControl(value: string | string[] | undefined): {
  maxAgeSeconds: number | undefined;
  noStore: boolean;
} {
  const raw = Array.isArray(value) ? value.join(',') : (value ?? '');
  let maxAgeSeconds: number | undefined;
  let noStore = false;
  for (const part of raw.split(',')) {
    const [name, arg] = part.trim().toLowerCase().split('=');
    if (name === 'no-store') noStore = true;
    else if (name === 'no-cache') maxAgeSeconds = 0;
    else if (name === 'max-age' && arg !== undefined && /^\d+$/.test(arg)) {
      maxAgeSeconds = maxAgeSeconds === 0 ? 0 : Number(arg);
    }
  }
  return { maxAgeSeconds, noStore };
}

function originOf(source: FillSource): Entry['origin'] {
  if (source === 'shared' || source === 'peer') return 'shared';
  if (source === 'stale') return 'stale';
  return undefined;
}

/** Deepest `|`-boundary prefix within `prefix` (what the second level can version), or undefined. */
export function boundaryPrefix(prefix: string): string | undefined {
  const parts = prefix.split('|');
  // The text after the last `|` is a partial segment: drop it (a broader invalidation is still correct).
  const whole = parts.slice(0, -1).slice(0, MAX_PREFIX_DEPTH);
  return whole.length === 0 ? undefined : `${whole.join('|')}|`;
}

function approximateSize(value: unknown): number {
  // JSON length is a fair proxy for retained bytes and is what bounds the cache.
  return value === null || value === undefined ? 16 : JSON.stringify(value).length * 2 + 64;
}
