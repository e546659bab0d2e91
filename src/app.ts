// Composes Junction from a config: the process-wide services (pools, cache, health, metrics, the
// providers' clients), the HTTP server, the GraphQL server, webhook intake and the operations
// routes, and the shutdown order. No I/O at import; `buildApp` starts nothing listening.
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { registerOAuthCallback } from './accounts/callbackRoute.js';
import type { ConnectedAccounts } from './accounts/connectedAccounts.js';
import { type AccountsOptions, prepareAccounts } from './accountsSetup.js';
import type { Config } from './config.js';
import type { Edge } from './graphql/edge.js';
import { registerGraphQL } from './graphql/server.js';
import type { SubscriptionServer } from './graphql/subscriptions.js';
import { createHttpServer } from './httpServer.js';
import { type LoadShedder, registerLoadShedding } from './loadShedding.js';
import { createLogger } from './observability/logger.js';
import { Metrics } from './observability/metrics.js';
import { createTracing, logExportHealth, type Tracing } from './observability/tracing.js';
import {
  type CheckResult,
  collectFileSecrets,
  type ReloadTrigger,
  reportSecretChanges,
  SecretFiles,
} from './secretFiles.js';
import { type BuiltServices, createServices, type ProviderEndpoints } from './services.js';
import { createSharedState, type PushBus, type SharedState } from './state/index.js';
import { ResponseCache } from './upstream/cache.js';
import { ProviderHealth } from './upstream/health.js';
import { PoolRegistry } from './upstream/pools.js';
import { registerWebhookRoutes } from './webhooks/routes.js';

export type { ProviderEndpoints };

export interface AppOptions {
  config: Config;
  endpoints: ProviderEndpoints;
  /** Default: a pino logger at `config.logLevel` on stdout. */
  logger?: Logger;
  /** Default: a fresh registry (tests read it). */
  metrics?: Metrics;
  /**
   * Default: built from `config.tracing` (none when it is off). Shut down by `close()`. Give the
   * logger the same one (createServiceLogger) for trace ids on its lines, as main.ts does.
   */
  tracing?: Tracing | undefined;
  /** Connected accounts' database, keys and demo state; default from `config.accounts` (accountsSetup.ts). */
  accounts?: AccountsOptions | undefined;
  /** What replicas share; default from `config.state` (Redis with REDIS_URL, else in-process). Closed by `close()`. */
  state?: SharedState | undefined;
}

export interface App {
  server: FastifyInstance;
  /** The provider clients: by capability (as resolvers see them), by name, and their pipelines. */
  services: BuiltServices;
  /** Users' connections to providers (per-user OAuth). */
  accounts: ConnectedAccounts;
  health: ProviderHealth;
  cache: ResponseCache;
  pools: PoolRegistry;
  logger: Logger;
  /** Subscription pushes: `state.pushes` (through Redis to every replica's subscribers, with REDIS_URL). */
  pubsub: PushBus;
  /** What replicas share through Redis (in-process stores without REDIS_URL). */
  state: SharedState;
  metrics: Metrics;
  /** OpenTelemetry traces; undefined when off. */
  tracing: Tracing | undefined;
  /** The edge's rules (the same list for HTTP and the WebSocket). */
  edge: Edge;
  /** The WebSocket server (graphql-ws). */
  subscriptions: SubscriptionServer;
  /** The demo admin token (sub usr_0001, 24 h or JWT_MAX_TOKEN_LIFETIME_SECONDS if shorter) in demo mode; undefined otherwise. */
  demoToken: string | undefined;
  /** Where providers reach this Junction (Twilio callbacks and their signatures); known after listen in demo mode. */
  setPublicBaseUrl(url: string): void;
  /** Load shedding: its state, and whether new work is refused now. */
  load: LoadShedder;
  /** Re-reads every secret given as a file now (main.ts calls it on SIGHUP); watched and polled anyway. */
  reloadSecrets(trigger?: ReloadTrigger): Promise<CheckResult[]>;
  /** From now on /readyz answers 503 (balancers stop sending traffic); requests are still served. Idempotent. */
  beginDrain(): void;
  /**
   * Stops accepting, drains requests in flight, ends WebSockets with 1012 (service restart: graphql-ws
   * clients reconnect, to another replica), then closes upstream pools. Idempotent.
   */
  close(): Promise<void>;
}

/** WebSocket close on shutdown: 1012 "service restart" tells graphql-ws clients to reconnect. */
export const SHUTDOWN_CLOSE_CODE = 1012;
export const SHUTDOWN_CLOSE_REASON = 'service restart: reconnect';

export async function buildApp(options: AppOptions): Promise<App> {
  const { config, endpoints } = options;
  const logger = options.logger ?? createLogger(config.logLevel);
  const tracing = options.tracing ?? (await createTracing(config.tracing));
  if (tracing) logExportHealth(tracing, logger);

  // Process-wide: built once, shared by every request, closed on shutdown.
  const pools = new PoolRegistry({
    connections: config.upstream.connections,
    keepAliveTimeoutMs: config.upstream.keepAliveTimeoutMs,
    connectTimeoutMs: config.upstream.connectTimeoutMs,
    headersTimeoutMs: config.upstream.attemptTimeoutMs,
    bodyTimeoutMs: config.upstream.attemptTimeoutMs,
  });
  const metrics = options.metrics ?? new Metrics();
  // Shared state first: a starting replica waits (bounded) for Redis, so it shares budgets from its
  // first request; a Redis that is down does not stop startup (local state until it answers).
  const state =
    options.state ??
    createSharedState(config.state, {
      logger,
      onStateChange: (change) => metrics.redisStateChange(change.state),
    });
  metrics.watchSharedState(state);
  await state.start();
  const cache = new ResponseCache({
    maxBytes: config.cache.maxBytes,
    onOutcome: (p, o) => metrics.cache(p, o),
  });
  const health = new ProviderHealth();
  // Where providers reach this Junction: PUBLIC_BASE_URL, or (demo mode) the listen URL once known.
  let publicBaseUrl = config.publicBaseUrl;
  const accountsSetup = prepareAccounts(config.accounts, {
    ...options.accounts,
    publicBaseUrl: () => publicBaseUrl,
    logger,
  });
  const services = createServices({
    config,
    endpoints,
    pools,
    cache,
    health,
    logger,
    metrics,
    publicBaseUrl: () => publicBaseUrl,
    tracing,
    accounts: accountsSetup.credentials,
    state,
  });
  const accounts = accountsSetup.connect(services.clients, endpoints);
  // The OAuth flow's browser-binding cookie is Secure when Junction is served over https.
  const secureCookies = () => publicBaseUrl?.startsWith('https:') ?? false;
  metrics.watchPipelines(services.pipelines);
  health.watchPipelines(services.pipelines);
  const pubsub = state.pushes;

  const http = createHttpServer({
    logger,
    requestTimeoutMs: config.http.requestTimeoutMs,
    keepAliveTimeoutMs: config.http.keepAliveTimeoutMs,
  });
  const { server } = http;
  // Registered before every route: an overloaded process refuses new work before reading it.
  const load = await registerLoadShedding(server, {
    limits: config.loadShedding,
    onShed: (reason, transport) => metrics.loadShed(reason, transport),
  });
  metrics.watchLoad(load);
  // Secrets given as files are re-read when they change; consumers read them per use.
  const secretFiles = new SecretFiles({
    secrets: collectFileSecrets(config, endpoints),
    pollIntervalMs: config.secrets.pollIntervalMs,
    observer: reportSecretChanges(logger, metrics),
  });
  secretFiles.start();
  const graphql = await registerGraphQL({
    server,
    settings: config,
    services: services.services,
    clients: services.clients,
    pubsub,
    idempotency: state.idempotency,
    apqCache: state.apqCache,
    clientLimitStore: (limit) => state.clientLimitStore(limit),
    metrics,
    tracing,
    logger: logger as FastifyBaseLogger,
    overloaded: () => {
      const overload = load.overloaded();
      if (overload) metrics.loadShed(overload.reason, 'ws');
      return overload?.retryAfterSeconds;
    },
    accounts,
    secureCookies,
  });
  registerOAuthCallback(server, { accounts: () => accounts, secureCookies });
  await registerWebhookRoutes(server, {
    clients: services.clients,
    endpoints,
    pushes: pubsub,
    dedupe: state.dedupe,
    publicBaseUrl: () => publicBaseUrl,
    tracing,
    observer: {
      received: (provider) => metrics.webhookReceived(provider),
      rejected: (provider, reason) => metrics.webhookRejected(provider, reason),
      duplicate: (provider) => metrics.webhookDuplicate(provider),
      unusable: (provider, count) => metrics.webhookUnusable(provider, count),
    },
  });
  server.get('/healthz', async () => ({ status: 'ok' }));
  server.get('/metrics', async (_request, reply) =>
    reply.type(metrics.contentType).send(await metrics.text()),
  );
  server.get('/readyz', async (_request, reply) => {
    // A provider outage does not make Junction unready: it still serves every other field. Nor does
    // shedding (loadShedding.ts): it is shown, and the replica stays in the balancer.
    // Nor does Redis: a replica without it serves from local state (sharedState.redis 'degraded').
    const loadShedding = load.state();
    const sharedState = state.health();
    if (http.isDraining())
      return reply
        .code(503)
        .send({ status: 'draining', providers: health.snapshot(), loadShedding, sharedState });
    return { status: 'ready', providers: health.snapshot(), loadShedding, sharedState };
  });

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      http.beginDrain();
      secretFiles.close();
      await Promise.all([
        // Stops accepting, waits for requests in flight (new ones on kept-alive sockets get 503), stops Apollo.
        server.close(),
        // Upgraded sockets would hold server.close() open: end them, telling clients to reconnect.
        graphql.subscriptions.close(SHUTDOWN_CLOSE_CODE, SHUTDOWN_CLOSE_REASON),
      ]);
      // No client request is left waiting: what is still in flight upstream (a shared batch whose
      // waiters gave up, a background refresh) has nobody to answer, so cut it rather than wait.
      await pools.destroy();
      await accountsSetup.close();
      await state.close(); // leaves the replica registry, closes the Redis connection
      await tracing?.shutdown(); // exports the spans still queued
    })();
    return closing;
  };

  return {
    server,
    services,
    accounts,
    health,
    cache,
    pools,
    logger,
    pubsub,
    state,
    metrics,
    tracing,
    edge: graphql.edge,
    subscriptions: graphql.subscriptions,
    demoToken: graphql.demoToken,
    setPublicBaseUrl: (url) => {
      publicBaseUrl = url;
    },
    load,
    reloadSecrets: (trigger = 'manual') => secretFiles.check(trigger),
    beginDrain: http.beginDrain,
    close,
  };
}
