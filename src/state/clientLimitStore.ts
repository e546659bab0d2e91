// Where per-client request budgets (the inbound limits, graphql/edgeRateLimit.ts) are counted:
// rate-limiter-flexible's memory store in-process, its Redis store over the shared connection with
// a memory "insurance" limiter while Redis is degraded. A thin factory: the library does the rest.

import type { Redis } from 'ioredis';
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import type { RedisConnection } from './redis.js';

export interface ClientLimitStoreOptions {
  /** Shared connection; undefined: this process's memory only. */
  connection?: RedisConnection | undefined;
  /** Points per client per window. */
  points: number;
  /** Window, in seconds (one fixed window). */
  durationSeconds: number;
}

/**
 * The store ClientRateLimiter counts in. With Redis: counts are shared by every replica; while Redis
 * is degraded each replica counts in its own memory with the same budget (a client spread over N
 * replicas may then get up to N times its budget: the inbound limit protects Junction, and a degraded
 * moment is no reason to refuse clients that stay within it).
 */
export function createClientLimitStore(options: ClientLimitStoreOptions): RateLimiterAbstract {
  const { connection, points, durationSeconds } = options;
  if (!connection)
    return new RateLimiterMemory({ points, duration: durationSeconds, keyPrefix: 'junction-client' });
  return new RateLimiterRedis({
    storeClient: guardedClient(connection),
    keyPrefix: connection.key('client'),
    points,
    duration: durationSeconds,
    // Not ready (or degraded): the insurance limiter answers at once instead of waiting on Redis.
    rejectIfRedisNotReady: true,
    insuranceLimiter: new RateLimiterMemory({
      points,
      duration: durationSeconds,
      keyPrefix: 'junction-client',
    }),
  });
}

/**
 * The command client as rate-limiter-flexible sees it: `status` is `ready` only while the connection
 * is up, and a failed or timed-out command degrades the connection, so a Redis that is connected but
 * too slow costs one command timeout, then is skipped as promptly as one that is gone.
 */
function guardedClient(connection: RedisConnection): Redis {
  const client = connection.client;
  return new Proxy(client, {
    get(target, property) {
      if (property === 'status') return connection.state === 'up' ? target.status : 'reconnecting';
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const result: unknown = value.apply(target, args);
        if (result instanceof Promise) result.catch((error: unknown) => connection.noteFailure(error));
        return result;
      };
    },
  });
}
