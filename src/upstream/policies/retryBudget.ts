// Caps a provider's retries to a share of its recent traffic, so an outage costs it at most
// (1 + ratio) times our normal load instead of maxAttempts times (no retry storms).
import { SlidingWindowCounts } from './slidingWindow.js';

export interface RetryBudgetOptions {
  /** Retries allowed per first attempt over the window, 0..1. Default 0.2 (20 %). Trap: 0 still allows minRetriesPerSecond. */
  ratio: number;
  /** Sliding window in ms. Default 10000 ms (10 s). Trap: counted in 10 buckets, so entries expire up to windowMs/10 early. */
  windowMs: number;
  /** Retries always allowed per second of window, whatever the traffic. Default 1/s. Trap: 0 means no retries at low traffic. */
  minRetriesPerSecond: number;
  /** Clock in ms. Default Date.now. */
  now?: () => number;
  /**
   * Live replicas sharing the provider (REDIS_URL): the floor is divided among them, so together they
   * retry at most minRetriesPerSecond at no traffic. Default: one replica (the whole floor here).
   * The ratio is not divided: each replica earns retries from its own first attempts.
   */
  replicaCount?: (() => number) | undefined;
}

export class RetryBudget {
  private readonly ratio: number;
  /** The floor over the window, for one replica. */
  private readonly reserve: number;
  private readonly replicaCount: (() => number) | undefined;
  /** Requests (first counter) and retries (second) over the window. */
  private readonly window: SlidingWindowCounts;

  constructor(options: RetryBudgetOptions) {
    const { ratio, windowMs, minRetriesPerSecond } = options;
    if (!(ratio >= 0 && ratio <= 1))
      throw new RangeError(`retry budget ratio must be in [0, 1], got ${ratio}`);
    if (!(windowMs > 0 && Number.isFinite(windowMs))) {
      throw new RangeError(`retry budget windowMs must be a finite number > 0, got ${windowMs}`);
    }
    if (!(minRetriesPerSecond >= 0)) {
      throw new RangeError(`retry budget minRetriesPerSecond must be >= 0, got ${minRetriesPerSecond}`);
    }
    this.ratio = ratio;
    this.reserve = (minRetriesPerSecond * windowMs) / 1000;
    this.replicaCount = options.replicaCount;
    this.window = new SlidingWindowCounts(windowMs, options.now ?? Date.now);
  }

  /** Counts one first attempt (not a retry): it earns `ratio` of a retry. */
  recordRequest(): void {
    this.window.add(1, 0);
  }

  /** True when a retry is allowed now; the retry is then counted against the budget. */
  tryWithdraw(): boolean {
    const [requests, retries] = this.window.totals();
    if (retries + 1 > this.ratio * requests + this.floor()) return false;
    this.window.add(0, 1);
    return true;
  }

  /** Counts over the current window, for metrics and health. */
  snapshot(): { requests: number; retries: number; available: number } {
    const [requests, retries] = this.window.totals();
    return {
      requests,
      retries,
      available: Math.max(0, Math.floor(this.ratio * requests + this.floor() - retries)),
    };
  }

  /** This replica's part of the floor. */
  private floor(): number {
    if (!this.replicaCount) return this.reserve;
    const count = this.replicaCount();
    return this.reserve / (Number.isFinite(count) && count >= 1 ? count : 1);
  }
}
