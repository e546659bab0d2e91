// One provider's resilience pipeline: a RequestExecutor that carries each request through the
// deadline check, budgeted retries with backoff, circuit breaker, rate limiter and concurrency limit.
import { isTimeoutReason } from '../abort.js';
import type { CallContext } from '../callContext.js';
import type { HttpMethod, RequestExecutor } from '../client.js';
import {
  isUpstreamError,
  RequestCancelledError,
  type UpstreamError,
  UpstreamTimeoutError,
} from '../errors.js';
import { ATTR, addCallEvent, EVENT } from '../tracing.js';
import { createBackoff } from './backoff.js';
import { CircuitBreaker, type CircuitBreakerOptions, type CircuitState } from './circuitBreaker.js';
import { ConcurrencyLimit, type ConcurrencyOptions } from './concurrency.js';
import { AdaptiveRateLimiter, isLocalRateLimitError, type RateLimiterOptions } from './rateLimiter.js';
import { RetryBudget, type RetryBudgetOptions } from './retryBudget.js';

export interface RetryOptions {
  /** Attempts in all, the first included. Default 3. Trap: 1 means no retries, 0 is refused. */
  maxAttempts: number;
  /** Jitter ceiling of the first retry, in ms; doubles per retry. Default 100 ms. */
  baseDelayMs: number;
  /** Cap of the jitter ceiling, in ms. Default 2000 ms. Trap: a Retry-After may still exceed it, up to maxRetryAfterMs. */
  maxDelayMs: number;
  /** Longest provider Retry-After we wait for, in ms. Default 5000 ms. Trap: a longer one ends the retries at once. */
  maxRetryAfterMs: number;
}

export type BreakerPolicyOptions = Pick<
  CircuitBreakerOptions,
  'failureRateThreshold' | 'minimumRequests' | 'samplingWindowMs' | 'halfOpenAfterMs'
>;

export type RetryBudgetPolicyOptions = Omit<RetryBudgetOptions, 'now'>;

export type RateLimitPolicyOptions = Omit<RateLimiterOptions, 'provider' | 'now'>;

export interface RetryInfo {
  provider: string;
  route: string;
  /** The attempt that just failed (1 = the first); the retry about to run is `attempt + 1`. */
  attempt: number;
  /** Backoff before the retry, in ms. */
  delayMs: number;
  error: UpstreamError;
}

export interface PipelineOptions {
  /** Provider name, carried by the errors the pipeline makes (`users`, `stripe`...). */
  provider: string;
  /** Retry policy; missing fields take defaultPolicyOptions.retry. */
  retry?: Partial<RetryOptions> | undefined;
  /** Retry budget (ratio, windowMs, minRetriesPerSecond); missing fields take defaultPolicyOptions.budget. */
  budget?: Partial<RetryBudgetPolicyOptions> | undefined;
  /** Circuit breaker thresholds; missing fields take defaultPolicyOptions.breaker. */
  breaker?: Partial<BreakerPolicyOptions> | undefined;
  /** Route template -> breaker name; one breaker per name. Default: one breaker for the whole provider. Trap: return bounded names, never ids. */
  breakerGroup?: ((route: string) => string) | undefined;
  /** Token bucket for this provider credential. Default: undefined, meaning no rate limiting at all. */
  rateLimit?: RateLimitPolicyOptions | undefined;
  /** In-flight cap and the pool size it is clamped to. No default: pass the provider's pool connections. */
  concurrency: ConcurrencyOptions;
  /** Called before each backoff wait, for logs and metrics. Not called when the retry is refused. */
  onRetry?: ((info: RetryInfo) => void) | undefined;
  /**
   * Limit for a half-open probe, in ms. Default 1000 ms. A probe of a hanging provider would
   * otherwise hold its key's waiters for a whole attempt timeout before the circuit re-opens.
   */
  probeTimeoutMs?: number | undefined;
  /** Called after a request waited for a rate-limit token, with the wait in ms (for metrics). */
  onThrottle?: ((provider: string, waitedMs: number) => void) | undefined;
  /** Called when a breaker changes state, with the breaker's group name (the provider by default). */
  onStateChange?: ((state: CircuitState, group: string) => void) | undefined;
  /** Clock in epoch ms, compared with CallContext.deadline. Default Date.now. */
  now?: (() => number) | undefined;
  /** Uniform random in [0, 1) for backoff jitter. Default Math.random. */
  random?: (() => number) | undefined;
}

export const defaultPolicyOptions: {
  retry: RetryOptions;
  budget: RetryBudgetPolicyOptions;
  breaker: BreakerPolicyOptions;
  concurrency: ConcurrencyOptions;
} = {
  retry: {
    maxAttempts: 3, // 3 attempts in all: 2 retries
    baseDelayMs: 100, // 100 ms
    maxDelayMs: 2 * 1000, // 2 s
    maxRetryAfterMs: 5 * 1000, // 5 s
  },
  budget: {
    ratio: 0.2, // 20 % of first attempts
    windowMs: 10 * 1000, // 10 s
    minRetriesPerSecond: 1, // 1/s, i.e. 10 retries per 10 s window at no traffic
  },
  breaker: {
    failureRateThreshold: 0.5, // 50 %
    minimumRequests: 10, // 10 calls in the window
    samplingWindowMs: 10 * 1000, // 10 s
    halfOpenAfterMs: 5 * 1000, // 5 s
  },
  concurrency: {
    limit: 32, // 32 attempts in flight
    poolConnections: 32, // PoolOptions.connections default
  },
};

export interface Pipeline extends RequestExecutor {
  /** The breaker of the group named after the provider: every route's, unless breakerGroup says otherwise. */
  readonly breaker: CircuitBreaker;
  /** Every breaker created so far, by group name: for health and metrics. */
  readonly breakers: ReadonlyMap<string, CircuitBreaker>;
  /** The breaker that guards `route`. */
  breakerFor(route: string): CircuitBreaker;
  readonly limiter: AdaptiveRateLimiter | undefined;
  readonly budget: RetryBudget;
  readonly concurrency: ConcurrencyLimit;
}

interface ExecutorRequest {
  provider: string;
  route: string;
  method: HttpMethod;
  idempotent: boolean;
}

export function createPipeline(options: PipelineOptions): Pipeline {
  const { provider } = options;
  const retry: RetryOptions = { ...defaultPolicyOptions.retry, ...options.retry };
  if (!(Number.isInteger(retry.maxAttempts) && retry.maxAttempts >= 1)) {
    throw new RangeError(`retry.maxAttempts must be an integer >= 1, got ${retry.maxAttempts}`);
  }
  const now = options.now ?? Date.now;
  const probeTimeoutMs = options.probeTimeoutMs ?? 1_000; // 1 s
  const backoff = createBackoff({ ...retry, random: options.random });
  const budget = new RetryBudget({ ...defaultPolicyOptions.budget, ...options.budget, now });
  const limiter = options.rateLimit
    ? new AdaptiveRateLimiter({ ...options.rateLimit, provider, now })
    : undefined;
  const concurrency = new ConcurrencyLimit(options.concurrency);
  const breakerOptions: BreakerPolicyOptions = { ...defaultPolicyOptions.breaker, ...options.breaker };
  const breakers = new Map<string, CircuitBreaker>();

  const breakerNamed = (group: string): CircuitBreaker => {
    let breaker = breakers.get(group);
    if (!breaker) {
      const onStateChange = options.onStateChange;
      breaker = new CircuitBreaker({
        ...breakerOptions,
        provider,
        group,
        now,
        onStateChange: onStateChange ? (state) => onStateChange(state, group) : undefined,
      });
      breakers.set(group, breaker);
    }
    return breaker;
  };
  const breakerFor = (route: string): CircuitBreaker =>
    breakerNamed(options.breakerGroup?.(route) ?? provider);

  /** What to throw once ctx.signal has aborted: the deadline surfaces the provider's last answer. */
  const stopped = (ctx: CallContext, lastError: UpstreamError | undefined): Error => {
    const reason: unknown = ctx.signal?.reason;
    if (!isTimeoutReason(reason)) return new RequestCancelledError(reason);
    return lastError ?? deadlinePassed(provider);
  };

  /**
   * One attempt through the inner policies. The breaker permit is taken first and released without a
   * verdict if the call never leaves (no token in time, cancelled while queued).
   */
  const attemptOnce = async <R>(
    breaker: CircuitBreaker,
    ctx: CallContext,
    signal: AbortSignal,
    attemptNumber: number,
    attempt: (signal: AbortSignal, attemptNumber: number) => Promise<R>,
  ): Promise<R> => {
    let permit: ReturnType<CircuitBreaker['acquire']>;
    try {
      permit = breaker.acquire();
    } catch (error) {
      addCallEvent(ctx, EVENT.circuitRefused, { [ATTR.circuitGroup]: breaker.group });
      throw error;
    }
    // A half-open breaker hands out exactly one permit: this call is the probe. Keep it short.
    // (A plain timer rather than AbortSignal.timeout, so it is cleared after the probe and tests can
    // drive it with fake timers.)
    let probeTimer: ReturnType<typeof setTimeout> | undefined;
    let probeSignal = signal;
    if (breaker.state === 'half-open') {
      const probe = new AbortController();
      probeTimer = setTimeout(
        () => probe.abort(new DOMException('probe timed out', 'TimeoutError')),
        probeTimeoutMs,
      );
      probeSignal = AbortSignal.any([signal, probe.signal]);
    }
    let sent = false;
    try {
      if (limiter) {
        const untilDeadlineMs = ctx.deadline === undefined ? Number.POSITIVE_INFINITY : ctx.deadline - now();
        const waitStarted = now();
        await limiter.acquire(ctx.signal, Math.min(limiter.maxWaitMs, untilDeadlineMs));
        const waitedMs = now() - waitStarted;
        if (waitedMs > 0) {
          ctx.onThrottle?.(provider, waitedMs);
          options.onThrottle?.(provider, waitedMs);
          addCallEvent(ctx, EVENT.throttled, { [ATTR.waitMs]: waitedMs });
        }
      }
      const result = await concurrency.run(() => {
        sent = true;
        return attempt(probeSignal, attemptNumber);
      }, ctx.signal);
      permit.succeeded();
      if (limiter && isResponseLike(result)) limiter.onResponse(result);
      return result;
    } catch (error) {
      if (!sent) {
        permit.release();
        if (isLocalRateLimitError(error)) addCallEvent(ctx, EVENT.throttleRefused, {});
        throw error;
      }
      permit.failed(error);
      if (limiter && isUpstreamError(error) && error.status !== undefined) {
        // A provider's error answers carry throttling signals too (429, Retry-After, RateLimit-*).
        limiter.onResponse({ status: error.status, headers: throttleHeadersOf(error) });
      }
      throw error;
    } finally {
      if (probeTimer !== undefined) clearTimeout(probeTimer);
    }
  };

  const execute = async <R>(
    request: ExecutorRequest,
    ctx: CallContext,
    attempt: (signal: AbortSignal, attemptNumber: number) => Promise<R>,
  ): Promise<R> => {
    // ORDER, outer to inner: deadline/cancellation check -> retry (budget, backoff) -> circuit
    // breaker -> rate limiter -> concurrency limit -> the attempt (its own timeout is in client.ts).
    // Retries sit outside the breaker so an opening circuit stops them; the breaker sits outside
    // the limiter so fast-failed calls spend no tokens; the limiter sits outside the concurrency
    // slot so waiting for a token holds no socket slot; concurrency is innermost, sized to the pool.
    const breaker = breakerFor(request.route);
    const signal = ctx.signal ?? new AbortController().signal;
    let lastError: UpstreamError | undefined;
    for (let attemptNumber = 1; ; attemptNumber++) {
      if (ctx.signal?.aborted) throw stopped(ctx, lastError);
      if (ctx.deadline !== undefined && now() >= ctx.deadline) throw lastError ?? deadlinePassed(provider);
      // Only first attempts earn retry budget; a call refused before it started earns none.
      if (attemptNumber === 1) budget.recordRequest();
      let error: unknown;
      try {
        return await attemptOnce(breaker, ctx, signal, attemptNumber, attempt);
      } catch (caught) {
        error = caught;
      }
      // A wait (token, slot) cut short by the signal rejects with the signal's raw reason.
      if (ctx.signal?.aborted && error === ctx.signal.reason) throw stopped(ctx, lastError);
      if (!isRetryable(error, request.idempotent)) throw error;
      lastError = error;
      /** A retry was wanted and is not made: the trace says why. */
      const skip = (reason: string) => {
        addCallEvent(ctx, EVENT.retrySkipped, {
          [ATTR.reason]: reason,
          [ATTR.attempt]: attemptNumber,
          [ATTR.errorType]: error.code,
        });
        return error;
      };
      if (attemptNumber >= retry.maxAttempts) throw skip('max_attempts');
      const delayMs = backoff.delayFor(attemptNumber, error.retryAfterSeconds);
      if (delayMs === undefined) throw skip('retry_after_too_long');
      // The failure just opened (or re-opened) the circuit: the retry would only be refused after
      // its backoff. Say so now.
      if (breaker.state === 'open') throw skip('circuit_open');
      // Waiting past the deadline only to be refused the attempt would hide the provider's answer.
      if (ctx.deadline !== undefined && now() + delayMs >= ctx.deadline) throw skip('deadline');
      if (!budget.tryWithdraw()) throw skip('retry_budget');
      options.onRetry?.({ provider, route: request.route, attempt: attemptNumber, delayMs, error });
      addCallEvent(ctx, EVENT.retry, {
        [ATTR.attempt]: attemptNumber,
        [ATTR.delayMs]: Math.round(delayMs),
        [ATTR.errorType]: error.code,
      });
      if (!(await sleep(delayMs, ctx.signal))) throw stopped(ctx, lastError);
    }
  };

  return {
    execute,
    // Lazy: with breakerGroup set, the provider-wide breaker may never guard a route.
    get breaker() {
      return breakerNamed(provider);
    },
    breakers,
    breakerFor,
    limiter,
    budget,
    concurrency,
  };
}

/**
 * The retry rule: the provider may succeed next time (`retryable`, set per status and provider
 * signal by the client's errorFromResponse) and repeating cannot do the work twice (idempotent, or
 * the request provably never left). Our own fast failures (open circuit, no token in time) are
 * never retried: retrying them would only bypass the policy that refused.
 */
function isRetryable(error: unknown, idempotent: boolean): error is UpstreamError {
  if (!isUpstreamError(error)) return false; // includes RequestCancelledError
  if (error.code === 'UPSTREAM_CIRCUIT_OPEN' || isLocalRateLimitError(error)) return false;
  return error.retryable && (idempotent || error.notSent);
}

/** The rate-limit headers an error kept; for errors made elsewhere, at least their Retry-After. */
function throttleHeadersOf(error: UpstreamError): Record<string, string | undefined> {
  if (error.rateLimitHeaders) return error.rateLimitHeaders;
  return { 'retry-after': error.retryAfterSeconds?.toString() };
}

function deadlinePassed(provider: string): UpstreamTimeoutError {
  return new UpstreamTimeoutError(`${provider}: the operation's deadline passed before the call`, {
    provider,
    notSent: true,
  });
}

function isResponseLike(
  value: unknown,
): value is { status: number; headers: Record<string, string | string[] | undefined> } {
  if (typeof value !== 'object' || value === null) return false;
  const { status, headers } = value as { status?: unknown; headers?: unknown };
  return typeof status === 'number' && typeof headers === 'object' && headers !== null;
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
