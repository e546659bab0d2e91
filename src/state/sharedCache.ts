// The response cache's second level: entries (value, ETag, freshness and stale windows) that every
// replica reads, one fill per key across replicas (a short lock; the others wait for it or serve
// stale), and invalidations that reach every replica's first level within milliseconds (pub/sub).
// Prefix invalidation uses versions, never key scans: each `|`-boundary prefix of a key (and the key
// itself) has a random version, created before a load when missing; an entry records the versions it
// was loaded under and is a miss once any of them changed or is gone, so neither a TTL nor an LRU
// eviction of a version can bring an invalidated entry back. Memory is bounded by a size cap per
// entry, a TTL on every key (the entry's whole life, capped) and Redis' maxmemory with LRU eviction.
import { randomBytes, randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { decode, encode } from './codec.js';
import { LuaScript, type RedisConnection } from './redis.js';
import { sleep } from './wait.js';

/** One cached response, as both levels hold it. Times are epoch ms. */
export interface SharedCacheEntry<T = unknown> {
  value: T;
  /** ETag to revalidate with, when the provider gave one. */
  etag: string | undefined;
  /** When it was loaded. */
  storedAt: number;
  /** Fresh until then. */
  freshUntil: number;
  /** After freshUntil, how long it may be served at once while one refresh runs, in ms. */
  swrMs: number;
  /** After freshUntil, how long a failed refresh may fall back to it, in ms. */
  sieMs: number;
}

/** What another replica invalidated (or `all` when some invalidations may have been missed). */
export type InvalidationEvent =
  | { kind: 'key'; key: string }
  | { kind: 'prefix'; prefix: string }
  | { kind: 'all' };

/** What a fill's loader hands back: the entry, and whether it may be stored (no-store answers may not). */
export interface CacheFill<T> {
  entry: SharedCacheEntry<T>;
  store: boolean;
}

/** Where a fill's entry came from: the second level, this replica's load, another replica's, or stale. */
export type FillSource = 'shared' | 'loaded' | 'peer' | 'stale';

export interface CacheLock {
  /** Frees the lock if it is still this holder's (a lock that expired and was retaken stays). */
  release(): Promise<void>;
}

export interface SharedCache {
  /** True when the entries are shared by replicas (Redis). */
  readonly distributed: boolean;
  /** The entry for `key` while it is alive (fresh or within a stale window), else undefined. */
  get<T>(key: string): Promise<SharedCacheEntry<T> | undefined>;
  /** Stores `entry` for its whole life; false when refused (too large, not serializable, already dead). */
  set<T>(key: string, entry: SharedCacheEntry<T>): Promise<boolean>;
  /** Drops `key` here and on every replica's first level. */
  invalidate(key: string): Promise<void>;
  /** Drops every key starting with `prefix`, which must end with `|` (a key boundary). */
  invalidatePrefix(prefix: string): Promise<void>;
  /** Takes the fill lock of `key` for `ttlMs`, or undefined when another holder has it. */
  lock(key: string, ttlMs: number): Promise<CacheLock | undefined>;
  /**
   * The entry for `key`: a fresh one from the second level, or one load across replicas. The replica
   * holding the lock calls `load` (with the entry it replaces) and stores the result; the others serve
   * a stale entry inside its SWR window, or wait for the result (polling), and load themselves only if
   * none arrives in time. `load`'s rejection is the caller's.
   */
  fill<T>(
    key: string,
    load: (current: SharedCacheEntry<T> | undefined) => Promise<CacheFill<T>>,
    options?: { signal?: AbortSignal | undefined },
  ): Promise<{ entry: SharedCacheEntry<T>; source: FillSource }>;
  /** Invalidations made by other replicas (for the first level). Returns the unsubscribe function. */
  onInvalidate(listener: (event: InvalidationEvent) => void): () => void;
}

export interface SharedCacheOptions {
  /** Largest encoded entry stored, in bytes; larger ones are refused (they stay in the first level). */
  maxValueBytes: number;
  /** Longest life of an entry and of a prefix version, in ms. Trap: versions must outlive entries. */
  maxLifeMs: number;
  /** Fill lock lifetime, in ms: how long a replica that died mid-load blocks the others at most. */
  lockTtlMs: number;
  /** How long a fill waits for another replica's load before loading itself, in ms. */
  fillWaitMs: number;
  /** Poll interval of that wait, in ms. */
  pollIntervalMs: number;
  /** Clock in epoch ms. Default Date.now. */
  now?: (() => number) | undefined;
}

const SEPARATOR = '|';
/** Versioned prefixes per key: keys deeper than this many `|` cannot be invalidated by deeper prefixes. */
export const MAX_PREFIX_DEPTH = 16;

/** The `|`-boundary prefixes of `key` (at most MAX_PREFIX_DEPTH), then the key itself. */
export function versionedPrefixes(key: string): string[] {
  const out: string[] = [];
  let at = key.indexOf(SEPARATOR);
  while (at !== -1 && out.length < MAX_PREFIX_DEPTH) {
    if (at + 1 < key.length) out.push(key.slice(0, at + 1));
    at = key.indexOf(SEPARATOR, at + 1);
  }
  out.push(key);
  return out;
}

function checkPrefix(prefix: string): void {
  const depth = prefix.split(SEPARATOR).length - 1;
  if (!prefix.endsWith(SEPARATOR) || depth > MAX_PREFIX_DEPTH) {
    throw new RangeError(
      `cache invalidatePrefix: expected a prefix ending with "${SEPARATOR}" and at most ${MAX_PREFIX_DEPTH} "${SEPARATOR}" deep, got ${JSON.stringify(prefix.slice(0, 200))}`,
    );
  }
}

/** How long `entry` may live from `now`, in ms: fresh time plus the longer stale window, capped. */
export function entryLifeMs(entry: SharedCacheEntry, now: number, maxLifeMs: number): number {
  return Math.min(maxLifeMs, Math.floor(entry.freshUntil - now + Math.max(entry.swrMs, entry.sieMs, 0)));
}

function isEntry(value: unknown): value is SharedCacheEntry {
  if (typeof value !== 'object' || value === null) return false;
  const e = value as Record<string, unknown>;
  return (
    'value' in e &&
    (e.etag === undefined || typeof e.etag === 'string') &&
    typeof e.storedAt === 'number' &&
    typeof e.freshUntil === 'number' &&
    typeof e.swrMs === 'number' &&
    typeof e.sieMs === 'number'
  );
}

/** What is stored: the entry and the versions of its prefixes when it was loaded. */
interface Stored {
  e: SharedCacheEntry;
  v: string[];
}

function sameVersions(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** The fill protocol over a store's primitives; the local and the Redis cache differ only in those. */
abstract class FillingCache implements SharedCache {
  abstract readonly distributed: boolean;
  protected readonly options: SharedCacheOptions;
  protected readonly now: () => number;

  constructor(options: SharedCacheOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
  }

  /**
   * The live entry, and the current versions of its prefixes. With `forWrite`, missing versions are
   * created first, so an entry stored under them never records an absent one.
   */
  protected abstract read(
    key: string,
    forWrite: boolean,
  ): Promise<{ entry: SharedCacheEntry | undefined; versions: string[] }>;
  /** Stores `entry` under `versions` (read before its load, so an invalidation during the load wins). */
  protected abstract write(key: string, entry: SharedCacheEntry, versions: string[]): Promise<boolean>;
  protected abstract isLocked(key: string): Promise<boolean>;
  abstract lock(key: string, ttlMs: number): Promise<CacheLock | undefined>;
  abstract invalidate(key: string): Promise<void>;
  abstract invalidatePrefix(prefix: string): Promise<void>;
  abstract onInvalidate(listener: (event: InvalidationEvent) => void): () => void;

  async get<T>(key: string): Promise<SharedCacheEntry<T> | undefined> {
    return (await this.read(key, false)).entry as SharedCacheEntry<T> | undefined;
  }

  async set<T>(key: string, entry: SharedCacheEntry<T>): Promise<boolean> {
    const { versions } = await this.read(key, true);
    return this.write(key, entry, versions);
  }

  async fill<T>(
    key: string,
    load: (current: SharedCacheEntry<T> | undefined) => Promise<CacheFill<T>>,
    options: { signal?: AbortSignal | undefined } = {},
  ): Promise<{ entry: SharedCacheEntry<T>; source: FillSource }> {
    const first = await this.read(key, false);
    const current = first.entry as SharedCacheEntry<T> | undefined;
    if (current && this.now() < current.freshUntil) return { entry: current, source: 'shared' };
    // Counted in polls, not clock time: an injected clock may stand still.
    let polls = Math.max(1, Math.ceil(this.options.fillWaitMs / this.options.pollIntervalMs));
    for (;;) {
      const lock = await this.lock(key, this.options.lockTtlMs);
      if (lock) {
        try {
          const { entry, versions } = await this.read(key, true);
          // A peer may have stored its result and let go of the lock between our last look and
          // this lock: that result is the answer, not a second load.
          const seen = entry as SharedCacheEntry<T> | undefined;
          if (seen && this.now() < seen.freshUntil && (!current || seen.storedAt > current.storedAt))
            return { entry: seen, source: 'peer' };
          return { entry: await this.loadAndStore(key, current, versions, load), source: 'loaded' };
        } finally {
          await lock.release();
        }
      }
      // Another replica is loading: inside the SWR window the stale entry is the answer.
      if (current && this.now() - current.freshUntil < current.swrMs)
        return { entry: current, source: 'stale' };
      // Wait for its result, or for its lock to go (it stored nothing, or died): then try to lock again.
      let lockGone = false;
      while (!lockGone && polls > 0) {
        polls -= 1;
        await sleep(this.options.pollIntervalMs, options.signal);
        const now = this.now();
        const seen = (await this.read(key, false)).entry as SharedCacheEntry<T> | undefined;
        if (seen && now < seen.freshUntil && (!current || seen.storedAt > current.storedAt)) {
          return { entry: seen, source: 'peer' };
        }
        lockGone = !(await this.isLocked(key));
      }
      if (!lockGone) {
        // Nothing came in time: load without the lock rather than fail.
        const { versions } = await this.read(key, true);
        return { entry: await this.loadAndStore(key, current, versions, load), source: 'loaded' };
      }
    }
  }

  private async loadAndStore<T>(
    key: string,
    current: SharedCacheEntry<T> | undefined,
    versions: string[],
    load: (current: SharedCacheEntry<T> | undefined) => Promise<CacheFill<T>>,
  ): Promise<SharedCacheEntry<T>> {
    const result = await load(current);
    if (result.store) await this.write(key, result.entry, versions);
    return result.entry;
  }
}

/** In-process second level: the same contract in this process's memory (and Redis' fallback twin). */
export class LocalSharedCache extends FillingCache {
  readonly distributed = false;
  private readonly entries: LRUCache<string, Buffer>;
  private readonly versions: LRUCache<string, string>;
  private readonly locks = new Map<string, { token: string; until: number }>();

  constructor(options: SharedCacheOptions & { maxBytes: number }) {
    super(options);
    const perf = { now: this.now };
    this.entries = new LRUCache<string, Buffer>({
      maxSize: options.maxBytes,
      sizeCalculation: (bytes, key) => bytes.length + key.length * 2,
      perf,
      ttlResolution: 0,
    });
    this.versions = new LRUCache<string, string>({
      max: 100_000,
      ttl: options.maxLifeMs,
      perf,
      ttlResolution: 0,
    });
  }

  protected async read(
    key: string,
    forWrite: boolean,
  ): Promise<{ entry: SharedCacheEntry | undefined; versions: string[] }> {
    const versions = versionedPrefixes(key).map((p) => {
      let version = this.versions.get(p);
      if (version === undefined && forWrite) {
        version = newVersion();
        this.versions.set(p, version);
      }
      return version ?? '';
    });
    const bytes = this.entries.get(key);
    if (!bytes) return { entry: undefined, versions };
    const stored = decode(bytes, Number.POSITIVE_INFINITY)?.value as Stored | undefined;
    if (!stored || !isEntry(stored.e) || !sameVersions(stored.v, versions)) {
      this.entries.delete(key);
      return { entry: undefined, versions };
    }
    return { entry: stored.e, versions };
  }

  protected async write(key: string, entry: SharedCacheEntry, versions: string[]): Promise<boolean> {
    const life = entryLifeMs(entry, this.now(), this.options.maxLifeMs);
    const bytes = encode({ e: entry, v: versions } satisfies Stored);
    if (life <= 0 || !bytes || bytes.length > this.options.maxValueBytes) return false;
    this.entries.set(key, bytes, { ttl: life });
    return this.entries.has(key);
  }

  protected async isLocked(key: string): Promise<boolean> {
    const held = this.locks.get(key);
    return held !== undefined && held.until > this.now();
  }

  async lock(key: string, ttlMs: number): Promise<CacheLock | undefined> {
    // Checked and taken in one synchronous step: an await between them let two callers both take it.
    const held = this.locks.get(key);
    if (held !== undefined && held.until > this.now()) return undefined;
    const token = randomUUID();
    this.locks.set(key, { token, until: this.now() + ttlMs });
    return {
      release: async () => {
        if (this.locks.get(key)?.token === token) this.locks.delete(key);
      },
    };
  }

  async invalidate(key: string): Promise<void> {
    this.versions.set(key, newVersion());
    this.entries.delete(key);
  }

  async invalidatePrefix(prefix: string): Promise<void> {
    checkPrefix(prefix);
    this.versions.set(prefix, newVersion());
  }

  /** One process has no other replicas: nothing arrives. */
  onInvalidate(_listener: (event: InvalidationEvent) => void): () => void {
    return () => {};
  }

  /** Drops everything (the Redis cache's twin, when Redis comes back). */
  clear(): void {
    this.entries.clear();
    this.versions.clear();
    this.locks.clear();
  }
}

function newVersion(): string {
  return randomBytes(8).toString('base64url');
}

// KEYS[1]: lock. ARGV[1]: token. Deletes the lock only while it is still this holder's.
const RELEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

// KEYS[1]: entry, KEYS[2..]: versions. ARGV[1]: their TTL, ARGV[2..]: a new version for each missing
// one. Creates the missing versions (and keeps the others alive), then replies the entry and versions.
const ENSURE_VERSIONS = new LuaScript(`
for i = 2, #KEYS do
  if not redis.call('SET', KEYS[i], ARGV[i], 'PX', ARGV[1], 'NX') then redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
end
return redis.call('MGET', unpack(KEYS))
`);

const INVALIDATION_CHANNEL = 'cache-invalidate';
const MAX_MESSAGE_BYTES = 64 * 1024;

export interface RedisSharedCacheOptions extends SharedCacheOptions {
  connection: RedisConnection;
  /** This replica's id: its own broadcasts are not echoed back to its listeners. */
  replicaId: string;
  /** Byte budget of the in-process twin used while Redis is degraded. */
  fallbackMaxBytes: number;
}

/** Entries in Redis, invalidations over pub/sub; an in-process twin while Redis is degraded. */
export class RedisSharedCache extends FillingCache {
  readonly distributed = true;
  private readonly connection: RedisConnection;
  private readonly replicaId: string;
  private readonly twin: LocalSharedCache;
  private readonly listeners = new Set<(event: InvalidationEvent) => void>();
  private readonly unsubscribe: () => void;
  private readonly stopResubscribe: () => void;
  private readonly stopState: () => void;

  constructor(options: RedisSharedCacheOptions) {
    super(options);
    this.connection = options.connection;
    this.replicaId = options.replicaId;
    this.twin = new LocalSharedCache({ ...options, maxBytes: options.fallbackMaxBytes });
    this.unsubscribe = this.connection.subscribe(INVALIDATION_CHANNEL, (message) => this.onMessage(message));
    // Broadcasts sent while this replica's subscriber was away are lost: its first level may be stale.
    this.stopResubscribe = this.connection.onResubscribed(() => this.emit({ kind: 'all' }));
    // The twin's entries missed every invalidation made elsewhere meanwhile: drop them on return.
    this.stopState = this.connection.onStateChange((change) => {
      if (change.state === 'up') this.twin.clear();
    });
  }

  protected async read(
    key: string,
    forWrite: boolean,
  ): Promise<{ entry: SharedCacheEntry | undefined; versions: string[] }> {
    const versionKeys = versionedPrefixes(key).map((p) => this.versionKey(p));
    try {
      const [bytes, ...raw] = await this.connection.run(async (client) => {
        if (!forWrite) return client.mgetBuffer(this.entryKey(key), ...versionKeys);
        const reply = await ENSURE_VERSIONS.run(
          client,
          [this.entryKey(key), ...versionKeys],
          [this.options.maxLifeMs, ...versionKeys.map(() => newVersion())],
          { buffers: true },
        );
        return reply as (Buffer | null)[];
      });
      const versions = raw.map((v) => v?.toString() ?? '');
      if (!bytes) return { entry: undefined, versions };
      const stored = decode(bytes, this.options.maxValueBytes)?.value as Stored | undefined;
      if (!stored || !Array.isArray(stored.v) || !isEntry(stored.e) || !sameVersions(stored.v, versions)) {
        return { entry: undefined, versions };
      }
      return { entry: stored.e, versions };
    } catch {
      return this.twinRead(key);
    }
  }

  protected async write(key: string, entry: SharedCacheEntry, versions: string[]): Promise<boolean> {
    const life = entryLifeMs(entry, this.now(), this.options.maxLifeMs);
    const bytes = encode({ e: entry, v: versions } satisfies Stored);
    if (life <= 0 || !bytes || bytes.length > this.options.maxValueBytes) return false;
    try {
      await this.connection.run((client) => client.set(this.entryKey(key), bytes, 'PX', life));
      return true;
    } catch {
      return this.twin.set(key, entry);
    }
  }

  protected async isLocked(key: string): Promise<boolean> {
    return this.connection.guard(
      async (client) => (await client.exists(this.lockKey(key))) === 1,
      () => false,
    );
  }

  async lock(key: string, ttlMs: number): Promise<CacheLock | undefined> {
    const token = randomUUID();
    try {
      const ok = await this.connection.run((client) =>
        client.set(this.lockKey(key), token, 'PX', ttlMs, 'NX'),
      );
      if (ok !== 'OK') return undefined;
    } catch {
      // Redis away: no cross-replica coordination; this replica's own twin still coalesces.
      return this.twin.lock(key, ttlMs);
    }
    return {
      release: async () => {
        await this.connection.guard(
          (client) => RELEASE.run(client, [this.lockKey(key)], [token]),
          () => undefined,
        );
      },
    };
  }

  async invalidate(key: string): Promise<void> {
    await this.twin.invalidate(key);
    await this.connection.guard(
      (client) =>
        client
          .multi()
          .set(this.versionKey(key), newVersion(), 'PX', this.options.maxLifeMs)
          .del(this.entryKey(key))
          .publish(this.connection.key(INVALIDATION_CHANNEL), JSON.stringify({ o: this.replicaId, k: key }))
          .exec(),
      () => undefined,
    );
  }

  async invalidatePrefix(prefix: string): Promise<void> {
    checkPrefix(prefix);
    await this.twin.invalidatePrefix(prefix);
    await this.connection.guard(
      (client) =>
        client
          .multi()
          .set(this.versionKey(prefix), newVersion(), 'PX', this.options.maxLifeMs)
          .publish(
            this.connection.key(INVALIDATION_CHANNEL),
            JSON.stringify({ o: this.replicaId, p: prefix }),
          )
          .exec(),
      () => undefined,
    );
  }

  onInvalidate(listener: (event: InvalidationEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops listening for invalidations. */
  close(): void {
    this.unsubscribe();
    this.stopResubscribe();
    this.stopState();
  }

  private async twinRead(key: string): Promise<{ entry: SharedCacheEntry | undefined; versions: string[] }> {
    // Versions from the twin are the twin's: a write under them goes to the twin too (Redis is away).
    return { entry: await this.twin.get(key), versions: [] };
  }

  private onMessage(message: Buffer): void {
    if (message.length > MAX_MESSAGE_BYTES) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(message.toString());
    } catch {
      return;
    }
    if (typeof parsed !== 'object' || parsed === null) return;
    const { o, k, p } = parsed as { o?: unknown; k?: unknown; p?: unknown };
    if (o === this.replicaId) return;
    if (typeof k === 'string') {
      void this.twin.invalidate(k);
      this.emit({ kind: 'key', key: k });
    } else if (typeof p === 'string' && p.endsWith(SEPARATOR)) {
      void this.twin.invalidatePrefix(p).catch(() => {});
      this.emit({ kind: 'prefix', prefix: p });
    }
  }

  private emit(event: InvalidationEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch {
        // One listener's failure must not keep the others stale.
      }
    }
  }

  private entryKey(key: string): string {
    return this.connection.key('cache', key);
  }

  private versionKey(prefix: string): string {
    return this.connection.key('cachever', prefix);
  }

  private lockKey(key: string): string {
    return this.connection.key('cachelock', key);
  }
}
