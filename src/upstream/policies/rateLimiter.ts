// Adaptive token bucket per provider credential: keeps us under the provider's limit, slows down on
// its throttling signals (429, Retry-After, RateLimit-* headers) and climbs back to the configured
// rate after. A provider's header can slow Junction, never stop it: every pause is capped.

import type { ThrottleSignal } from '../../state/rateBudget.js';
import { upstreamDefaults } from '../config.js';
import { type UpstreamErrorDetails, UpstreamRateLimitedError } from '../errors.js';
import { type ResetTime, type ResetUnit, readRateLimitSignals } from '../rateLimitHeaders.js';

/** The configuration's defaults (upstream/config.ts): used when an option is not given. */
const DEFAULTS = upstreamDefaults();

/** Our own limiter refused (no token within maxWaitMs): the provider was never called. */
export class LocalRateLimitError extends UpstreamRateLimitedError {
  /** Tells it apart from the provider's own 429, which does count against the circuit. */
  readonly local = true;
  constructor(message: string, details: UpstreamErrorDetails) {
    super(message, { ...details, notSent: true });
  }
}

export function isLocalRateLimitError(error: unknown): error is LocalRateLimitError {
  return error instanceof LocalRateLimitError;
}

export interface LimiterTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

// Looked up at call time, so vi.useFakeTimers() installed after import still applies.
export const globalTimers: LimiterTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface RateLimiterOptions {
  /** Provider name carried by the rate-limited error. */
  provider: string;
  /** Steady rate we aim for, in requests per second. No default: use the provider's documented limit. */
  ratePerSecond: number;
  /** Bucket size: requests allowed at once after idling. Default = ratePerSecond. Trap: above the rate, one second can see burst + rate calls. */
  burst?: number | undefined;
  /** Longest a request waits for a token, in ms (RATE_LIMIT_MAX_WAIT_MS by default). Trap: 0 means never wait, fail at once when empty. */
  maxWaitMs?: number | undefined;
  /** Floor of the 429 back-off, in requests per second. Default 1/s. Trap: RateLimit-* headers may slow us below it. */
  minRatePerSecond?: number | undefined;
  /** Share of the configured rate regained per second without throttling signals. Default 0.1 (10 %/s). */
  recoveryPerSecond?: number | undefined;
  /**
   * Longest pause (or slowed window) any provider header can impose, in ms (RATE_LIMIT_MAX_PAUSE_MS by default).
   * Longer or implausible resets are cut to it. Trap: 0 means headers never pause; 429s still halve the rate.
   */
  maxPauseMs?: number | undefined;
  /** Called whenever a header asked for more than maxPauseMs; `first` is true once per limiter (log it once, count every one). */
  onPauseClamped?: ((clamp: PauseClamp) => void) | undefined;
  /** Clock in epoch ms (X-RateLimit-Reset may be an epoch). Default Date.now. */
  now?: (() => number) | undefined;
  /** Timer functions. Default: the global ones at call time. */
  timers?: LimiterTimers | undefined;
}

/** A provider header that asked for a longer pause than allowed. Carries no header value. */
export interface PauseClamp {
  provider: string;
  /** Header name, lower-case (`retry-after`, `x-ratelimit-reset`, `ratelimit`...). */
  header: string;
  /** How its value was read; `implausible` when it was no sane time at all. */
  unit: ResetUnit;
  /** The pause actually applied, in ms (maxPauseMs). */
  pauseMs: number;
  /** True the first time this limiter clamps. */
  first: boolean;
}

/** What `onResponse` reads: a status and headers with lower-case names (as undici gives them). */
export interface RateLimitSignal {
  status: number;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * What the pipeline, health and metrics use of a limiter: the in-process AdaptiveRateLimiter, or the
 * SharedRateLimiter (sharedRateLimiter.ts) that takes its tokens from a bucket all replicas share.
 */
export interface RateLimiter {
  readonly maxWaitMs: number;
  readonly maxPauseMs: number;
  readonly currentRatePerSecond: number;
  readonly configuredRatePerSecond: number;
  readonly pausedUntilMs: number | undefined;
  readonly pauseRemainingMs: number;
  readonly clampedPauses: number;
  readonly tokens: number;
  readonly totalWaitMs: number;
  readonly waiting: number;
  acquire(signal?: AbortSignal, maxWaitMs?: number): Promise<void>;
  onResponse(response: RateLimitSignal): void;
}

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
  enqueuedAt: number;
  timer: unknown;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

// Float dust (0.9999999 tokens) must not cost a whole extra timer round.
const EPSILON = 1e-9;
/** Below this share of the bucket, RateLimit-Remaining spreads what is left over the window. */
export const LOW_REMAINING_SHARE = 0.1;

/**
 * Reads a provider's answer as a throttling signal, for the in-process limiter and the shared one
 * alike: a 429 halves the rate, its Retry-After pauses (only on a 429: on a 503 it is the breaker's
 * and the retry's business), an exhausted RateLimit window pauses and a low one spreads what is left
 * over the window. Every wait is cut to maxPauseMs; each cut is reported (`first` once per reader).
 */
export class ThrottleReader {
  private clamps = 0;

  constructor(
    private readonly provider: string,
    private readonly maxPauseMs: number,
    private readonly onPauseClamped: ((clamp: PauseClamp) => void) | undefined,
  ) {}

  /** How many times a header asked for more than maxPauseMs (or for something implausible). */
  get clampedPauses(): number {
    return this.clamps;
  }

  /** The signal in `response`, or undefined when it carries none. `burst`: the bucket's size. */
  read(response: RateLimitSignal, now: number, burst: number): ThrottleSignal | undefined {
    const signals = readRateLimitSignals(response.headers, now);
    let throttle: ThrottleSignal | undefined;
    if (response.status === 429) {
      throttle = { halve: true };
      if (signals.retryAfter) {
        const waitMs = this.bounded(signals.retryAfter);
        if (waitMs > 0) throttle.pauseMs = waitMs;
      }
    }
    const { remaining, reset } = signals;
    if (
      remaining !== undefined &&
      reset !== undefined &&
      (remaining <= 0 || remaining < LOW_REMAINING_SHARE * burst)
    ) {
      const windowMs = this.bounded(reset);
      if (windowMs > 0) {
        throttle ??= {};
        throttle.spread = { remaining, windowMs };
      }
    }
    return throttle;
  }

  /** The wait `reset` asks for, cut to maxPauseMs (and reported when cut). */
  private bounded(reset: ResetTime): number {
    if (reset.delayMs <= this.maxPauseMs) return reset.delayMs;
    this.clamps += 1;
    this.onPauseClamped?.({
      provider: this.provider,
      header: reset.header,
      unit: reset.unit,
      pauseMs: this.maxPauseMs,
      first: this.clamps === 1,
    });
    return this.maxPauseMs;
  }
}

export class AdaptiveRateLimiter implements RateLimiter {
  private readonly provider: string;
  private readonly configuredRate: number;
  private readonly burst: number;
  /** Default longest wait for a token, in ms (see RateLimiterOptions.maxWaitMs). */
  readonly maxWaitMs: number;
  private readonly minRate: number;
  private readonly recoveryPerSecond: number;
  /** Longest pause a header can impose, in ms (see RateLimiterOptions.maxPauseMs). */
  readonly maxPauseMs: number;
  private readonly throttles: ThrottleReader;
  private readonly now: () => number;
  private readonly timers: LimiterTimers;
  private rate: number;
  private available: number;
  private lastRefillAt: number;
  private pausedUntil = 0;
  // No additive recovery before this instant: a spread over a reset window must last the window.
  private throttledUntil = 0;
  private readonly queue: Waiter[] = [];
  private drainTimer: unknown;
  private waitedMs = 0;

  constructor(options: RateLimiterOptions) {
    const { ratePerSecond } = options;
    if (!(ratePerSecond > 0 && Number.isFinite(ratePerSecond))) {
      throw new RangeError(`rate limiter ratePerSecond must be a finite number > 0, got ${ratePerSecond}`);
    }
    this.provider = options.provider;
    this.configuredRate = ratePerSecond;
    this.burst = options.burst ?? Math.max(1, Math.floor(ratePerSecond));
    if (!(this.burst >= 1)) throw new RangeError(`rate limiter burst must be >= 1, got ${this.burst}`);
    this.maxWaitMs = options.maxWaitMs ?? DEFAULTS.rateLimitMaxWaitMs;
    this.minRate = Math.min(ratePerSecond, options.minRatePerSecond ?? 1); // 1/s
    this.recoveryPerSecond = options.recoveryPerSecond ?? 0.1; // 10 % of the configured rate per second
    this.maxPauseMs = options.maxPauseMs ?? DEFAULTS.rateLimitMaxPauseMs;
    if (!(this.maxPauseMs >= 0 && Number.isFinite(this.maxPauseMs))) {
      throw new RangeError(`rate limiter maxPauseMs must be a finite number >= 0, got ${this.maxPauseMs}`);
    }
    this.throttles = new ThrottleReader(this.provider, this.maxPauseMs, options.onPauseClamped);
    this.now = options.now ?? Date.now;
    this.timers = options.timers ?? globalTimers;
    this.rate = ratePerSecond;
    this.available = this.burst;
    this.lastRefillAt = this.now();
  }

  /** The rate in force now, in requests per second (configured, or less while throttled). */
  get currentRatePerSecond(): number {
    this.refill(this.now());
    return this.rate;
  }

  /** The configured rate, in requests per second: what the limiter climbs back to. */
  get configuredRatePerSecond(): number {
    return this.configuredRate;
  }

  /** Epoch ms until which no request is sent (a provider asked us to wait), or undefined when not paused. */
  get pausedUntilMs(): number | undefined {
    return this.pausedUntil > this.now() ? this.pausedUntil : undefined;
  }

  /** Ms left of the current pause; 0 when not paused. */
  get pauseRemainingMs(): number {
    return Math.max(0, this.pausedUntil - this.now());
  }

  /** How many times a header asked for more than maxPauseMs (or for something implausible). */
  get clampedPauses(): number {
    return this.throttles.clampedPauses;
  }

  /** Whole tokens in the bucket now. */
  get tokens(): number {
    this.refill(this.now());
    return Math.max(0, Math.floor(this.available + EPSILON));
  }

  /** Total ms requests have spent queued for a token (granted, timed out or aborted). */
  get totalWaitMs(): number {
    return this.waitedMs;
  }

  /** Requests queued for a token. */
  get waiting(): number {
    return this.queue.length;
  }

  /**
   * Resolves when a token is taken, in arrival order. Rejects with LocalRateLimitError when no token
   * is expected within `maxWaitMs`, or with the signal's reason when `signal` aborts first.
   */
  acquire(signal?: AbortSignal, maxWaitMs: number = this.maxWaitMs): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const now = this.now();
    this.refill(now);
    // No barging: a newcomer may only take a token directly when nobody is queued.
    if (this.queue.length === 0 && now >= this.pausedUntil && this.available >= 1 - EPSILON) {
      this.available -= 1;
      return Promise.resolve();
    }
    const expectedMs = this.expectedWaitMs(now, this.queue.length + 1);
    if (expectedMs > maxWaitMs) return Promise.reject(this.refusal(expectedMs, maxWaitMs));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        enqueuedAt: now,
        timer: undefined,
        signal,
        onAbort: undefined,
      };
      // The expectation can worsen after enqueueing (a 429 halves the rate), so maxWaitMs is also enforced.
      waiter.timer = this.timers.setTimeout(() => {
        const at = this.now();
        // A token due at this very instant still counts as within maxWaitMs.
        this.grant(at);
        if (this.remove(waiter, at)) {
          reject(this.refusal(this.expectedWaitMs(at, this.queue.length + 1), maxWaitMs));
        }
      }, maxWaitMs);
      if (signal) {
        waiter.onAbort = () => {
          if (this.remove(waiter, this.now())) reject(signal.reason);
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.queue.push(waiter);
      this.schedule(now);
    });
  }

  /**
   * Feeds one provider answer back, success or error: a 429 halves the rate; its Retry-After and an
   * exhausted RateLimit window pause; a low one spreads what is left over the window.
   * No pause or window lasts longer than maxPauseMs.
   */
  onResponse(response: RateLimitSignal): void {
    const now = this.now();
    this.refill(now);
    const throttle = this.throttles.read(response, now, this.burst);
    if (throttle?.halve) {
      // Multiplicative decrease: the provider's bucket is empty whatever ours believes. The floor never
      // raises a rate that RateLimit-* headers already set lower.
      this.rate = Math.min(this.rate, Math.max(this.minRate, this.rate * 0.5));
      this.available = Math.min(this.available, 0);
      this.throttledUntil = Math.max(this.throttledUntil, now);
    }
    if (throttle?.pauseMs !== undefined) this.pause(now + throttle.pauseMs);
    if (throttle?.spread) {
      const { remaining, windowMs } = throttle.spread;
      if (remaining <= 0) {
        this.pause(now + windowMs);
      } else {
        // Spread what is left over the reset window instead of spending it now and then hitting 429s.
        this.rate = Math.min(this.rate, remaining / (windowMs / 1000));
        this.available = Math.min(this.available, remaining);
      }
      this.throttledUntil = Math.max(this.throttledUntil, now + windowMs);
    }
    this.schedule(now);
  }

  private pause(until: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, until);
    this.throttledUntil = Math.max(this.throttledUntil, this.pausedUntil);
    this.available = Math.min(this.available, 0);
  }

  private refill(now: number): void {
    // Tokens do not accrue while paused, so a pause does not end in a burst.
    const from = Math.max(this.lastRefillAt, this.pausedUntil);
    if (now > from) {
      // Accrue at the rate that held over the interval, then recover (additive increase) for the next.
      this.available = Math.min(this.burst, this.available + ((now - from) / 1000) * this.rate);
      const recoverFrom = Math.max(from, this.throttledUntil);
      if (now > recoverFrom && this.rate < this.configuredRate) {
        const gain = ((now - recoverFrom) / 1000) * this.recoveryPerSecond * this.configuredRate;
        this.rate = Math.min(this.configuredRate, this.rate + gain);
      }
    }
    this.lastRefillAt = Math.max(this.lastRefillAt, now);
  }

  /** Ms until the `position`-th queued request (1 = head) would get its token at today's rate. */
  private expectedWaitMs(now: number, position: number): number {
    const start = Math.max(now, this.pausedUntil);
    const missing = Math.max(0, position - this.available);
    return start - now + (missing / this.rate) * 1000;
  }

  private grant(now: number): void {
    this.refill(now);
    while (this.queue.length > 0 && now >= this.pausedUntil && this.available >= 1 - EPSILON) {
      const waiter = this.queue[0];
      if (!waiter) break;
      this.available -= 1;
      this.remove(waiter, now);
      waiter.resolve();
    }
    this.schedule(now);
  }

  private schedule(now: number): void {
    if (this.drainTimer !== undefined) this.timers.clearTimeout(this.drainTimer);
    this.drainTimer = undefined;
    if (this.queue.length === 0) return;
    const delayMs = Math.max(1, Math.ceil(this.expectedWaitMs(now, 1) - EPSILON));
    this.drainTimer = this.timers.setTimeout(() => {
      this.drainTimer = undefined;
      this.grant(this.now());
    }, delayMs);
  }

  private remove(waiter: Waiter, now: number): boolean {
    const index = this.queue.indexOf(waiter);
    if (index === -1) return false;
    this.queue.splice(index, 1);
    this.timers.clearTimeout(waiter.timer);
    if (waiter.signal && waiter.onAbort) waiter.signal.removeEventListener('abort', waiter.onAbort);
    this.waitedMs += now - waiter.enqueuedAt;
    if (this.queue.length === 0 && this.drainTimer !== undefined) {
      this.timers.clearTimeout(this.drainTimer);
      this.drainTimer = undefined;
    }
    return true;
  }

  private refusal(expectedMs: number, maxWaitMs: number): LocalRateLimitError {
    const seconds = Math.ceil(expectedMs) / 1000;
    return new LocalRateLimitError(
      `${this.provider} rate limit: expected a token within ${maxWaitMs} ms, the next one is ${Math.ceil(expectedMs)} ms away`,
      { provider: this.provider, retryAfterSeconds: seconds },
    );
  }
}
