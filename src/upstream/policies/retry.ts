// The retry policy: the loop that re-runs an attempt while the failure may pass and Junction's
// rules allow it (budget, backoff, deadline, an opening circuit), and `isRetryable`, the one place
// that decides whether a failure is retried at all.
import { isTimeoutReason } from '../abort.js';
import type { CallContext } from '../callContext.js';
import {
  isUpstreamError,
  RequestCancelledError,
  type UpstreamError,
  UpstreamTimeoutError,
} from '../errors.js';
import { ATTR, addCallEvent, EVENT } from '../tracing.js';
import type { createBackoff } from './backoff.js';
import { isLocalRateLimitError } from './rateLimiter.js';
import type { RetryBudget } from './retryBudget.js';

export interface RetryOptions {
  /** Attempts in all, the first included (RETRY_MAX_ATTEMPTS). Trap: 1 means no retries, 0 is refused. */
  maxAttempts: number;
  /** Jitter ceiling of the first retry, in ms; doubles per retry (RETRY_BASE_DELAY_MS). */
  baseDelayMs: number;
  /** Cap of the jitter ceiling, in ms (RETRY_MAX_DELAY_MS). Trap: a Retry-After may still exceed it, up to maxRetryAfterMs. */
  maxDelayMs: number;
  /** Longest provider Retry-After we wait for, in ms (RETRY_MAX_RETRY_AFTER_MS). Trap: a longer one ends the retries at once. */
  maxRetryAfterMs: number;
}

export interface RetryInfo {
  provider: string;
  route: string;
  /** The attempt that just failed (1 = the first); the retry about to run is `attempt + 1`. */
  attempt: number;
  /** Backoff before the retry, in ms. */
  delayMs: number;
  error: UpstreamError;
}

export interface RetryLoopDeps {
  provider: string;
  retry: RetryOptions;
  backoff: ReturnType<typeof createBackoff>;
  budget: RetryBudget;
  /** Clock in epoch ms, compared with CallContext.deadline. */
  now: () => number;
  /** Whether the call's breaker is open now (a retry would only be refused after its backoff). */
  circuitOpen: () => boolean;
  /** Called before each backoff wait, for logs and metrics. Not called when the retry is refused. */
  onRetry?: ((info: RetryInfo) => void) | undefined;
}

/**
 * The retry rule: the provider may succeed next time (`retryable`, from errors.ts's mayRetry) and
 * repeating cannot do the work twice (idempotent, or the request provably never left). Junction's
 * own fast failures (open circuit, no rate-limit token in time) are never retried: retrying them
 * would only bypass the policy that refused.
 */
export function isRetryable(error: unknown, idempotent: boolean): error is UpstreamError {
  if (!isUpstreamError(error)) return false; // includes RequestCancelledError
  if (error.code === 'UPSTREAM_CIRCUIT_OPEN' || isLocalRateLimitError(error)) return false;
  return error.retryable && (idempotent || error.notSent);
}

/** Runs `attemptOnce` (numbered from 1) until it succeeds or a retry is not allowed. */
export async function withRetries<R>(
  deps: RetryLoopDeps,
  request: { route: string; idempotent: boolean },
  ctx: CallContext,
  attemptOnce: (attemptNumber: number) => Promise<R>,
): Promise<R> {
  const { provider, retry, backoff, budget, now } = deps;
  let lastError: UpstreamError | undefined;
  for (let attemptNumber = 1; ; attemptNumber++) {
    if (ctx.signal?.aborted) throw stopped(provider, ctx, lastError);
    if (ctx.deadline !== undefined && now() >= ctx.deadline) throw lastError ?? deadlinePassed(provider);
    // Only first attempts earn retry budget; a call refused before it started earns none.
    if (attemptNumber === 1) budget.recordRequest();
    let error: unknown;
    try {
      return await attemptOnce(attemptNumber);
    } catch (caught) {
      error = caught;
    }
    // A wait (token, slot) cut short by the signal rejects with the signal's raw reason.
    if (ctx.signal?.aborted && error === ctx.signal.reason) throw stopped(provider, ctx, lastError);
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
    if (deps.circuitOpen()) throw skip('circuit_open');
    // Waiting past the deadline only to be refused the attempt would hide the provider's answer.
    if (ctx.deadline !== undefined && now() + delayMs >= ctx.deadline) throw skip('deadline');
    if (!budget.tryWithdraw()) throw skip('retry_budget');
    deps.onRetry?.({ provider, route: request.route, attempt: attemptNumber, delayMs, error });
    addCallEvent(ctx, EVENT.retry, {
      [ATTR.attempt]: attemptNumber,
      [ATTR.delayMs]: Math.round(delayMs),
      [ATTR.errorType]: error.code,
    });
    if (!(await sleep(delayMs, ctx.signal))) throw stopped(provider, ctx, lastError);
  }
}

/** What to throw once ctx.signal has aborted: the deadline surfaces the provider's last answer. */
function stopped(provider: string, ctx: CallContext, lastError: UpstreamError | undefined): Error {
  const reason: unknown = ctx.signal?.reason;
  if (!isTimeoutReason(reason)) return new RequestCancelledError(reason);
  return lastError ?? deadlinePassed(provider);
}

function deadlinePassed(provider: string): UpstreamTimeoutError {
  return new UpstreamTimeoutError(`${provider}: the operation's deadline passed before the call`, {
    provider,
    notSent: true,
  });
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
