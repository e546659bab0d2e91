// The rate limiter of a provider credential whose bucket is shared by every replica (state.rateBudget
// with REDIS_URL): tokens are taken from the shared bucket, a provider's throttling signal (429,
// Retry-After, RateLimit-* headers) is applied to it so every replica slows, and requests still wait
// here, FIFO per replica, up to maxWaitMs. The budget itself never sleeps: it answers "granted" or
// "retry in N ms", and one pump per limiter asks it for the head of the queue.
import type { BucketSpec, BudgetAnswer, RateBudget, ThrottleSignal } from '../../state/rateBudget.js';
import { upstreamDefaults } from '../config.js';
import {
  globalTimers,
  type LimiterTimers,
  LocalRateLimitError,
  type RateLimiter,
  type RateLimiterOptions,
  type RateLimitSignal,
  ThrottleReader,
} from './rateLimiter.js';

const DEFAULTS = upstreamDefaults();
const EPSILON = 1e-9;
/** How old the bucket's state shown to health and metrics may be before it is read again, in ms. */
const VIEW_MAX_AGE_MS = 500;
/** Longest sleep between two asks while the budget says "not yet" (a throttle elsewhere may end sooner). */
const MAX_POLL_MS = 1_000;

export interface SharedRateLimiterOptions extends RateLimiterOptions {
  /** Where the tokens are: state.rateBudget. */
  budget: RateBudget;
  /** The bucket's name in the budget: the provider, plus the credential when limited per credential. */
  bucket: string;
  /** Live replicas: while the budget answers from a local share, the configured rate shown is divided by it. */
  replicaCount?: (() => number) | undefined;
}

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
  enqueuedAt: number;
  maxWaitMs: number;
  timer: unknown;
  /** Its time ran out while the budget was being asked for it: settled by the answer. */
  expired: boolean;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** The shared bucket as last seen (times on this replica's clock). */
interface View {
  shared: boolean;
  rate: number;
  tokens: number;
  pausedUntil: number;
  /** When it was last read in full (a snapshot); -Infinity before the first. */
  readAt: number;
}

export class SharedRateLimiter implements RateLimiter {
  private readonly provider: string;
  private readonly budget: RateBudget;
  private readonly bucket: string;
  private readonly spec: BucketSpec;
  readonly maxWaitMs: number;
  readonly maxPauseMs: number;
  private readonly throttles: ThrottleReader;
  private readonly replicaCount: (() => number) | undefined;
  private readonly now: () => number;
  private readonly timers: LimiterTimers;
  private readonly queue: Waiter[] = [];
  private readonly view: View;
  private waitedMs = 0;
  private pumping = false;
  /** The waiter the budget is being asked for now. */
  private serving: Waiter | undefined;
  private refreshing = false;

  constructor(options: SharedRateLimiterOptions) {
    const { ratePerSecond } = options;
    if (!(ratePerSecond > 0 && Number.isFinite(ratePerSecond))) {
      throw new RangeError(`rate limiter ratePerSecond must be a finite number > 0, got ${ratePerSecond}`);
    }
    const burst = options.burst ?? Math.max(1, Math.floor(ratePerSecond));
    if (!(burst >= 1)) throw new RangeError(`rate limiter burst must be >= 1, got ${burst}`);
    this.maxPauseMs = options.maxPauseMs ?? DEFAULTS.rateLimitMaxPauseMs;
    if (!(this.maxPauseMs >= 0 && Number.isFinite(this.maxPauseMs))) {
      throw new RangeError(`rate limiter maxPauseMs must be a finite number >= 0, got ${this.maxPauseMs}`);
    }
    this.provider = options.provider;
    this.budget = options.budget;
    this.bucket = options.bucket;
    this.spec = {
      ratePerSecond,
      burst,
      minRatePerSecond: Math.min(ratePerSecond, options.minRatePerSecond ?? 1), // 1/s
      recoveryPerSecond: options.recoveryPerSecond ?? 0.1, // 10 % of the configured rate per second
      maxPauseMs: this.maxPauseMs,
    };
    this.maxWaitMs = options.maxWaitMs ?? DEFAULTS.rateLimitMaxWaitMs;
    this.throttles = new ThrottleReader(options.provider, this.maxPauseMs, options.onPauseClamped);
    this.replicaCount = options.replicaCount;
    this.now = options.now ?? Date.now;
    this.timers = options.timers ?? globalTimers;
    this.view = {
      shared: true,
      rate: ratePerSecond,
      tokens: burst,
      pausedUntil: 0,
      readAt: Number.NEGATIVE_INFINITY,
    };
  }

  /** The shared bucket's rate in force, as last seen (read again in the background when old). */
  get currentRatePerSecond(): number {
    return this.seen().rate;
  }

  /** The configured rate; this replica's share of it while the budget answers locally (Redis away). */
  get configuredRatePerSecond(): number {
    const view = this.seen();
    if (view.shared) return this.spec.ratePerSecond;
    return this.spec.ratePerSecond / Math.max(1, this.replicaCount?.() ?? 1);
  }

  get pausedUntilMs(): number | undefined {
    const until = this.seen().pausedUntil;
    return until > this.now() ? until : undefined;
  }

  get pauseRemainingMs(): number {
    return Math.max(0, this.seen().pausedUntil - this.now());
  }

  get clampedPauses(): number {
    return this.throttles.clampedPauses;
  }

  get tokens(): number {
    return Math.max(0, Math.floor(this.seen().tokens + EPSILON));
  }

  get totalWaitMs(): number {
    return this.waitedMs;
  }

  get waiting(): number {
    return this.queue.length;
  }

  /** The bucket's name in the shared budget. */
  get bucketName(): string {
    return this.bucket;
  }

  /**
   * Resolves when a token is taken from the shared bucket, in this replica's arrival order. Rejects
   * with LocalRateLimitError when none comes within `maxWaitMs`, or with the signal's reason.
   */
  acquire(signal?: AbortSignal, maxWaitMs: number = this.maxWaitMs): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const now = this.now();
    // Hopeless at once: a known pause, or the queue ahead, outlasts the wait even at the full rate.
    const ahead = Math.max(0, this.view.pausedUntil - now) + (this.queue.length / this.view.rate) * 1000;
    if (ahead > maxWaitMs) return Promise.reject(this.refusal(ahead, maxWaitMs));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        enqueuedAt: now,
        maxWaitMs,
        timer: undefined,
        expired: false,
        signal,
        onAbort: undefined,
      };
      waiter.timer = this.timers.setTimeout(() => {
        // Being asked for right now: the answer decides (a token it gets is not thrown away).
        if (this.serving === waiter) {
          waiter.expired = true;
          return;
        }
        const at = this.now();
        if (this.remove(waiter, at)) reject(this.refusal(this.expectedWaitMs(at), maxWaitMs));
      }, maxWaitMs);
      if (signal) {
        waiter.onAbort = () => {
          if (this.remove(waiter, this.now())) reject(signal.reason);
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.queue.push(waiter);
      void this.pump();
    });
  }

  /**
   * Feeds one provider answer back: a 429 halves the shared rate; its Retry-After and an exhausted
   * RateLimit window pause the shared bucket; a low one spreads what is left over the window. Every
   * replica slows; no pause or window lasts longer than maxPauseMs.
   */
  onResponse(response: RateLimitSignal): void {
    const now = this.now();
    const throttle = this.throttles.read(response, now, this.spec.burst);
    if (throttle === undefined) return;
    this.applyToView(now, throttle);
    this.budget
      .throttle(this.bucket, this.spec, throttle)
      .then(() => this.refresh(true))
      .catch(() => {
        // The budget keeps the signal locally when Redis is away; nothing else to do.
      });
  }

  /** This replica's picture of the signal at once (what the next snapshot will confirm). */
  private applyToView(now: number, t: ThrottleSignal): void {
    const view = this.view;
    if (t.halve) {
      view.rate = Math.min(view.rate, Math.max(this.spec.minRatePerSecond, view.rate * 0.5));
      view.tokens = Math.min(view.tokens, 0);
    }
    if (t.pauseMs !== undefined) view.pausedUntil = Math.max(view.pausedUntil, now + t.pauseMs);
    if (t.spread) {
      if (t.spread.remaining <= 0) view.pausedUntil = Math.max(view.pausedUntil, now + t.spread.windowMs);
      else view.rate = Math.min(view.rate, t.spread.remaining / (t.spread.windowMs / 1000));
    }
  }

  /** Asks the budget for the head of the queue until the queue is empty; one pump at a time. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length > 0) {
        const head = this.queue[0] as Waiter;
        this.serving = head;
        let answer: BudgetAnswer;
        try {
          answer = await this.budget.take(this.bucket, this.spec);
        } catch (error) {
          // A budget that cannot answer at all (a bad spec): nobody can be served.
          this.serving = undefined;
          for (const waiter of [...this.queue]) if (this.remove(waiter, this.now())) waiter.reject(error);
          return;
        }
        this.serving = undefined;
        const now = this.now();
        this.note(answer, now);
        if (answer.granted) {
          // The head may have gone (aborted) meanwhile: the token goes to whoever is first now.
          const first = this.queue[0];
          if (first && this.remove(first, now)) first.resolve();
          continue;
        }
        const waitMs = Math.max(1, Math.ceil(answer.retryAfterMs - EPSILON));
        if (head.expired && this.remove(head, now)) head.reject(this.refusal(waitMs, head.maxWaitMs));
        this.refuseHopeless(now, waitMs, answer.ratePerSecond);
        if (this.queue.length === 0) return;
        await new Promise<void>((resolve) => this.timers.setTimeout(resolve, Math.min(waitMs, MAX_POLL_MS)));
      }
    } finally {
      this.serving = undefined;
      this.pumping = false;
    }
  }

  /** Refuses at once the waiters that cannot get a token in time even if this replica had the whole rate. */
  private refuseHopeless(now: number, firstMs: number, rate: number): void {
    const perTokenMs = 1000 / Math.max(rate, EPSILON);
    let position = 0;
    for (const waiter of [...this.queue]) {
      const expectedMs = firstMs + position * perTokenMs;
      const leftMs = waiter.enqueuedAt + waiter.maxWaitMs - now;
      if (expectedMs > leftMs) {
        if (this.remove(waiter, now)) waiter.reject(this.refusal(expectedMs, waiter.maxWaitMs));
      } else {
        position += 1;
      }
    }
  }

  private expectedWaitMs(now: number): number {
    return (
      Math.max(0, this.view.pausedUntil - now) +
      (Math.max(0, this.queue.length + 1 - this.view.tokens) / this.view.rate) * 1000
    );
  }

  private note(answer: BudgetAnswer, now: number): void {
    this.view.shared = answer.shared;
    this.view.rate = answer.ratePerSecond;
    this.view.tokens = answer.tokens;
    if (answer.granted) this.view.pausedUntil = Math.min(this.view.pausedUntil, now);
  }

  /** The view, read again in the background when it is old (health and metrics read synchronously). */
  private seen(): View {
    if (this.now() - this.view.readAt > VIEW_MAX_AGE_MS) this.refresh(false);
    return this.view;
  }

  private refresh(force: boolean): void {
    if (this.refreshing && !force) return;
    this.refreshing = true;
    this.budget
      .snapshot(this.bucket, this.spec)
      .then((snapshot) => {
        const now = this.now();
        this.view.shared = snapshot.shared;
        this.view.rate = snapshot.ratePerSecond;
        this.view.tokens = snapshot.tokens;
        this.view.pausedUntil = snapshot.pauseRemainingMs > 0 ? now + snapshot.pauseRemainingMs : 0;
        this.view.readAt = now;
      })
      .catch(() => {
        this.view.readAt = this.now();
      })
      .finally(() => {
        this.refreshing = false;
      });
  }

  private remove(waiter: Waiter, now: number): boolean {
    const index = this.queue.indexOf(waiter);
    if (index === -1) return false;
    this.queue.splice(index, 1);
    this.timers.clearTimeout(waiter.timer);
    if (waiter.signal && waiter.onAbort) waiter.signal.removeEventListener('abort', waiter.onAbort);
    this.waitedMs += now - waiter.enqueuedAt;
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
