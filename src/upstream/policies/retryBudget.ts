// Caps a provider's retries to a share of its recent traffic, so an outage costs it at most
// (1 + ratio) times our normal load instead of maxAttempts times (no retry storms).

export interface RetryBudgetOptions {
  /** Retries allowed per first attempt over the window, 0..1. Default 0.2 (20 %). Trap: 0 still allows minRetriesPerSecond. */
  ratio: number;
  /** Sliding window in ms. Default 10000 ms (10 s). Trap: counted in 10 buckets, so entries expire up to windowMs/10 early. */
  windowMs: number;
  /** Retries always allowed per second of window, whatever the traffic. Default 1/s. Trap: 0 means no retries at low traffic. */
  minRetriesPerSecond: number;
  /** Clock in ms. Default Date.now. */
  now?: () => number;
}

const BUCKETS = 10;

export class RetryBudget {
  private readonly ratio: number;
  private readonly reserve: number;
  private readonly bucketMs: number;
  private readonly now: () => number;
  // Ring of time buckets: slot i holds counts for bucket number keys[i] (time / bucketMs).
  private readonly keys = new Array<number>(BUCKETS).fill(Number.NEGATIVE_INFINITY);
  private readonly requests = new Array<number>(BUCKETS).fill(0);
  private readonly retries = new Array<number>(BUCKETS).fill(0);

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
    this.bucketMs = windowMs / BUCKETS;
    this.now = options.now ?? Date.now;
  }

  /** Counts one first attempt (not a retry): it earns `ratio` of a retry. */
  recordRequest(): void {
    const slot = this.slot();
    this.requests[slot] = (this.requests[slot] ?? 0) + 1;
  }

  /** True when a retry is allowed now; the retry is then counted against the budget. */
  tryWithdraw(): boolean {
    const { requests, retries } = this.totals();
    if (retries + 1 > this.ratio * requests + this.reserve) return false;
    const slot = this.slot();
    this.retries[slot] = (this.retries[slot] ?? 0) + 1;
    return true;
  }

  /** Counts over the current window, for metrics and health. */
  snapshot(): { requests: number; retries: number; available: number } {
    const { requests, retries } = this.totals();
    return {
      requests,
      retries,
      available: Math.max(0, Math.floor(this.ratio * requests + this.reserve - retries)),
    };
  }

  private slot(): number {
    const key = Math.floor(this.now() / this.bucketMs);
    const slot = ((key % BUCKETS) + BUCKETS) % BUCKETS;
    if (this.keys[slot] !== key) {
      this.keys[slot] = key;
      this.requests[slot] = 0;
      this.retries[slot] = 0;
    }
    return slot;
  }

  private totals(): { requests: number; retries: number } {
    const current = Math.floor(this.now() / this.bucketMs);
    let requests = 0;
    let retries = 0;
    for (let i = 0; i < BUCKETS; i++) {
      // Buckets are aged by time, not by later writes, so an idle spell forgets old traffic.
      if ((this.keys[i] ?? Number.NEGATIVE_INFINITY) > current - BUCKETS) {
        requests += this.requests[i] ?? 0;
        retries += this.retries[i] ?? 0;
      }
    }
    return { requests, retries };
  }
}
