// Process-wide provider clients, built once at startup from the config and the resolved endpoints:
// undici pools, the shared cache, auth strategies and (per provider) the resilience pipeline.
import type { Logger } from 'pino';
import type { Config, SendGridRemote, StripeRemote, TwilioRemote, UsersRemote } from './config.js';
import type { Services } from './graphql/context.js';
import type { Metrics } from './observability/metrics.js';
import { SENDGRID_PROVIDER, SendGridClient } from './providers/sendgrid/client.js';
import { STRIPE_PROVIDER, StripeClient } from './providers/stripe/client.js';
import { TWILIO_PROVIDER, TwilioClient } from './providers/twilio/client.js';
import { USERS_PROVIDER, UsersClient } from './providers/users/client.js';
import { type Secret, type SecretInput, toSecret } from './secrets.js';
import { BasicAuth, BearerAuth, OAuth2ClientCredentialsAuth } from './upstream/auth.js';
import type { ResponseCache } from './upstream/cache.js';
import type { UpstreamCallInfo } from './upstream/callContext.js';
import type { UpstreamError } from './upstream/errors.js';
import type { ProviderHealth } from './upstream/health.js';
import { createPipeline, type Pipeline } from './upstream/policies/pipeline.js';
import type { PoolRegistry } from './upstream/pools.js';

type Mode = { mode: 'simulator' | 'remote' };

/** A secret field as a Secret (from the config, maybe rotating) or a plain value (a simulator's, a test's). */
type InputOf<T> = T extends Secret<infer V> ? SecretInput<V> : T;
type Endpoint<R> = { [K in keyof R]: InputOf<R[K]> } & Mode;

/** Where each provider actually is: from the environment, or a simulator main.ts started. */
export interface ProviderEndpoints {
  users: Endpoint<UsersRemote>;
  stripe: Endpoint<StripeRemote>;
  twilio: Endpoint<TwilioRemote>;
  sendgrid: Endpoint<SendGridRemote>;
}

export interface ServiceDeps {
  metrics: Metrics;
  config: Config;
  endpoints: ProviderEndpoints;
  pools: PoolRegistry;
  cache: ResponseCache;
  health: ProviderHealth;
  logger: Logger;
}

/**
 * A provider's limit is "N per second": a bucket holding `burst` tokens and refilling at `rate`
 * can grant burst + rate in one second, so split N between them (10 % burst) to never exceed N.
 */
export function bucketFor(limitPerSecond: number, maxWaitMs: number) {
  const burst = Math.max(1, Math.floor(limitPerSecond / 10));
  return { ratePerSecond: Math.max(limitPerSecond - burst, limitPerSecond / 2), burst, maxWaitMs };
}

export function createServices({
  config,
  endpoints,
  pools,
  cache,
  health,
  logger,
  metrics,
}: ServiceDeps): Services {
  for (const [name, endpoint] of [
    [USERS_PROVIDER, endpoints.users],
    [STRIPE_PROVIDER, endpoints.stripe],
    [TWILIO_PROVIDER, endpoints.twilio],
    [SENDGRID_PROVIDER, endpoints.sendgrid],
  ] as const) {
    health.register(name, endpoint.mode);
  }
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
  const common = {
    pools,
    attemptTimeoutMs: config.upstream.attemptTimeoutMs,
    maxResponseBytes: config.upstream.maxResponseBytes,
    maxPauseMs: config.policies.rateLimitMaxPauseMs,
    onAttempt,
  };
  const { policies } = config;
  const pipelines: Record<string, Pipeline> = {};
  const pipelineFor = (
    provider: keyof Config['policies']['ratePerSecond'],
    breakerGroup?: (route: string) => string,
  ) => {
    const pipeline = createPipeline({
      provider,
      retry: policies.retry,
      budget: { ratio: policies.retryBudgetRatio },
      breaker: policies.breaker,
      probeTimeoutMs: policies.breaker.probeTimeoutMs,
      breakerGroup,
      rateLimit: {
        ...bucketFor(policies.ratePerSecond[provider], policies.rateLimitMaxWaitMs),
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
    pipelines[provider] = pipeline;
    health.setCircuit(provider, provider, 'closed');
    metrics.circuit(provider, provider, 'closed');
    return pipeline;
  };

  const users = new UsersClient({
    ...common,
    baseUrl: endpoints.users.apiUrl,
    auth: new OAuth2ClientCredentialsAuth({
      provider: USERS_PROVIDER,
      tokenUrl: endpoints.users.tokenUrl,
      clientId: endpoints.users.clientId,
      clientSecret: toSecret('USERS_CLIENT_SECRET', endpoints.users.clientSecret),
      dispatcher: pools.get(endpoints.users.tokenUrl),
      maxPauseMs: config.policies.rateLimitMaxPauseMs,
    }),
    cache,
    cachePolicy: {
      ttlSeconds: config.usersProvider.cacheTtlSeconds,
      staleWhileRevalidateSeconds: config.usersProvider.staleWhileRevalidateSeconds,
      staleIfErrorSeconds: config.usersProvider.staleIfErrorSeconds,
    },
    maxBatch: config.usersProvider.maxBatch,
    executor: pipelineFor(USERS_PROVIDER),
  });
  const stripe = new StripeClient({
    ...common,
    baseUrl: endpoints.stripe.apiBase,
    auth: new BearerAuth(toSecret('STRIPE_SECRET_KEY', endpoints.stripe.secretKey)),
    cache,
    // Payments (writes) and reads fail for different reasons at Stripe: separate breakers.
    executor: pipelineFor(STRIPE_PROVIDER, (route) =>
      route.startsWith('POST') ? 'stripe:writes' : STRIPE_PROVIDER,
    ),
  });
  const twilio = new TwilioClient({
    ...common,
    baseUrl: endpoints.twilio.apiBase,
    auth: new BasicAuth(
      endpoints.twilio.accountSid,
      toSecret('TWILIO_AUTH_TOKEN', endpoints.twilio.authToken),
    ),
    accountSid: endpoints.twilio.accountSid,
    cache,
    executor: pipelineFor(TWILIO_PROVIDER),
  });
  const sendgrid = new SendGridClient({
    ...common,
    baseUrl: endpoints.sendgrid.apiBase,
    auth: new BearerAuth(toSecret('SENDGRID_API_KEY', endpoints.sendgrid.apiKey)),
    executor: pipelineFor(SENDGRID_PROVIDER),
  });
  return {
    pipelines,
    users,
    stripe,
    twilio,
    sendgrid,
    settings: {
      smsFrom: endpoints.twilio.fromNumber,
      smsStatusCallbackUrl: endpoints.twilio.publicBaseUrl
        ? new URL('/webhooks/twilio', endpoints.twilio.publicBaseUrl).toString()
        : undefined,
      emailFrom: endpoints.sendgrid.fromEmail,
    },
  };
}
