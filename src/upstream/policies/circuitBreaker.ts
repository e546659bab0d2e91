// Stops calling a failing provider: once the failure rate over a sliding window passes a threshold,
// calls fail fast for halfOpenAfterMs, then exactly one probe decides whether calls resume.

import { isRequestCancelledError, isUpstreamError, UpstreamCircuitOpenError } from '../errors.js';
import { isLocalRateLimitError } from './rateLimiter.js';
import { SlidingWindowCounts } from './slidingWindow.js';

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Provider name carried by UpstreamCircuitOpenError. */
  provider: string;
  /** Name of this breaker when a provider has several (route groups), used in messages. Default: `provider`. */
  group?: string | undefined;
  /** Failure share (0..1] of the window's calls that opens the circuit (BREAKER_FAILURE_RATE). Trap: 1 opens only at 100 %. */
  failureRateThreshold: number;
  /** Calls the window must hold before it may open (BREAKER_MIN_REQUESTS). Trap: too low and two bad calls open it. */
  minimumRequests: number;
  /** Sliding window the failure rate is measured over, in ms (BREAKER_WINDOW_MS). Counted in 10 buckets. */
  samplingWindowMs: number;
  /** How long the circuit stays open before one probe is let through, in ms (BREAKER_HALF_OPEN_AFTER_MS). */
  halfOpenAfterMs: number;
  /** Called after every state change. Trap: the open -> half-open change happens at the first call after halfOpenAfterMs, not on a timer. */
  onStateChange?: ((state: CircuitState) => void) | undefined;
  /** Clock in ms. Default Date.now. */
  now?: (() => number) | undefined;
}

const PROVIDER_FAILURES: ReadonlySet<string> = new Set([
  'UPSTREAM_UNAVAILABLE',
  'UPSTREAM_TIMEOUT',
  'UPSTREAM_BAD_RESPONSE',
  'UPSTREAM_RATE_LIMITED',
]);

/**
 * True when `error` says the provider is unhealthy. Answers such as NOT_FOUND, BAD_USER_INPUT,
 * REJECTED or PAYMENT_DECLINED prove it is up; a cancellation or our own limiter's refusal says
 * nothing about it.
 */
export function isProviderFailure(error: unknown): boolean {
  return isUpstreamError(error) && PROVIDER_FAILURES.has(error.code) && !isLocalRateLimitError(error);
}

/** One admitted call. Report exactly one outcome; later reports are ignored. */
export interface BreakerPermit {
  /** The provider answered (any non-failure, see isProviderFailure). */
  succeeded(): void;
  /** The call ended in `error`; only provider failures count against the circuit. */
  failed(error: unknown): void;
  /** The call never reached the provider (e.g. it gave up waiting for a token): no verdict either way. */
  release(): void;
}

export class CircuitBreaker {
  private readonly provider: string;
  /** The breaker's group name (the provider's, unless a provider splits its routes). */
  readonly group: string;
  private readonly threshold: number;
  private readonly minimumRequests: number;
  private readonly halfOpenAfterMs: number;
  private readonly onStateChange: CircuitBreakerOptions['onStateChange'];
  private readonly now: () => number;
  private current: CircuitState = 'closed';
  // Bumped on every state change, so calls admitted under an older state cannot vote in the new one.
  private generation = 0;
  private openedAt = 0;
  private probeInFlight = false;
  private readonly window: SlidingWindowCounts;

  constructor(options: CircuitBreakerOptions) {
    const { failureRateThreshold, minimumRequests, samplingWindowMs, halfOpenAfterMs } = options;
    if (!(failureRateThreshold > 0 && failureRateThreshold <= 1)) {
      throw new RangeError(
        `circuit breaker failureRateThreshold must be in (0, 1], got ${failureRateThreshold}`,
      );
    }
    if (!(Number.isInteger(minimumRequests) && minimumRequests >= 1)) {
      throw new RangeError(`circuit breaker minimumRequests must be an integer >= 1, got ${minimumRequests}`);
    }
    if (!(samplingWindowMs > 0 && Number.isFinite(samplingWindowMs))) {
      throw new RangeError(
        `circuit breaker samplingWindowMs must be a finite number > 0, got ${samplingWindowMs}`,
      );
    }
    if (!(halfOpenAfterMs >= 0 && Number.isFinite(halfOpenAfterMs))) {
      throw new RangeError(
        `circuit breaker halfOpenAfterMs must be a finite number >= 0, got ${halfOpenAfterMs}`,
      );
    }
    this.provider = options.provider;
    this.group = options.group ?? options.provider;
    this.threshold = failureRateThreshold;
    this.minimumRequests = minimumRequests;
    this.halfOpenAfterMs = halfOpenAfterMs;
    this.onStateChange = options.onStateChange;
    this.now = options.now ?? Date.now;
    this.window = new SlidingWindowCounts(samplingWindowMs, this.now);
  }

  /** The state as of the last call; an expired open circuit reads `open` until someone calls. */
  get state(): CircuitState {
    return this.current;
  }

  /**
   * Admits one call or throws UpstreamCircuitOpenError synchronously. Split from `execute` so a caller
   * can hold the permit across a wait (rate limiter) and `release()` it if the call never happens.
   */
  acquire(): BreakerPermit {
    if (this.current === 'open') {
      const waitMs = this.openedAt + this.halfOpenAfterMs - this.now();
      if (waitMs > 0) throw this.openError(waitMs);
      this.transition('half-open');
    }
    if (this.current === 'half-open') {
      // While the probe runs, everyone else fails fast rather than queueing behind it.
      if (this.probeInFlight) throw this.openError(this.halfOpenAfterMs);
      this.probeInFlight = true;
      return this.permit(true);
    }
    return this.permit(false);
  }

  /** Runs `fn` through the breaker: rejects at once with UpstreamCircuitOpenError while open. */
  execute<R>(fn: () => Promise<R>): Promise<R> {
    let permit: BreakerPermit;
    let running: Promise<R>;
    try {
      permit = this.acquire();
    } catch (error) {
      return Promise.reject(error);
    }
    try {
      running = fn();
    } catch (error) {
      permit.failed(error);
      return Promise.reject(error);
    }
    return running.then(
      (value) => {
        permit.succeeded();
        return value;
      },
      (error: unknown) => {
        permit.failed(error);
        throw error;
      },
    );
  }

  private permit(probe: boolean): BreakerPermit {
    const generation = this.generation;
    let done = false;
    const settle = (verdict: 'success' | 'failure' | 'none') => {
      if (done) return;
      done = true;
      if (probe) this.settleProbe(generation, verdict);
      else if (verdict !== 'none') this.record(generation, verdict === 'failure');
    };
    return {
      succeeded: () => settle('success'),
      failed: (error) => {
        // A cancelled call never learned how the provider is doing. Counting it as a success would
        // water down the failure rate while a provider hangs (its callers give up first), and a
        // cancelled probe would close the circuit: record no verdict, let the next caller probe.
        if (isRequestCancelledError(error)) settle('none');
        else settle(isProviderFailure(error) ? 'failure' : 'success');
      },
      release: () => settle('none'),
    };
  }

  private settleProbe(generation: number, verdict: 'success' | 'failure' | 'none'): void {
    if (generation !== this.generation) return;
    this.probeInFlight = false;
    if (verdict === 'success') this.transition('closed');
    else if (verdict === 'failure') this.transition('open');
  }

  private record(generation: number, failure: boolean): void {
    if (generation !== this.generation || this.current !== 'closed') return;
    this.window.add(1, failure ? 1 : 0);
    if (!failure) return;
    const [calls, failures] = this.window.totals();
    if (calls >= this.minimumRequests && failures >= this.threshold * calls) this.transition('open');
  }

  private transition(state: CircuitState): void {
    this.current = state;
    this.generation++;
    this.probeInFlight = false;
    if (state === 'open') this.openedAt = this.now();
    // A closed circuit starts from a clean window, or the failures that opened it would re-open it.
    if (state === 'closed') {
      this.window.reset();
    }
    try {
      this.onStateChange?.(state);
    } catch {
      // An observer (metrics, logs) must not break the call that caused the change.
    }
  }

  private openError(waitMs: number): UpstreamCircuitOpenError {
    const seconds = Math.ceil(waitMs) / 1000;
    return new UpstreamCircuitOpenError(
      `the ${this.group} circuit is ${this.current} after repeated ${this.provider} failures: not calling it, retry in ${seconds} s`,
      { provider: this.provider, retryAfterSeconds: seconds, notSent: true },
    );
  }
}
