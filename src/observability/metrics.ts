// Prometheus metrics (prom-client) on a registry of Junction's own, so tests can build as many as
// they like. Every label is bounded: providers, route templates, outcomes, reasons, and operation
// names capped to a fixed number of distinct values. Never ids, never URLs with ids.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
/** What the load shedder shows the metrics (loadShedding.ts): read at scrape time. */
export interface LoadGaugeSource {
  state(): { underPressure: boolean; eventLoopDelayMs: number; eventLoopUtilization: number };
}

import type { UpstreamCallInfo } from '../upstream/callContext.js';
import type { UpstreamError } from '../upstream/errors.js';
import type { Pipeline } from '../upstream/policies/pipeline.js';

const CIRCUIT_VALUE = { closed: 0, 'half-open': 1, open: 2 } as const;
/** Distinct GraphQL operation names kept as labels; later ones are counted as `other`. */
const MAX_OPERATION_NAMES = 200;
const OPERATION_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export class Metrics {
  readonly registry = new Registry();
  private readonly upstreamRequests: Counter<'provider' | 'route' | 'outcome'>;
  private readonly upstreamDuration: Histogram<'provider' | 'route'>;
  private readonly upstreamRetries: Counter<'provider' | 'route'>;
  private readonly circuitState: Gauge<'provider' | 'group'>;
  private readonly cacheEvents: Counter<'provider' | 'outcome'>;
  private readonly throttleWait: Counter<'provider'>;
  private readonly operations: Counter<'operation' | 'outcome'>;
  private readonly operationDuration: Histogram<'operation'>;
  private readonly webhooksReceived: Counter<'provider'>;
  private readonly webhooksRejected: Counter<'provider' | 'reason'>;
  private readonly webhooksDuplicate: Counter<'provider'>;
  private readonly operationsInFlight: Gauge<'transport'>;
  private readonly refusals: Counter<'reason' | 'transport'>;
  private readonly webhooksUnusable: Counter<'provider'>;
  private readonly operationNames = new Set<string>();
  private readonly pausesClamped: Counter<'provider' | 'header'>;
  private readonly shed: Counter<'reason' | 'transport'>;
  private readonly secretReloads: Counter<'secret' | 'outcome'>;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics ?? true)
      collectDefaultMetrics({ register: this.registry, prefix: 'junction_' });
    this.upstreamRequests = new Counter({
      name: 'junction_upstream_requests_total',
      help: 'Upstream attempts by provider, route template and outcome (success, cancelled, or the error code).',
      labelNames: ['provider', 'route', 'outcome'],
      registers,
    });
    this.upstreamDuration = new Histogram({
      name: 'junction_upstream_request_duration_seconds',
      help: 'Duration of one upstream attempt.',
      labelNames: ['provider', 'route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.upstreamRetries = new Counter({
      name: 'junction_upstream_retries_total',
      help: 'Retries scheduled by the resilience pipeline.',
      labelNames: ['provider', 'route'],
      registers,
    });
    this.circuitState = new Gauge({
      name: 'junction_upstream_circuit_state',
      help: 'Circuit breaker state: 0 closed, 1 half-open, 2 open.',
      labelNames: ['provider', 'group'],
      registers,
    });
    this.cacheEvents = new Counter({
      name: 'junction_cache_events_total',
      help: 'Response cache lookups by outcome: hit, miss, stale (served past its TTL), shared_hit (missed here, found in the second level shared by replicas).',
      labelNames: ['provider', 'outcome'],
      registers,
    });
    this.throttleWait = new Counter({
      name: 'junction_ratelimit_wait_seconds_total',
      help: 'Time requests spent waiting for a rate-limit token.',
      labelNames: ['provider'],
      registers,
    });
    this.operations = new Counter({
      name: 'junction_graphql_operations_total',
      help: 'GraphQL operations by name and outcome (success, partial, error).',
      labelNames: ['operation', 'outcome'],
      registers,
    });
    this.operationDuration = new Histogram({
      name: 'junction_graphql_operation_duration_seconds',
      help: 'GraphQL operation duration.',
      labelNames: ['operation'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.operationsInFlight = new Gauge({
      name: 'junction_graphql_operations_in_flight',
      help: 'GraphQL operations whose context is live (deadline timer set, loaders built), subscriptions included.',
      labelNames: ['transport'],
      registers,
    });
    this.refusals = new Counter({
      name: 'junction_graphql_refused_total',
      help: 'Requests refused before any operation ran: clientRateLimit, maxSubscriptions, maxConnectionsPerViewer.',
      labelNames: ['reason', 'transport'],
      registers,
    });
    this.webhooksReceived = new Counter({
      name: 'junction_webhooks_received_total',
      help: 'Webhook deliveries whose signature verified.',
      labelNames: ['provider'],
      registers,
    });
    this.webhooksRejected = new Counter({
      name: 'junction_webhooks_rejected_total',
      help: 'Webhook deliveries refused, by reason.',
      labelNames: ['provider', 'reason'],
      registers,
    });
    this.pausesClamped = new Counter({
      name: 'junction_upstream_pause_clamped_total',
      help: 'Provider rate-limit headers that asked for a pause longer than RATE_LIMIT_MAX_PAUSE_MS (or an implausible one), by header name.',
      labelNames: ['provider', 'header'],
      registers,
    });
    this.webhooksDuplicate = new Counter({
      name: 'junction_webhooks_duplicates_total',
      help: 'Verified webhook events already processed (acknowledged, no effect).',
      labelNames: ['provider'],
      registers,
    });
    this.shed = new Counter({
      name: 'junction_load_shed_total',
      help: 'Requests (and WebSocket upgrades and operations) refused with 503 / SERVICE_OVERLOADED while overloaded, by the measure over its threshold.',
      labelNames: ['reason', 'transport'],
      registers,
    });
    this.secretReloads = new Counter({
      name: 'junction_secret_reloads_total',
      help: 'Secret files read again with a different content, by variable and outcome: changed (in use), invalid or unreadable (the old value stays).',
      labelNames: ['secret', 'outcome'],
      registers,
    });
    this.webhooksUnusable = new Counter({
      name: 'junction_webhooks_unusable_total',
      help: 'Verified webhook events with nothing Junction could use (acknowledged, so never retried; no effect).',
      labelNames: ['provider'],
      registers,
    });
  }

  /** Gauges read from the live pipelines at scrape time: in-flight requests, tokens left, current rate. */
  watchPipelines(pipelines: Record<string, Pipeline>): void {
    const entries = () => Object.entries(pipelines);
    new Gauge({
      name: 'junction_upstream_inflight',
      help: 'Upstream requests in flight (holding a concurrency slot).',
      labelNames: ['provider'],
      registers: [this.registry],
      collect() {
        for (const [provider, p] of entries()) this.set({ provider }, p.concurrency.activeCount);
      },
    });
    new Gauge({
      name: 'junction_upstream_queued',
      help: 'Upstream requests waiting for a concurrency slot.',
      labelNames: ['provider'],
      registers: [this.registry],
      collect() {
        for (const [provider, p] of entries()) this.set({ provider }, p.concurrency.pendingCount);
      },
    });
    new Gauge({
      name: 'junction_ratelimit_tokens',
      help: 'Rate-limit tokens left in the bucket.',
      labelNames: ['provider'],
      registers: [this.registry],
      collect() {
        for (const [provider, p] of entries()) if (p.limiter) this.set({ provider }, p.limiter.tokens);
      },
    });
    new Gauge({
      name: 'junction_upstream_throttle_pause_seconds',
      help: 'Seconds left of a pause a provider imposed (Retry-After, exhausted RateLimit window); 0 when calls flow.',
      labelNames: ['provider'],
      registers: [this.registry],
      collect() {
        for (const [provider, p] of entries())
          if (p.limiter) this.set({ provider }, p.limiter.pauseRemainingMs / 1000);
      },
    });
    new Gauge({
      name: 'junction_upstream_throttle_rate_ratio',
      help: 'Current rate-limit rate over the configured one: 1 when unthrottled, lower while the provider slows us.',
      labelNames: ['provider'],
      registers: [this.registry],
      collect() {
        for (const [provider, p] of entries())
          if (p.limiter)
            this.set({ provider }, p.limiter.currentRatePerSecond / p.limiter.configuredRatePerSecond);
      },
    });
    new Gauge({
      name: 'junction_ratelimit_rate_per_second',
      help: 'Current token refill rate (lowered by provider throttling signals).',
      labelNames: ['provider'],
      registers: [this.registry],
      collect() {
        for (const [provider, p] of entries())
          if (p.limiter) this.set({ provider }, p.limiter.currentRatePerSecond);
      },
    });
  }

  /** Gauges read from the load shedder at scrape time: whether it sheds, and the measures it decides on. */
  watchLoad(shedder: LoadGaugeSource): void {
    const registers = [this.registry];
    new Gauge({
      name: 'junction_load_shedding',
      help: '1 while new requests are shed (a load-shedding threshold is exceeded), else 0.',
      registers,
      collect() {
        this.set(shedder.state().underPressure ? 1 : 0);
      },
    });
    new Gauge({
      name: 'junction_load_event_loop_delay_seconds',
      help: 'Mean event-loop delay over the last load-shedding sample (LOAD_SHED_MAX_EVENT_LOOP_DELAY_MS compares against it).',
      registers,
      collect() {
        const ms = shedder.state().eventLoopDelayMs;
        this.set(Number.isFinite(ms) ? ms / 1000 : -1);
      },
    });
    new Gauge({
      name: 'junction_load_event_loop_utilization_ratio',
      help: 'Event-loop utilisation over the last load-shedding sample, 0..1.',
      registers,
      collect() {
        this.set(shedder.state().eventLoopUtilization);
      },
    });
  }

  /**
   * Shared state (Redis): whether it answers, its state changes, and the replicas alive. Read at
   * scrape time from `source` (the state module's health), so a scrape never waits on Redis.
   */
  watchSharedState(source: { health(): { redis: 'off' | 'up' | 'degraded'; replicas: number } }): void {
    const registers = [this.registry];
    new Gauge({
      name: 'junction_redis_up',
      help: '1 while Redis (REDIS_URL) answers, 0 while degraded (local state in use), -1 when REDIS_URL is unset.',
      registers,
      collect() {
        const { redis } = source.health();
        this.set(redis === 'off' ? -1 : redis === 'up' ? 1 : 0);
      },
    });
    new Gauge({
      name: 'junction_replicas',
      help: 'Live Junction replicas sharing this Redis, as last seen by this one (1 without Redis).',
      registers,
      collect() {
        this.set(source.health().replicas);
      },
    });
    this.redisChanges = new Counter({
      name: 'junction_redis_state_changes_total',
      help: 'Redis state changes seen by this replica, by new state.',
      labelNames: ['state'],
      registers,
    });
  }

  private redisChanges: Counter<'state'> | undefined;

  /** One Redis state change (up or degraded). */
  redisStateChange(state: 'up' | 'degraded'): void {
    this.redisChanges?.inc({ state });
  }

  /** A request, upgrade or WebSocket operation refused by load shedding. */
  loadShed(reason: string, transport: 'http' | 'ws'): void {
    this.shed.inc({ reason, transport });
  }

  /** A secret file was read again and differed (`secret` is the variable name, never the value). */
  secretReload(secret: string, outcome: 'changed' | 'invalid' | 'unreadable'): void {
    this.secretReloads.inc({ secret, outcome });
  }

  /** A provider header was cut to RATE_LIMIT_MAX_PAUSE_MS (`header` is one of the rate-limit header names). */
  pauseClamped(provider: string, header: string): void {
    this.pausesClamped.inc({ provider, header });
  }

  upstreamAttempt(info: UpstreamCallInfo, error: UpstreamError | undefined): void {
    const outcome =
      info.outcome === 'success'
        ? 'success'
        : info.outcome === 'cancelled'
          ? 'cancelled'
          : (error?.code ?? 'error');
    this.upstreamRequests.inc({ provider: info.provider, route: info.route, outcome });
    this.upstreamDuration.observe({ provider: info.provider, route: info.route }, info.durationMs / 1000);
  }

  retry(provider: string, route: string): void {
    this.upstreamRetries.inc({ provider, route });
  }

  circuit(provider: string, group: string, state: keyof typeof CIRCUIT_VALUE): void {
    this.circuitState.set({ provider, group }, CIRCUIT_VALUE[state]);
  }

  /** `shared_hit`: this replica's cache missed and the second level (Redis) answered. */
  cache(provider: string, outcome: 'hit' | 'miss' | 'stale' | 'shared_hit'): void {
    this.cacheEvents.inc({ provider, outcome });
  }

  throttled(provider: string, waitMs: number): void {
    if (waitMs > 0) this.throttleWait.inc({ provider }, waitMs / 1000);
  }

  /**
   * Counts a finished operation. Its name becomes a label only when `mayClaimName` (it passed every
   * edge rule and ran, for a signed-in viewer) or when that name already is one; else `other`.
   */
  operation(
    name: string | null | undefined,
    outcome: 'success' | 'partial' | 'error',
    durationMs: number,
    options: { mayClaimName: boolean },
  ): void {
    const operation = this.operationLabel(name, options.mayClaimName);
    this.operations.inc({ operation, outcome });
    this.operationDuration.observe({ operation }, durationMs / 1000);
  }

  /** An operation's context was built (+1) or disposed (-1). */
  operationInFlight(transport: 'http' | 'ws', delta: 1 | -1): void {
    this.operationsInFlight.inc({ transport }, delta);
  }

  /** A request refused before it ran, by a per-client limit (`reason` is the limit's name). */
  refused(
    reason: 'clientRateLimit' | 'maxSubscriptions' | 'maxConnectionsPerViewer',
    transport: 'http' | 'ws',
  ): void {
    this.refusals.inc({ reason, transport });
  }

  webhookReceived(provider: string): void {
    this.webhooksReceived.inc({ provider });
  }

  webhookRejected(provider: string, reason: string): void {
    this.webhooksRejected.inc({ provider, reason });
  }

  webhookDuplicate(provider: string): void {
    this.webhooksDuplicate.inc({ provider });
  }

  webhookUnusable(provider: string, count = 1): void {
    this.webhooksUnusable.inc({ provider }, count);
  }

  /** Prometheus text exposition. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * Client-chosen names are labels only while well-formed and among the first MAX_OPERATION_NAMES
   * claimed, and only operations allowed to claim one (see `operation`) add to those.
   */
  private operationLabel(name: string | null | undefined, mayClaim: boolean): string {
    if (!name) return 'anonymous';
    if (!OPERATION_NAME.test(name)) return 'invalid';
    if (this.operationNames.has(name)) return name;
    if (!mayClaim || this.operationNames.size >= MAX_OPERATION_NAMES) return 'other';
    this.operationNames.add(name);
    return name;
  }
}
