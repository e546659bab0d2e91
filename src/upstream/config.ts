// The upstream section of the config: connection pools, attempt limits, the shared cache's budget
// and the resilience policies every provider runs through. Its defaults are written here once;
// the pools and the pipeline take theirs from this list (upstreamDefaults) and config.ts reads it.
import { decimal, integer, type Values } from '../configSchema.js';

export const upstreamFields = {
  connections: integer('UPSTREAM_CONNECTIONS', {
    min: 1,
    max: 1024,
    default: 32,
    doc: 'Sockets per upstream origin (undici pool).',
  }),
  keepAliveTimeoutMs: integer('UPSTREAM_KEEPALIVE_MS', {
    min: 1,
    max: 600_000,
    default: 30_000,
    unit: 'ms',
    doc: 'Idle upstream keep-alive.',
  }),
  connectTimeoutMs: integer('UPSTREAM_CONNECT_TIMEOUT_MS', {
    min: 1,
    max: 60_000,
    default: 2_000,
    unit: 'ms',
    doc: 'Upstream connect timeout.',
  }),
  attemptTimeoutMs: integer('UPSTREAM_TIMEOUT_MS', {
    min: 1,
    max: 120_000,
    default: 5_000,
    unit: 'ms',
    doc: 'Limit of one upstream attempt (headers and body); the operation deadline caps the total.',
  }),
  maxResponseBytes: integer('UPSTREAM_MAX_RESPONSE_BYTES', {
    min: 1024,
    max: 2 ** 30,
    default: 5 * 1024 * 1024, // 5 MiB
    unit: 'bytes',
    doc: 'Largest upstream body accepted; larger is `UPSTREAM_BAD_RESPONSE`.',
  }),
  concurrency: integer('UPSTREAM_CONCURRENCY', {
    min: 1,
    max: 1024,
    default: 32,
    doc: 'Requests in flight per provider; clamped to `UPSTREAM_CONNECTIONS`.',
  }),
  cacheMaxBytes: integer('CACHE_MAX_BYTES', {
    min: 1024,
    max: 2 ** 40,
    default: 64 * 1024 * 1024, // 64 MiB
    unit: 'bytes',
    doc: 'Budget of the shared response cache.',
  }),
};

export const policyFields = {
  maxAttempts: integer('RETRY_MAX_ATTEMPTS', {
    min: 1,
    max: 10,
    default: 3,
    doc: 'Attempts per upstream call, the first included.',
  }),
  baseDelayMs: integer('RETRY_BASE_DELAY_MS', {
    min: 1,
    max: 60_000,
    default: 100,
    unit: 'ms',
    doc: 'Jitter ceiling of the first retry, doubling per retry (full jitter).',
  }),
  maxDelayMs: integer('RETRY_MAX_DELAY_MS', {
    min: 1,
    max: 300_000,
    default: 2_000,
    unit: 'ms',
    doc: 'Cap of the jitter ceiling.',
  }),
  maxRetryAfterMs: integer('RETRY_MAX_RETRY_AFTER_MS', {
    min: 0,
    max: 300_000,
    default: 5_000,
    unit: 'ms',
    doc: 'Longest provider `Retry-After` a retry waits; longer ones end the retries at once.',
  }),
  retryBudgetRatio: decimal('RETRY_BUDGET_RATIO', {
    min: 0,
    max: 1,
    default: 0.2,
    doc: 'Retries may be at most this share of requests per provider (10 s window, plus 1/s).',
  }),
  failureRateThreshold: decimal('BREAKER_FAILURE_RATE', {
    min: 0,
    max: 1,
    exclusiveMin: true,
    default: 0.5,
    doc: 'Failure rate over the window that opens a circuit.',
  }),
  minimumRequests: integer('BREAKER_MIN_REQUESTS', {
    min: 1,
    max: 100_000,
    // Coalescing and batching keep call volume low: 10 calls are enough evidence.
    default: 10,
    doc: 'Calls needed in the window before the failure rate counts.',
  }),
  samplingWindowMs: integer('BREAKER_WINDOW_MS', {
    min: 100,
    max: 3_600_000,
    default: 10_000,
    unit: 'ms',
    doc: "The breaker's sliding window.",
  }),
  halfOpenAfterMs: integer('BREAKER_HALF_OPEN_AFTER_MS', {
    min: 1,
    max: 3_600_000,
    default: 5_000,
    unit: 'ms',
    doc: 'Time open before one probe is let through.',
  }),
  probeTimeoutMs: integer('BREAKER_PROBE_TIMEOUT_MS', {
    min: 1,
    max: 600_000,
    default: 1_000,
    unit: 'ms',
    doc: 'Limit of that probe (a hanging provider fails it fast).',
  }),
  rateLimitMaxWaitMs: integer('RATE_LIMIT_MAX_WAIT_MS', {
    min: 0,
    max: 60_000,
    default: 1_000,
    unit: 'ms',
    doc: 'Longest wait for a rate-limit token, then `UPSTREAM_RATE_LIMITED`.',
  }),
  rateLimitMaxPauseMs: integer('RATE_LIMIT_MAX_PAUSE_MS', {
    min: 0,
    max: 3_600_000,
    default: 60_000, // 60 s
    unit: 'ms',
    doc: 'Longest pause (or slowed window) any provider header can impose, and the largest `retryAfter` passed on; `0`: headers never pause.',
  }),
};

/** The defaults of both lists, as plain values (what PoolRegistry and createPipeline fall back to). */
export function upstreamDefaults(): Values<typeof upstreamFields> & Values<typeof policyFields> {
  const values = { ...upstreamFields, ...policyFields };
  const out: Record<string, unknown> = {};
  for (const [key, variable] of Object.entries(values))
    out[key] = variable.defaultValue({ isProduction: false });
  return out as Values<typeof upstreamFields> & Values<typeof policyFields>;
}
