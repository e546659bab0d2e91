// The state section of the config: where replicas share state (Redis), and the fixed tunables of
// src/state/ with their units. Its variables are written here once; config.ts reads them.
import { type ConfigSource, custom, integer, readSection, text } from '../configSchema.js';

export const stateFields = {
  redisUrl: custom<string | undefined>('REDIS_URL', {
    secret: true,
    expected: 'a redis:// or rediss:// URL with a host',
    parse: (raw) => (isRedisUrl(raw.trim()) ? raw.trim() : undefined),
    defaultDoc: 'unset: every store in-process, no Redis client',
    doc: 'Redis for state shared by replicas: `redis://`, or `rediss://` for TLS; user, password (ACL) and database in the URL. Logs show host, port and database only.',
  }),
  keyPrefix: text('REDIS_KEY_PREFIX', {
    default: 'junction:',
    pattern: /^[A-Za-z0-9_.:{}-]{1,64}$/,
    expected: '1..64 characters of A-Z a-z 0-9 _ . : { } -',
    doc: 'Starts every Redis key and pub/sub channel, so several deployments can share one Redis.',
  }),
  commandTimeoutMs: integer('REDIS_COMMAND_TIMEOUT_MS', {
    min: 10,
    max: 10_000,
    default: 250,
    unit: 'ms',
    doc: 'Longest a request waits on Redis before using local state.',
  }),
};

export interface StateConfig {
  /**
   * REDIS_URL (`redis://` or `rediss://`, user, password and database in the URL). Default unset:
   * every store is in-process and no Redis client is created. A secret: never logged.
   */
  redisUrl: string | undefined;
  /** REDIS_KEY_PREFIX: starts every key and channel, so several deployments can share one Redis. Default `junction:`. */
  keyPrefix: string;
  /** REDIS_COMMAND_TIMEOUT_MS: longest any request waits on Redis before using local state. Default 250 ms. */
  commandTimeoutMs: number;
  /** Fixed tunables of src/state/ (not environment variables), with their units. */
  tuning: StateTuning;
}

/** Defaults of src/state/ with their units; see STATE_TUNING. */
export interface StateTuning {
  /** Limit of one connection attempt, in ms. */
  connectTimeoutMs: number;
  /** Reconnect back-off cap, in ms (doubling from 50 ms, with jitter; retried forever). */
  reconnectMaxDelayMs: number;
  /** While degraded on a connected socket, how often a PING checks whether Redis answers again, in ms. */
  probeIntervalMs: number;
  /** How often a replica refreshes its heartbeat key, in ms. */
  heartbeatIntervalMs: number;
  /** Heartbeat key lifetime, in ms: a replica silent this long no longer counts. */
  replicaTtlMs: number;
  /** After an outage, how long replicas stay on their local rate budgets so they switch back together, in ms. */
  rejoinHoldMs: number;
  /** Poll interval of every cross-replica wait (cache fill, event claim, idempotency claim), in ms. */
  pollIntervalMs: number;
  /** Largest value stored in Redis (a cache entry, an APQ document, a push), in bytes; larger ones stay local. */
  maxValueBytes: number;
  /** Longest life of a cache entry (and of a prefix version) in Redis, in ms. */
  cacheMaxLifeMs: number;
  /** Lifetime of a cache fill lock, in ms: a replica that dies while loading blocks no one longer. */
  cacheLockTtlMs: number;
  /** How long other replicas wait for one replica's fill before loading themselves, in ms. */
  cacheFillWaitMs: number;
  /** Byte budget of each local twin cache used while Redis is degraded. */
  fallbackCacheMaxBytes: number;
  /** How long a webhook event id stays claimed while its effects run, in ms. */
  dedupeProcessingTtlMs: number;
  /** How long a processed event id is remembered, in ms (the same window as in-process). */
  dedupeWindowMs: number;
  /** How long a second delivery waits for the first one's effects on another replica, in ms. */
  dedupeWaitMs: number;
  /** How long an idempotent mutation's result is kept, in ms. */
  idempotencyTtlMs: number;
  /** How long an idempotency key stays "in progress" if its request never finishes, in ms. */
  idempotencyPendingTtlMs: number;
  /** How long a repeat waits for the first request with its key, in ms. */
  idempotencyWaitMs: number;
  /** Largest stored mutation result, in bytes. */
  idempotencyMaxResultBytes: number;
  /** Longest APQ document lifetime in Redis, in seconds (Apollo's own TTL is cut to it; no TTL becomes it). */
  apqMaxTtlSeconds: number;
  /** Byte budget of this process's APQ documents (Apollo's own default). */
  apqLocalMaxBytes: number;
}

export const STATE_TUNING: Readonly<StateTuning> = Object.freeze({
  connectTimeoutMs: 2_000, // 2 s
  reconnectMaxDelayMs: 500, // 0.5 s: every replica retries within rejoinHoldMs of Redis coming back
  probeIntervalMs: 500, // 0.5 s
  heartbeatIntervalMs: 1_000, // 1 s
  replicaTtlMs: 5_000, // 5 s
  rejoinHoldMs: 2_000, // 2 s, above reconnectMaxDelayMs plus jitter and one probe
  pollIntervalMs: 20, // 20 ms
  maxValueBytes: 1024 * 1024, // 1 MiB
  cacheMaxLifeMs: 60 * 60 * 1000, // 1 h
  cacheLockTtlMs: 10_000, // 10 s: the operation deadline
  cacheFillWaitMs: 3_000, // 3 s
  fallbackCacheMaxBytes: 8 * 1024 * 1024, // 8 MiB
  dedupeProcessingTtlMs: 30_000, // 30 s
  dedupeWindowMs: 60 * 60 * 1000, // 1 h
  dedupeWaitMs: 10_000, // 10 s, under the providers' webhook timeouts
  idempotencyTtlMs: 24 * 60 * 60 * 1000, // 24 h
  idempotencyPendingTtlMs: 60_000, // 60 s, well above the 10 s operation deadline
  idempotencyWaitMs: 10_000, // 10 s: the operation deadline
  idempotencyMaxResultBytes: 64 * 1024, // 64 KiB
  apqMaxTtlSeconds: 24 * 60 * 60, // 24 h
  apqLocalMaxBytes: 30 * 1024 * 1024, // 30 MiB, as Apollo's default cache
});

/** Reads the state section from `source`. */
export function readStateConfig(source: ConfigSource): StateConfig {
  return { ...readSection(stateFields, source), tuning: { ...STATE_TUNING } };
}

function isRedisUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'redis:' || url.protocol === 'rediss:') && url.hostname !== '';
  } catch {
    return false;
  }
}
