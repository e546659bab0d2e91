// Per-provider health as seen from Junction, for /readyz: one overall state, the circuits, the
// throttle (rate and pause), last success and last error. Only codes, statuses and times: never an
// upstream message, which can quote a card decline or another user's idempotency key.
import type { UpstreamCallInfo } from './callContext.js';
import type { UpstreamError, UpstreamErrorCode } from './errors.js';

export type CircuitStateName = 'closed' | 'open' | 'half-open';

/**
 * `circuit-open`: calls fail fast; `paused`: a provider header stopped calls for a while;
 * `throttled`: calls flow slower than configured; `degraded`: the last call failed or a probe is
 * out; `ok`: none of these. The first that holds, in that order, is the state.
 */
export type ProviderStateName = 'ok' | 'degraded' | 'throttled' | 'paused' | 'circuit-open';

export interface ThrottleState {
  /** Rate in force now, requests per second (rounded to 3 decimals). */
  ratePerSecond: number;
  configuredRatePerSecond: number;
  /** ISO time until which no call is sent, or null when not paused. */
  pausedUntil: string | null;
  pauseRemainingMs: number;
}

export interface ProviderState {
  provider: string;
  /** `simulator` in demo mode, `remote` otherwise. */
  mode: 'simulator' | 'remote';
  state: ProviderStateName;
  /** The worst state among the provider's breakers. */
  circuit: CircuitStateName;
  /** Every breaker of the provider by group. */
  circuits: Record<string, CircuitStateName>;
  lastSuccessAt: string | null;
  /** The last failed attempt: its code, the provider's status (null when it never answered) and when. */
  lastError: { code: UpstreamErrorCode; status: number | null; at: string } | null;
  /** The provider's rate limiter, when it has one. */
  throttle: ThrottleState | null;
}

/** What health reads from a provider's rate limiter (AdaptiveRateLimiter has it all). */
export interface ThrottleSource {
  readonly currentRatePerSecond: number;
  readonly configuredRatePerSecond: number;
  readonly pausedUntilMs: number | undefined;
  readonly pauseRemainingMs: number;
}

/** What health reads from a provider's pipeline: its limiter and its breakers by group. */
export interface WatchedPipeline {
  readonly limiter?: ThrottleSource | undefined;
  readonly breakers?: ReadonlyMap<string, { readonly state: CircuitStateName }> | undefined;
}

/** Errors that say the provider (or our access to it) is unwell, as opposed to a caller's bad luck. */
const UNHEALTHY: ReadonlySet<UpstreamErrorCode> = new Set([
  'UPSTREAM_TIMEOUT',
  'UPSTREAM_UNAVAILABLE',
  'UPSTREAM_RATE_LIMITED',
  'UPSTREAM_BAD_RESPONSE',
  'UPSTREAM_REJECTED',
]);

interface TrackedProvider {
  provider: string;
  mode: ProviderState['mode'];
  circuits: Record<string, CircuitStateName>;
  lastSuccessAtMs: number | undefined;
  lastError: { code: UpstreamErrorCode; status: number | null; atMs: number } | undefined;
  throttle: ThrottleSource | undefined;
  breakers: WatchedPipeline['breakers'];
}

export class ProviderHealth {
  private readonly records = new Map<string, TrackedProvider>();

  register(provider: string, mode: ProviderState['mode']): void {
    this.records.set(provider, {
      provider,
      mode,
      circuits: {},
      lastSuccessAtMs: undefined,
      lastError: undefined,
      throttle: undefined,
      breakers: undefined,
    });
  }

  /** Reads each provider's limiter (throttle and pause) and breakers (every group) at snapshot time. */
  watchPipelines(pipelines: Record<string, WatchedPipeline>): void {
    for (const [provider, pipeline] of Object.entries(pipelines)) {
      const record = this.records.get(provider);
      if (!record) continue;
      record.throttle = pipeline.limiter;
      record.breakers = pipeline.breakers;
    }
  }

  /** Wire as RestClient's `onAttempt`. */
  recordAttempt(info: UpstreamCallInfo, error: UpstreamError | undefined): void {
    const record = this.records.get(info.provider);
    if (!record || info.outcome === 'cancelled') return;
    const atMs = info.startedAtMs + info.durationMs;
    if (error) record.lastError = { code: error.code, status: error.status ?? null, atMs };
    else record.lastSuccessAtMs = atMs;
  }

  setCircuit(provider: string, group: string, circuit: CircuitStateName): void {
    const record = this.records.get(provider);
    if (record) record.circuits[group] = circuit;
  }

  snapshot(): Record<string, ProviderState> {
    return Object.fromEntries([...this.records].map(([name, record]) => [name, stateOf(record)]));
  }
}

function stateOf(record: TrackedProvider): ProviderState {
  const circuits = { ...record.circuits };
  for (const [group, breaker] of record.breakers ?? []) circuits[group] = breaker.state;
  const all = Object.values(circuits);
  const circuit: CircuitStateName = all.includes('open')
    ? 'open'
    : all.includes('half-open')
      ? 'half-open'
      : 'closed';
  const throttle = record.throttle ? throttleOf(record.throttle) : null;
  const { lastError, lastSuccessAtMs } = record;
  const lastCallFailed =
    lastError !== undefined &&
    UNHEALTHY.has(lastError.code) &&
    (lastSuccessAtMs === undefined || lastError.atMs >= lastSuccessAtMs);
  let state: ProviderStateName = 'ok';
  if (circuit === 'open') state = 'circuit-open';
  else if (throttle && throttle.pauseRemainingMs > 0) state = 'paused';
  else if (throttle && throttle.ratePerSecond < throttle.configuredRatePerSecond) state = 'throttled';
  else if (circuit === 'half-open' || lastCallFailed) state = 'degraded';
  return {
    provider: record.provider,
    mode: record.mode,
    state,
    circuit,
    circuits,
    lastSuccessAt: lastSuccessAtMs === undefined ? null : new Date(lastSuccessAtMs).toISOString(),
    lastError: lastError
      ? { code: lastError.code, status: lastError.status, at: new Date(lastError.atMs).toISOString() }
      : null,
    throttle,
  };
}

function throttleOf(source: ThrottleSource): ThrottleState {
  const pausedUntil = source.pausedUntilMs;
  return {
    ratePerSecond: round3(source.currentRatePerSecond),
    configuredRatePerSecond: round3(source.configuredRatePerSecond),
    pausedUntil: pausedUntil === undefined ? null : new Date(pausedUntil).toISOString(),
    pauseRemainingMs: Math.ceil(source.pauseRemainingMs),
  };
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
