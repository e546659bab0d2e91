// Automatic persisted queries: Apollo's KeyValueCache over Redis, so a hash registered on one replica
// runs by hash on any other. Every document gets a TTL (Apollo's, cut to a maximum; "no TTL" becomes
// that maximum) and a size bound; this process keeps a copy, which answers while Redis is degraded.
import {
  InMemoryLRUCache,
  type KeyValueCache,
  type KeyValueCacheSetOptions,
} from '@apollo/utils.keyvaluecache';
import type { RedisConnection } from './redis.js';

export interface ApqCacheOptions {
  /** Largest document kept, in bytes (UTF-8); larger ones are not kept (the client sends the text again). */
  maxValueBytes: number;
  /** Longest lifetime of a document, in seconds. Trap: Apollo's `ttl: null` (keep forever) is cut to it too. */
  maxTtlSeconds: number;
  /** Byte budget of this process's copy. */
  maxBytes: number;
}

/** The lifetime to store with, in seconds: Apollo's, within (0, maxTtlSeconds]. */
export function boundedTtlSeconds(ttl: number | null | undefined, maxTtlSeconds: number): number {
  if (ttl === null || ttl === undefined || !Number.isFinite(ttl) || ttl <= 0) return maxTtlSeconds;
  return Math.min(ttl, maxTtlSeconds);
}

/** In-process: Apollo's own LRU, with the same bounds as the Redis one. */
export class LocalApqCache implements KeyValueCache<string> {
  readonly distributed: boolean = false;
  private readonly options: ApqCacheOptions;
  private readonly lru: InMemoryLRUCache<string>;

  constructor(options: ApqCacheOptions) {
    this.options = options;
    this.lru = new InMemoryLRUCache<string>({ maxSize: options.maxBytes });
  }

  async get(key: string): Promise<string | undefined> {
    return this.lru.get(key);
  }

  async set(key: string, value: string, options?: KeyValueCacheSetOptions): Promise<void> {
    if (Buffer.byteLength(value) > this.options.maxValueBytes) return;
    await this.lru.set(key, value, { ttl: boundedTtlSeconds(options?.ttl, this.options.maxTtlSeconds) });
  }

  async delete(key: string): Promise<boolean> {
    return this.lru.delete(key);
  }
}

export interface RedisApqCacheOptions extends ApqCacheOptions {
  connection: RedisConnection;
}

export class RedisApqCache implements KeyValueCache<string> {
  readonly distributed: boolean = true;
  private readonly options: RedisApqCacheOptions;
  private readonly connection: RedisConnection;
  private readonly twin: LocalApqCache;

  constructor(options: RedisApqCacheOptions) {
    this.options = options;
    this.connection = options.connection;
    this.twin = new LocalApqCache(options);
  }

  async get(key: string): Promise<string | undefined> {
    const shared = await this.connection.guard(
      (client) => client.get(this.redisKey(key)),
      () => null,
    );
    if (shared !== null && Buffer.byteLength(shared) <= this.options.maxValueBytes) return shared;
    // Not in Redis (or Redis away): one registered here while Redis was away may still be known.
    return this.twin.get(key);
  }

  async set(key: string, value: string, options?: KeyValueCacheSetOptions): Promise<void> {
    if (Buffer.byteLength(value) > this.options.maxValueBytes) return;
    const ttlSeconds = boundedTtlSeconds(options?.ttl, this.options.maxTtlSeconds);
    await this.twin.set(key, value, { ttl: ttlSeconds });
    await this.connection.guard(
      (client) => client.set(this.redisKey(key), value, 'PX', Math.max(1, Math.round(ttlSeconds * 1000))),
      () => undefined,
    );
  }

  async delete(key: string): Promise<boolean> {
    const local = await this.twin.delete(key);
    const removed = await this.connection.guard(
      (client) => client.del(this.redisKey(key)),
      () => 0,
    );
    return local || removed > 0;
  }

  private redisKey(key: string): string {
    return this.connection.key('apq', key);
  }
}
