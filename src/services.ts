// Process-wide provider clients, built once at startup from the config and the resolved endpoints:
// for each module of the registry, its resilience pipeline, then its client over the shared
// machinery (undici pools, the shared cache). Nothing here names a provider.
import type { Logger } from 'pino';
import type { UserCredentialSource } from './accounts/provider.js';
import type { Config } from './config.js';
import type { Metrics } from './observability/metrics.js';
import type { AnyProviderModule, ClientDeps, ProviderEndpoint } from './providers/module.js';
import { type Clients, type ProviderName, providerModules, type Services } from './providers/registry.js';
import type { SharedState } from './state/index.js';
import type { ResponseCache } from './upstream/cache.js';
import type { UpstreamCallInfo } from './upstream/callContext.js';
import type { UpstreamError } from './upstream/errors.js';
import type { ProviderHealth } from './upstream/health.js';
import { createPipeline, type Pipeline } from './upstream/policies/pipeline.js';
import type { PoolRegistry } from './upstream/pools.js';
import type { UpstreamTracing } from './upstream/tracing.js';

/** Where each provider actually is: from the environment, or a simulator demo mode started. */
export type ProviderEndpoints = Record<ProviderName, ProviderEndpoint>;

export interface ServiceDeps {
  metrics: Metrics;
  config: Config;
  endpoints: ProviderEndpoints;
  pools: PoolRegistry;
  cache: ResponseCache;
  health: ProviderHealth;
  logger: Logger;
  /** Where providers reach this Junction (callbacks); known only after listen in demo mode. */
  publicBaseUrl: () => string | undefined;
  /** Traces of upstream calls; undefined when tracing is off. */
  tracing?: UpstreamTracing | undefined;
  /** Connected users' credentials, for modules whose calls are made on a user's behalf. */
  accounts: UserCredentialSource;
  /** What replicas share (rate budgets, the second cache level); in-process without REDIS_URL. */
  state?: SharedState | undefined;
}

/** The clients (by capability), by provider name, and each provider's pipeline. */
export interface BuiltServices {
  services: Services;
  clients: Clients;
  /** Each provider's resilience pipeline (breakers, limiter, budget): for readiness and metrics. */
  pipelines: Record<string, Pipeline>;
}

/** Share of a provider's limit kept free for the jitter between our send and the provider's count. */
export const RATE_LIMIT_HEADROOM = 0.05;

/**
 * A provider's limit is "N per second", counted where the requests arrive. A bucket holding `burst`
 * tokens and refilling at `rate` can grant burst + rate in one second, so split N between them
 * (10 % burst, the rest refill) and keep 5 % of N free: requests sent evenly can still arrive
 * bunched (scheduling, the network), and no second at the provider may see more than N.
 */
export function bucketFor(limitPerSecond: number, maxWaitMs: number) {
  const burst = Math.max(1, Math.floor(limitPerSecond / 10));
  const usable = limitPerSecond * (1 - RATE_LIMIT_HEADROOM);
  return { ratePerSecond: Math.max(usable - burst, limitPerSecond / 2), burst, maxWaitMs };
}

export function createServices(deps: ServiceDeps): BuiltServices {
  const { config, endpoints, pools, cache, health, logger, metrics } = deps;
  // With REDIS_URL the response cache gets its second level (shared by replicas); without, none at all.
  if (deps.state?.sharedCache.distributed) cache.attachSecondLevel(deps.state.sharedCache);
  const onAttempt = (info: UpstreamCallInfo, error: UpstreamError | undefined) => {
    health.recordAttempt(info, error);
    metrics.upstreamAttempt(info, error);
    if (error && info.outcome === 'error') {
      logger.warn(
        {
          provider: info.provider,
          route: info.route,
          status: info.status,
          attempt: info.attempt,
          durationMs: info.durationMs,
          code: error.code,
          requestId: info.requestId,
          upstreamRequestId: info.upstreamRequestId,
        },
        'upstream call failed',
      );
    }
  };
  const common: ClientDeps['common'] = {
    pools,
    attemptTimeoutMs: config.upstream.attemptTimeoutMs,
    maxResponseBytes: config.upstream.maxResponseBytes,
    maxPauseMs: config.policies.rateLimitMaxPauseMs,
    onAttempt,
    tracing: deps.tracing,
  };
  const pipelines: Record<string, Pipeline> = {};
  const clients: Record<string, unknown> = {};
  const services: Record<string, unknown> = {};
  for (const module of providerModules) {
    const endpoint = endpoints[module.name as ProviderName];
    health.register(module.name, endpoint.mode);
    const pipeline = pipelineFor(module, endpoint, deps);
    pipelines[module.name] = pipeline;
    const client = module.createClient(endpoint, {
      pools,
      cache,
      executor: pipeline,
      common,
      maxPauseMs: config.policies.rateLimitMaxPauseMs,
      publicBaseUrl: deps.publicBaseUrl,
      logger,
      tracing: deps.tracing,
      accounts: deps.accounts,
    });
    clients[module.name] = client;
    services[module.capability] = client;
  }
  return {
    services: services as Services,
    clients: clients as Clients,
    pipelines,
  };
}

function pipelineFor(module: AnyProviderModule, endpoint: ProviderEndpoint, deps: ServiceDeps): Pipeline {
  const { config, health, logger, metrics } = deps;
  const { policies } = config;
  const provider = module.name;
  const policy = module.policy(endpoint.settings);
  const pipeline = createPipeline({
    provider,
    retry: policies.retry,
    budget: { ratio: policies.retryBudgetRatio },
    breaker: policies.breaker,
    probeTimeoutMs: policies.breaker.probeTimeoutMs,
    breakerGroup: policy.breakerGroup,
    rateLimitScope: policy.rateLimitScope,
    // With REDIS_URL every replica takes from one bucket per provider credential; without, in-process.
    sharedBudget: deps.state?.rateBudget.distributed
      ? { budget: deps.state.rateBudget, replicaCount: () => deps.state?.replicas.count ?? 1 }
      : undefined,
    rateLimit: {
      ...bucketFor(policy.ratePerSecond, policies.rateLimitMaxWaitMs),
      maxPauseMs: policies.rateLimitMaxPauseMs,
      onPauseClamped: (clamp) => {
        metrics.pauseClamped(provider, clamp.header);
        // Once per provider: a provider that keeps sending such headers must not flood the log.
        if (clamp.first) {
          logger.warn(
            { provider, header: clamp.header, unit: clamp.unit, pauseMs: clamp.pauseMs },
            'provider asked for a longer pause than RATE_LIMIT_MAX_PAUSE_MS; clamped (logged once)',
          );
        }
      },
    },
    concurrency: { limit: policies.concurrency, poolConnections: config.upstream.connections },
    onThrottle: (name, waitedMs) => metrics.throttled(name, waitedMs),
    onRetry: (info) => {
      metrics.retry(provider, info.route);
      logger.info(
        {
          provider,
          route: info.route,
          attempt: info.attempt,
          delayMs: Math.round(info.delayMs),
          code: info.error.code,
        },
        'retrying upstream call',
      );
    },
    onStateChange: (state, group) => {
      health.setCircuit(provider, group, state);
      metrics.circuit(provider, group, state);
      logger.warn({ provider, group, circuit: state }, `circuit ${state}`);
    },
  });
  health.setCircuit(provider, provider, 'closed');
  metrics.circuit(provider, provider, 'closed');
  return pipeline;
}
