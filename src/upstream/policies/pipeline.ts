// One provider's resilience pipeline: a RequestExecutor that carries each request through the
// deadline check, budgeted retries with backoff, circuit breaker, rate limiter and concurrency limit.
import { LRUCache } from 'lru-cache';
import type { RateBudget } from '../../state/rateBudget.js';
import type { CallContext } from '../callContext.js';
import type { ExecutorRequest, RequestExecutor } from '../client.js';
import { upstreamDefaults } from '../config.js';
import { isUpstreamError, type UpstreamError } from '../errors.js';
import { ATTR, addCallEvent, EVENT } from '../tracing.js';
import { createBackoff } from './backoff.js';
import { CircuitBreaker, type CircuitBreakerOptions, type CircuitState } from './circuitBreaker.js';
import { ConcurrencyLimit, type ConcurrencyOptions } from './concurrency.js';
import {
  AdaptiveRateLimiter,
  isLocalRateLimitError,
  type RateLimiter,
  type RateLimiterOptions,
} from './rateLimiter.js';
import { type RetryInfo, type RetryOptions, withRetries } from './retry.js';
import { RetryBudget, type RetryBudgetOptions } from './retryBudget.js';
import { SharedRateLimiter } from './sharedRateLimiter.js';

export type { RetryInfo, RetryOptions } from './retry.js';

export type BreakerPolicyOptions = Pick<
  CircuitBreakerOptions,
  'failureRateThreshold' | 'minimumRequests' | 'samplingWindowMs' | 'halfOpenAfterMs'
>;

export type RetryBudgetPolicyOptions = Omit<RetryBudgetOptions, 'now'>;

export type RateLimitPolicyOptions = Omit<RateLimiterOptions, 'provider' | 'now'>;

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
  /**
   * `credential`: one bucket per credential the requests carry (each connected user's own token,
   * which the provider limits on its own), made on first use; the most recently used
   * `maxCredentialLimiters` are kept. Default `provider`: one bucket for all requests.
   */
  rateLimitScope?: 'provider' | 'credential' | undefined;
  /** With `rateLimitScope: credential`, how many per-credential buckets are kept. Default 10000. */
  maxCredentialLimiters?: number | undefined;
  /**
   * A budget shared by replicas (state.rateBudget with REDIS_URL): every bucket takes its tokens from
   * it (bucket `provider`, or `provider|credential` per credential) and sends it the provider's
   * throttling signals. Default undefined: in-process buckets (AdaptiveRateLimiter).
   */
  sharedBudget?: { budget: RateBudget; replicaCount?: (() => number) | undefined } | undefined;
  /** In-flight cap and the pool size it is clamped to. No default: pass the provider's pool connections. */
  concurrency: ConcurrencyOptions;
  /** Called before each backoff wait, for logs and metrics. Not called when the retry is refused. */
  onRetry?: ((info: RetryInfo) => void) | undefined;
  /**
   * Limit for a half-open probe, in ms (BREAKER_PROBE_TIMEOUT_MS). A probe of a hanging provider would
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

const DEFAULTS = upstreamDefaults();

/** Defaults of every policy: the config's (upstream/config.ts), plus the budget's fixed window. */
export const defaultPolicyOptions: {
  retry: RetryOptions;
  budget: RetryBudgetPolicyOptions;
  breaker: BreakerPolicyOptions;
  concurrency: ConcurrencyOptions;
} = {
  retry: {
    maxAttempts: DEFAULTS.maxAttempts,
    baseDelayMs: DEFAULTS.baseDelayMs,
    maxDelayMs: DEFAULTS.maxDelayMs,
    maxRetryAfterMs: DEFAULTS.maxRetryAfterMs,
  },
  budget: {
    ratio: DEFAULTS.retryBudgetRatio,
    windowMs: 10 * 1000, // 10 s
    minRetriesPerSecond: 1, // 1/s, i.e. 10 retries per 10 s window at no traffic
  },
  breaker: {
    failureRateThreshold: DEFAULTS.failureRateThreshold,
    minimumRequests: DEFAULTS.minimumRequests,
    samplingWindowMs: DEFAULTS.samplingWindowMs,
    halfOpenAfterMs: DEFAULTS.halfOpenAfterMs,
  },
  concurrency: { limit: DEFAULTS.concurrency, poolConnections: DEFAULTS.connections },
};

export interface Pipeline extends RequestExecutor {
  /** The breaker of the group named after the provider: every route's, unless breakerGroup says otherwise. */
  readonly breaker: CircuitBreaker;
  /** Every breaker created so far, by group name: for health and metrics. */
  readonly breakers: ReadonlyMap<string, CircuitBreaker>;
  /** The breaker that guards `route`. */
  breakerFor(route: string): CircuitBreaker;
  /** The provider's bucket; undefined without rate limiting, or when buckets are per credential. */
  readonly limiter: RateLimiter | undefined;
  /** The bucket a request with this credential draws from (per-credential scope), or the provider's. */
  limiterFor(credentialId: string | undefined): RateLimiter | undefined;
  readonly budget: RetryBudget;
  readonly concurrency: ConcurrencyLimit;
}

export function createPipeline(options: PipelineOptions): Pipeline {
  const { provider } = options;
  const retry: RetryOptions = { ...defaultPolicyOptions.retry, ...options.retry };
  if (!(Number.isInteger(retry.maxAttempts) && retry.maxAttempts >= 1)) {
    throw new RangeError(`retry.maxAttempts must be an integer >= 1, got ${retry.maxAttempts}`);
  }
  const now = options.now ?? Date.now;
  const probeTimeoutMs = options.probeTimeoutMs ?? DEFAULTS.probeTimeoutMs;
  const backoff = createBackoff({ ...retry, random: options.random });
  // With a shared rate budget, replicas divide the retry floor too (retryBudget.ts).
  const budget = new RetryBudget({
    ...defaultPolicyOptions.budget,
    ...options.budget,
    now,
    replicaCount: options.sharedBudget?.replicaCount,
  });
  const rateLimit = options.rateLimit;
  const perCredential = rateLimit !== undefined && options.rateLimitScope === 'credential';
  const shared = options.sharedBudget;
  const newLimiter = (limits: RateLimitPolicyOptions, bucket: string): RateLimiter =>
    shared
      ? new SharedRateLimiter({
          ...limits,
          provider,
          now,
          budget: shared.budget,
          bucket,
          replicaCount: shared.replicaCount,
        })
      : new AdaptiveRateLimiter({ ...limits, provider, now });
  const limiter = rateLimit && !perCredential ? newLimiter(rateLimit, provider) : undefined;
  const credentialLimiters = perCredential
    ? new LRUCache<string, RateLimiter>({ max: options.maxCredentialLimiters ?? 10_000 })
    : undefined;
  const limiterFor = (credentialId: string | undefined): RateLimiter | undefined => {
    if (!credentialLimiters || !rateLimit) return limiter;
    const key = credentialId ?? '';
    let found = credentialLimiters.get(key);
    if (!found) {
      found = newLimiter(rateLimit, `${provider}|${key}`);
      credentialLimiters.set(key, found);
    }
    return found;
  };
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

  /**
   * One attempt through the inner policies. The breaker permit is taken first and released without a
   * verdict if the call never leaves (no token in time, cancelled while queued).
   */
  const attemptOnce = async <R>(
    breaker: CircuitBreaker,
    limiter: RateLimiter | undefined,
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
        // A provider that says "rate limited" with another status (a secondary limit answered 403
        // with Retry-After, say) is read as the 429 it means.
        const status = error.code === 'UPSTREAM_RATE_LIMITED' ? 429 : error.status;
        limiter.onResponse({ status, headers: throttleHeadersOf(error) });
      }
      throw error;
    } finally {
      if (probeTimer !== undefined) clearTimeout(probeTimer);
    }
  };

  const execute = <R>(
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
    const bucket = limiterFor(request.credentialId);
    const signal = ctx.signal ?? new AbortController().signal;
    return withRetries(
      {
        provider,
        retry,
        backoff,
        budget,
        now,
        onRetry: options.onRetry,
        circuitOpen: () => breaker.state === 'open',
      },
      request,
      ctx,
      (attemptNumber) => attemptOnce(breaker, bucket, ctx, signal, attemptNumber, attempt),
    );
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
    limiterFor,
    budget,
    concurrency,
  };
}

/** The rate-limit headers an error kept; for errors made elsewhere, at least their Retry-After. */
function throttleHeadersOf(error: UpstreamError): Record<string, string | undefined> {
  if (error.rateLimitHeaders) return error.rateLimitHeaders;
  return { 'retry-after': error.retryAfterSeconds?.toString() };
}

function isResponseLike(
  value: unknown,
): value is { status: number; headers: Record<string, string | string[] | undefined> } {
  if (typeof value !== 'object' || value === null) return false;
  const { status, headers } = value as { status?: unknown; headers?: unknown };
  return typeof status === 'number' && typeof headers === 'object' && headers !== null;
}
