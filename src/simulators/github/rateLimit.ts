// GitHub's primary REST rate limit (`core`): a fixed budget per user that a window of an hour refills,
// reported in the x-ratelimit-* headers. Answers that cost nothing (a 304, /rate_limit) only peek.

export interface RateLimitSnapshot {
  limit: number;
  remaining: number;
  used: number;
  /** When the window ends, in Unix seconds (what `x-ratelimit-reset` carries). */
  reset: number;
  resource: 'core';
}

export interface RateLimiter {
  /** The bucket of `key` as it stands, without spending anything. */
  peek(key: string): RateLimitSnapshot;
  /** Spends one request of `key`'s bucket; `allowed` is false (and nothing is spent) when it is empty. */
  take(key: string): { allowed: boolean; snapshot: RateLimitSnapshot };
  /** Refills every bucket. */
  clear(): void;
}

export interface RateLimiterOptions {
  /** Requests per window (>= 1). */
  limit: number;
  /** Window length in seconds (>= 1). */
  windowSeconds: number;
  /** Clock in ms since the epoch. */
  now: () => number;
}

interface Window {
  startsAt: number;
  used: number;
}

export function createRateLimiter(opts: RateLimiterOptions): RateLimiter {
  const windowMs = opts.windowSeconds * 1000;
  const windows = new Map<string, Window>();

  const current = (key: string, at: number): Window | undefined => {
    const window = windows.get(key);
    if (window === undefined || at >= window.startsAt + windowMs) return undefined;
    return window;
  };

  const snapshot = (window: Window | undefined, at: number): RateLimitSnapshot => {
    const used = window?.used ?? 0;
    return {
      limit: opts.limit,
      remaining: Math.max(0, opts.limit - used),
      used,
      reset: Math.ceil(((window?.startsAt ?? at) + windowMs) / 1000),
      resource: 'core',
    };
  };

  return {
    peek(key) {
      const at = opts.now();
      return snapshot(current(key, at), at);
    },
    take(key) {
      const at = opts.now();
      let window = current(key, at);
      if (window !== undefined && window.used >= opts.limit) {
        return { allowed: false, snapshot: snapshot(window, at) };
      }
      if (window === undefined) {
        window = { startsAt: at, used: 0 };
        windows.set(key, window);
      }
      window.used += 1;
      return { allowed: true, snapshot: snapshot(window, at) };
    },
    clear() {
      windows.clear();
    },
  };
}

/** The x-ratelimit-* headers GitHub sends with every authenticated REST answer. */
export function rateLimitHeaders(s: RateLimitSnapshot): Record<string, string> {
  return {
    'x-ratelimit-limit': String(s.limit),
    'x-ratelimit-remaining': String(s.remaining),
    'x-ratelimit-reset': String(s.reset),
    'x-ratelimit-used': String(s.used),
    'x-ratelimit-resource': s.resource,
  };
}
