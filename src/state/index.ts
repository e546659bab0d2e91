// What replicas share, chosen by configuration: REDIS_URL unset, every store is this process's own
// (exactly what one Junction has always done) and no Redis client exists; set, every store is the
// Redis one over a single connection, each falling back to its local twin while Redis is degraded.
import type { KeyValueCache } from '@apollo/utils.keyvaluecache';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { LocalApqCache, RedisApqCache } from './apqCache.js';
import { createClientLimitStore } from './clientLimitStore.js';
import type { StateConfig } from './config.js';
import { type EventDedupe, LocalEventDedupe, RedisEventDedupe } from './dedupe.js';
import { type IdempotencyStore, LocalIdempotencyStore, RedisIdempotencyStore } from './idempotency.js';
import { LocalPushBus, type PushBus, RedisPushBus } from './pubsub.js';
import { LocalRateBudget, type RateBudget, RedisRateBudget } from './rateBudget.js';
import { RedisConnection, type RedisHealth, type RedisStateChange, type StateLogger } from './redis.js';
import { type ReplicaCount, ReplicaRegistry, SINGLE_REPLICA } from './replicas.js';
import { LocalSharedCache, RedisSharedCache, type SharedCache } from './sharedCache.js';

export interface SharedStateDeps {
  /** One line per Redis state change. */
  logger?: StateLogger | undefined;
  /** Called once per Redis state change (the metric). */
  onStateChange?: ((change: RedisStateChange) => void) | undefined;
  /** Called when the live replica count changes (a gauge). */
  onReplicaCount?: ((count: number) => void) | undefined;
  /** This replica's id in the registry. Default: host name, pid and a random suffix. */
  replicaId?: string | undefined;
}

/** What /readyz and metrics show: `off` without REDIS_URL. */
export interface SharedStateHealth {
  redis: 'off' | RedisHealth;
  /** Live replicas last seen (1 without Redis). */
  replicas: number;
}

export interface SharedState {
  /** The Redis connection, or undefined without REDIS_URL (then no client exists). */
  readonly connection: RedisConnection | undefined;
  readonly replicas: ReplicaCount;
  readonly rateBudget: RateBudget;
  readonly sharedCache: SharedCache;
  readonly dedupe: EventDedupe;
  readonly pushes: PushBus;
  readonly idempotency: IdempotencyStore;
  readonly apqCache: KeyValueCache<string>;
  /** The store of the per-client request budget (graphql/edgeRateLimit.ts). */
  clientLimitStore(options: { points: number; durationSeconds: number }): RateLimiterAbstract;
  /**
   * Starts the heartbeat, after waiting up to `waitForRedisMs` for Redis to answer (so a starting
   * replica shares budgets from its first request). Resolves either way: a Redis that is down does
   * not stop startup.
   */
  start(options?: { waitForRedisMs?: number | undefined }): Promise<void>;
  health(): SharedStateHealth;
  /** Leaves the registry and closes the connection. */
  close(): Promise<void>;
}

export function createSharedState(config: StateConfig, deps: SharedStateDeps = {}): SharedState {
  const t = config.tuning;
  const waits = { pollIntervalMs: t.pollIntervalMs };
  const cacheOptions = {
    maxValueBytes: t.maxValueBytes,
    maxLifeMs: t.cacheMaxLifeMs,
    lockTtlMs: t.cacheLockTtlMs,
    fillWaitMs: t.cacheFillWaitMs,
    ...waits,
  };
  const idempotencyOptions = {
    ttlMs: t.idempotencyTtlMs,
    pendingTtlMs: t.idempotencyPendingTtlMs,
    waitMs: t.idempotencyWaitMs,
    maxResultBytes: t.idempotencyMaxResultBytes,
    ...waits,
  };
  const apqOptions = {
    maxValueBytes: t.maxValueBytes,
    maxTtlSeconds: t.apqMaxTtlSeconds,
    maxBytes: t.apqLocalMaxBytes,
  };

  if (config.redisUrl === undefined) {
    return {
      connection: undefined,
      replicas: SINGLE_REPLICA,
      rateBudget: new LocalRateBudget(),
      sharedCache: new LocalSharedCache({ ...cacheOptions, maxBytes: t.fallbackCacheMaxBytes }),
      dedupe: new LocalEventDedupe({ windowMs: t.dedupeWindowMs }),
      pushes: new LocalPushBus(),
      idempotency: new LocalIdempotencyStore(idempotencyOptions),
      apqCache: new LocalApqCache(apqOptions),
      clientLimitStore: (options) => createClientLimitStore(options),
      start: async () => {},
      health: () => ({ redis: 'off', replicas: 1 }),
      close: async () => {},
    };
  }

  const connection = new RedisConnection({
    url: config.redisUrl,
    keyPrefix: config.keyPrefix,
    commandTimeoutMs: config.commandTimeoutMs,
    connectTimeoutMs: t.connectTimeoutMs,
    reconnectMaxDelayMs: t.reconnectMaxDelayMs,
    probeIntervalMs: t.probeIntervalMs,
    logger: deps.logger,
    onStateChange: deps.onStateChange,
  });
  const registry = new ReplicaRegistry({
    connection,
    id: deps.replicaId,
    heartbeatIntervalMs: t.heartbeatIntervalMs,
    ttlMs: t.replicaTtlMs,
    onCount: deps.onReplicaCount,
  });
  const rateBudget = new RedisRateBudget({ connection, replicas: registry, rejoinHoldMs: t.rejoinHoldMs });
  const sharedCache = new RedisSharedCache({
    ...cacheOptions,
    connection,
    replicaId: registry.id,
    fallbackMaxBytes: t.fallbackCacheMaxBytes,
  });
  const pushes = new RedisPushBus({ connection, maxValueBytes: t.maxValueBytes });
  return {
    connection,
    replicas: registry,
    rateBudget,
    sharedCache,
    dedupe: new RedisEventDedupe({
      connection,
      processingTtlMs: t.dedupeProcessingTtlMs,
      windowMs: t.dedupeWindowMs,
      waitMs: t.dedupeWaitMs,
      ...waits,
    }),
    pushes,
    idempotency: new RedisIdempotencyStore({ ...idempotencyOptions, connection }),
    apqCache: new RedisApqCache({ ...apqOptions, connection }),
    clientLimitStore: (options) => createClientLimitStore({ ...options, connection }),
    start: async (options = {}) => {
      await connection.waitUntilUp(options.waitForRedisMs ?? t.connectTimeoutMs);
      await registry.start();
    },
    health: () => ({ redis: connection.state, replicas: registry.count }),
    close: async () => {
      await registry.stop();
      rateBudget.close();
      sharedCache.close();
      pushes.close();
      await connection.close();
    },
  };
}

export type { ApqCacheOptions } from './apqCache.js';
export type { EventDedupe } from './dedupe.js';
export { EventNotSettledError, isEventNotSettledError } from './dedupe.js';
export type { IdempotencyBegin, IdempotencyStore } from './idempotency.js';
export type { PushBus } from './pubsub.js';
export type { BucketSpec, BudgetAnswer, RateBudget, ThrottleSignal } from './rateBudget.js';
export type { RedisHealth, RedisStateChange } from './redis.js';
export { isRedisUnavailableError, RedisUnavailableError } from './redis.js';
export type { CacheFill, InvalidationEvent, SharedCache, SharedCacheEntry } from './sharedCache.js';
