// How long to wait before a retry: capped exponential backoff with full jitter (so clients that
// failed together do not retry together), stretched to a provider's Retry-After when it sent one.

export interface BackoffOptions {
  /** Ceiling of the first retry's delay, in ms. Default 100 ms. Trap: full jitter means the delay is often far below it. */
  baseDelayMs: number;
  /** Largest jittered delay, in ms. Default 2000 ms. Trap: it caps the exponential only, not a Retry-After. */
  maxDelayMs: number;
  /** Longest Retry-After we wait for, in ms. Default 5000 ms. Trap: a longer Retry-After means no retry at all. */
  maxRetryAfterMs: number;
  /** Uniform random in [0, 1). Default Math.random. Inject a constant in tests to assert exact delays. */
  random?: () => number;
}

/** A delay to wait before the next attempt, or `undefined` when the caller should give up instead. */
export type BackoffDelay = number | undefined;

/** The jitter ceiling after failed attempt `attempt` (1 = the first): min(cap, base * 2^(attempt-1)). */
export function backoffCeilingMs(attempt: number, baseDelayMs: number, maxDelayMs: number): number {
  // 2 ** 1100 is Infinity, which Math.min handles; no overflow guard needed.
  return Math.min(maxDelayMs, baseDelayMs * 2 ** Math.max(0, attempt - 1));
}

/** Returns `delayFor(attempt, retryAfterSeconds)`; see BackoffOptions for the rules. */
export function createBackoff(options: BackoffOptions): {
  delayFor(attempt: number, retryAfterSeconds?: number | undefined): BackoffDelay;
} {
  const { baseDelayMs, maxDelayMs, maxRetryAfterMs } = options;
  for (const [name, value] of Object.entries({ baseDelayMs, maxDelayMs, maxRetryAfterMs })) {
    if (!Number.isFinite(value) || value < 0) {
      throw new RangeError(`backoff ${name} must be a finite number >= 0 (ms), got ${String(value)}`);
    }
  }
  const random = options.random ?? Math.random;
  return {
    delayFor(attempt, retryAfterSeconds) {
      const jittered = random() * backoffCeilingMs(attempt, baseDelayMs, maxDelayMs);
      if (retryAfterSeconds === undefined) return jittered;
      const retryAfterMs = retryAfterSeconds * 1000;
      // The provider knows better than our guess: waiting less than it asked for only earns another 429.
      // But a long Retry-After would hold the caller's request open, so past the cap we give up.
      if (retryAfterMs > maxRetryAfterMs) return undefined;
      return Math.min(Math.max(jittered, retryAfterMs), maxRetryAfterMs);
    },
  };
}
