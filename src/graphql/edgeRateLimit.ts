// Per-client request budget: one limiter for HTTP and the WebSocket, keyed by the verified viewer
// (else the client address), cost-aware so clients sending expensive queries run out first.
// The store is state.clientLimitStore (server.ts): rate-limiter-flexible's memory store without
// REDIS_URL, its Redis store (an in-memory insurance limiter while Redis is down) with it, so a
// client's budget is one across replicas.
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

export interface ClientRateLimiterOptions {
  /** Requests per client per minute (one fixed window: a burst may spend it all). Must be >= 1. */
  perMinute: number;
  /** Query cost one request covers: an operation counts as ceil(cost / this), at least 1. */
  costPerRequest: number;
  /** Where counts live. Default: this process's memory (rate-limiter-flexible's RateLimiterMemory). */
  store?: RateLimiterAbstract;
}

/** What a refused client is told: how many seconds until its budget renews. */
export interface RateLimitRefusal {
  retryAfterSeconds: number;
}

export class ClientRateLimiter {
  readonly perMinute: number;
  private readonly costPerRequest: number;
  private readonly store: RateLimiterAbstract;

  constructor(options: ClientRateLimiterOptions) {
    if (!Number.isInteger(options.perMinute) || options.perMinute < 1)
      throw new RangeError(`perMinute: expected an integer >= 1, got ${String(options.perMinute)}`);
    if (!Number.isInteger(options.costPerRequest) || options.costPerRequest < 1)
      throw new RangeError(`costPerRequest: expected an integer >= 1, got ${String(options.costPerRequest)}`);
    this.perMinute = options.perMinute;
    this.costPerRequest = options.costPerRequest;
    this.store =
      options.store ??
      new RateLimiterMemory({ points: options.perMinute, duration: 60, keyPrefix: 'junction-client' });
  }

  /** How many requests an operation of this cost counts for (at least 1). */
  weight(cost: number): number {
    return Math.max(1, Math.ceil(cost / this.costPerRequest));
  }

  /**
   * Takes `points` from `key`'s budget. Over budget: nothing is taken (a refused operation costs
   * the client nothing) and the answer says when the budget renews.
   */
  async take(key: string, points: number): Promise<RateLimitRefusal | undefined> {
    if (points <= 0) return undefined;
    try {
      await this.store.consume(key, points);
      return undefined;
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      await this.store.reward(key, points);
      // Within [1 s, the window]: a store's answer never makes a client wait longer than a minute.
      const seconds = Math.ceil(rejection.msBeforeNext / 1000);
      return { retryAfterSeconds: Math.min(60, Math.max(1, seconds)) };
    }
  }
}
