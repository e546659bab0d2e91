// Builds the HTTP server, Apollo Server, routes and process-wide services from a config.
// No I/O at import; `buildApp` starts nothing listening (main.ts or a test does).
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { ApolloServer } from '@apollo/server';
import {
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { fastifyApolloDrainPlugin, fastifyApolloHandler } from '@as-integrations/fastify';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import { GraphQLError } from 'graphql';
import type { Logger } from 'pino';
import { mintToken } from './cli/token.js';
import type { Config } from './config.js';
import { loadAllowlist } from './graphql/allowlist.js';
import { createContextFactory, type GraphQLContext, type Services } from './graphql/context.js';
import { createEdge, type Edge } from './graphql/edge.js';
import { ClientRateLimiter } from './graphql/edgeRateLimit.js';
import { createRouterSecretCheck, ROUTER_SECRET_HEADER } from './graphql/federation.js';
import { registerPlayground } from './graphql/playground.js';
import { buildSchema } from './graphql/schema.js';
import { attachSubscriptions, type SubscriptionServer } from './graphql/subscriptions.js';
import { createViewerVerifier, InvalidTokenError } from './graphql/viewer.js';
import { type LoadShedder, registerLoadShedding } from './loadShedding.js';
import { createLogger } from './observability/logger.js';
import { Metrics } from './observability/metrics.js';
import { createOperationReporter, operationPlugin } from './observability/operationPlugin.js';
import {
  type CheckResult,
  collectFileSecrets,
  type ReloadTrigger,
  reportSecretChanges,
  SecretFiles,
} from './secretFiles.js';
import { toSecret } from './secrets.js';
import { createServices, type ProviderEndpoints } from './services.js';
import { ResponseCache } from './upstream/cache.js';
import { ProviderHealth } from './upstream/health.js';
import { PoolRegistry } from './upstream/pools.js';
import { EventDeduper } from './webhooks/dedupe.js';
import { PubSub } from './webhooks/pubsub.js';
import { registerWebhookRoutes } from './webhooks/routes.js';
import { sendgridPublicKey } from './webhooks/verifySendGrid.js';

export type { ProviderEndpoints };

export interface AppOptions {
  config: Config;
  endpoints: ProviderEndpoints;
  /** Default: a pino logger at `config.logLevel` on stdout. */
  logger?: Logger;
  /** Default: a fresh registry (tests read it). */
  metrics?: Metrics;
}

export interface App {
  server: FastifyInstance;
  services: Services;
  health: ProviderHealth;
  cache: ResponseCache;
  pools: PoolRegistry;
  logger: Logger;
  pubsub: PubSub;
  metrics: Metrics;
  /** The edge's rules (the same list for HTTP and the WebSocket). */
  edge: Edge;
  /** The WebSocket server (graphql-ws). */
  subscriptions: SubscriptionServer;
  /** Load shedding: its state, and whether new work is refused now. */
  load: LoadShedder;
  /** Re-reads every secret given as a file now (main.ts calls it on SIGHUP); watched and polled anyway. */
  reloadSecrets(trigger?: ReloadTrigger): Promise<CheckResult[]>;
  /** The demo admin token (sub usr_0001, 24 h or JWT_MAX_TOKEN_LIFETIME_SECONDS if shorter) in demo mode; undefined otherwise. */
  demoToken: string | undefined;
  /** Where providers reach this Junction (Twilio callbacks and their signatures); known after listen in demo mode. */
  setPublicBaseUrl(url: string): void;
  /** From now on /readyz answers 503 (balancers stop sending traffic); requests are still served. Idempotent. */
  beginDrain(): void;
  /**
   * Stops accepting, drains requests in flight, ends WebSockets with 1012 (service restart: graphql-ws
   * clients reconnect, to another replica), then closes upstream pools. Idempotent.
   */
  close(): Promise<void>;
}

/** Lifetime of the demo admin token: 24 h (capped by JWT_MAX_TOKEN_LIFETIME_SECONDS). */
export const DEMO_TOKEN_TTL_SECONDS = 24 * 3600;

/** WebSocket close on shutdown: 1012 "service restart" tells graphql-ws clients to reconnect. */
export const SHUTDOWN_CLOSE_CODE = 1012;
export const SHUTDOWN_CLOSE_REASON = 'service restart: reconnect';

/**
 * How often Node looks for requests past their timeouts. Its default (30 s) would let a slow client
 * hold a socket up to twice HTTP_REQUEST_TIMEOUT_MS; a quarter of the timeout keeps the overshoot small.
 */
export function connectionsCheckingIntervalMs(requestTimeoutMs: number): number {
  return Math.min(5_000, Math.max(25, Math.floor(requestTimeoutMs / 4)));
}

/** Request ids we accept from clients: short and inert; anything else is replaced. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export async function buildApp(options: AppOptions): Promise<App> {
  const { config, endpoints } = options;
  const logger = options.logger ?? createLogger(config.logLevel);

  // Process-wide: built once, shared by every request, closed on shutdown.
  const pools = new PoolRegistry({
    connections: config.upstream.connections,
    keepAliveTimeoutMs: config.upstream.keepAliveTimeoutMs,
    connectTimeoutMs: config.upstream.connectTimeoutMs,
    headersTimeoutMs: config.upstream.attemptTimeoutMs,
    bodyTimeoutMs: config.upstream.attemptTimeoutMs,
  });
  const metrics = options.metrics ?? new Metrics();
  const cache = new ResponseCache({
    maxBytes: config.cache.maxBytes,
    onOutcome: (p, o) => metrics.cache(p, o),
  });
  const health = new ProviderHealth();
  const services = createServices({ config, endpoints, pools, cache, health, logger, metrics });
  metrics.watchPipelines(services.pipelines);
  health.watchPipelines(services.pipelines);
  const pubsub = new PubSub();
  const deduper = new EventDeduper();
  let publicBaseUrl = config.publicBaseUrl ?? endpoints.twilio.publicBaseUrl;
  const setPublicBaseUrl = (url: string) => {
    publicBaseUrl = url;
    services.settings.smsStatusCallbackUrl = new URL('/webhooks/twilio', url).toString();
  };
  if (publicBaseUrl) setPublicBaseUrl(publicBaseUrl);

  const server: FastifyInstance = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // One log line per GraphQL operation is written by Junction itself; Fastify's two lines per
    // request would double the logging cost for no information.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024, // 1 MiB
    forceCloseConnections: 'idle',
    // Slow clients (one header byte every few seconds) are cut: the whole request, headers
    // included, must arrive within requestTimeout; idle keep-alive sockets close after keepAliveTimeout.
    requestTimeout: config.http.requestTimeoutMs,
    keepAliveTimeout: config.http.keepAliveTimeoutMs,
    http: { connectionsCheckingInterval: connectionsCheckingIntervalMs(config.http.requestTimeoutMs) },
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
  });
  // Node requires headersTimeout <= requestTimeout; its default (60 s) would exceed a short one.
  server.server.headersTimeout = config.http.requestTimeoutMs;
  // A connection that never sends a byte has no request yet, so neither timeout covers it: an idle
  // timer does until its first request (an upgraded WebSocket clears it too: ws resets it).
  server.server.on('connection', (socket: Socket) => socket.setTimeout(config.http.requestTimeoutMs));
  server.server.on('request', (request: IncomingMessage) => {
    if (request.socket.timeout) request.socket.setTimeout(0); // then Node's own timeouts take over
  });
  server.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id);
  });
  // Registered before every route: an overloaded process refuses new work before reading it.
  const load = await registerLoadShedding(server, {
    limits: config.loadShedding,
    onShed: (reason, transport) => metrics.loadShed(reason, transport),
  });
  metrics.watchLoad(load);
  // Secrets given as files are re-read when they change; consumers read them per use.
  const secretFiles = new SecretFiles({
    secrets: collectFileSecrets(config),
    pollIntervalMs: config.secrets.pollIntervalMs,
    observer: reportSecretChanges(logger, metrics),
  });
  secretFiles.start();
  // Draining: every answer closes its connection, so kept-alive clients reconnect (through the
  // balancer, to another replica) and the sockets of requests in flight end with their response
  // instead of holding the shutdown open.
  let draining = false;
  // (A callback hook: no promise per response on the hot path.)
  server.addHook('onSend', (_request, reply, payload, done) => {
    if (draining) void reply.header('connection', 'close');
    done(null, payload);
  });

  const schema = buildSchema({ restrictServiceSdl: config.isProduction });
  const allowlist = config.graphql.allowlistPath ? loadAllowlist(config.graphql.allowlistPath) : undefined;
  // The edge: one list of rules for every operation, over HTTP and the WebSocket (graphql/edge.ts).
  const edge = createEdge({
    schema,
    limits: config.graphql.limits,
    introspection: config.graphql.introspection,
    // In production: no "Did you mean ...?" suggestions, unexpected errors masked.
    hideSuggestions: config.isProduction,
    maskUnexpected: config.isProduction,
    allowlist,
    rateLimiter:
      config.clientRateLimit.perMinute > 0
        ? new ClientRateLimiter({
            perMinute: config.clientRateLimit.perMinute,
            costPerRequest: config.clientRateLimit.costPerRequest,
          })
        : undefined,
    onRateLimited: (transport) => metrics.refused('clientRateLimit', transport),
  });
  const reporter = createOperationReporter({
    metrics,
    reportMode: config.graphql.upstreamReport,
    reportAdminsOnly: config.isProduction,
  });
  const apollo = new ApolloServer<GraphQLContext>({
    schema,
    // main.ts owns SIGTERM/SIGINT (readiness delay, then drain); Apollo's own handlers would stop
    // serving at once and re-send the signal.
    stopOnTerminationSignals: false,
    csrfPrevention: true,
    introspection: edge.apollo.introspection,
    includeStacktraceInErrorResponses: !config.isProduction,
    allowBatchedHttpRequests: config.graphql.batching,
    persistedQueries: edge.apollo.persistedQueries,
    validationRules: edge.apollo.validationRules,
    parseOptions: edge.apollo.parseOptions,
    formatError: edge.apollo.formatError,
    plugins: [
      ...edge.apollo.plugins,
      fastifyApolloDrainPlugin(server),
      // Federated inline traces (ftv1) would hand resolver timings to anyone sending one header.
      ApolloServerPluginInlineTraceDisabled(),
      // Apollo's landing page loads its explorer from a CDN; Junction serves its own (playground.ts).
      ApolloServerPluginLandingPageDisabled(),
      operationPlugin(reporter, config.graphql.upstreamReport),
    ],
  });
  await apollo.start();

  const verifyViewer = createViewerVerifier(config.jwt);
  const contextFactory = createContextFactory({
    services,
    pubsub,
    verifyViewer,
    operationTimeoutMs: config.graphql.operationTimeoutMs,
    admit: edge.admit,
    onOperation: (transport, delta) => metrics.operationInFlight(transport, delta),
  });
  // Re-built only when ROUTER_SECRET_FILE changes (the check hashes the secret once).
  const routerCheck = config.federation.routerSecret?.map((secret) => createRouterSecretCheck(secret));
  const isRouter = (presented: string | string[] | undefined) => routerCheck?.current()(presented) ?? false;
  const context = async (request: FastifyRequest, reply: FastifyReply): Promise<GraphQLContext> => {
    const controller = new AbortController();
    let built: GraphQLContext | undefined;
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) controller.abort(new Error('client disconnected'));
      // Backstop: a request Apollo refuses before any plugin runs (a batch when batching is off, a
      // malformed body) never reaches the operation plugin that releases its context.
      built?.dispose();
    });
    try {
      built = await contextFactory({
        requestId: request.id,
        authorization: request.headers.authorization,
        routerAuthenticated: isRouter(request.headers[ROUTER_SECRET_HEADER]),
        clientSignal: controller.signal,
        logger: request.log,
        transport: 'http',
        clientAddress: request.ip,
      });
      return built;
    } catch (error) {
      if (error instanceof InvalidTokenError) {
        throw new GraphQLError(error.message, {
          originalError: error,
          extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } },
        });
      }
      throw error;
    }
  };
  // Browsers asking for a page get the offline GraphiQL explorer; every other request on
  // /graphql (POST, ?query=, JSON clients) still reaches Apollo below.
  // Demo mode only: one admin token, printed by main.ts and pre-filled in the playground.
  const demoToken =
    config.jwt.isDemoSecret && config.jwt.secret
      ? await mintToken(config.jwt.secret.current(), {
          sub: 'usr_0001',
          admin: true,
          // Never longer than the verifier accepts.
          ttlSeconds: Math.min(DEMO_TOKEN_TTL_SECONDS, config.jwt.maxTokenLifetimeSeconds),
        })
      : undefined;
  await registerPlayground(server, { path: '/graphql', enabled: config.graphql.playground, demoToken });
  server.route({
    url: '/graphql',
    method: ['GET', 'POST', 'OPTIONS'],
    handler: fastifyApolloHandler(apollo, { context }),
  });

  await registerWebhookRoutes(server, {
    services,
    pubsub,
    deduper,
    observer: {
      received: (provider) => metrics.webhookReceived(provider),
      rejected: (provider, reason) => metrics.webhookRejected(provider, reason),
      duplicate: (provider) => metrics.webhookDuplicate(provider),
      unusable: (provider, count) => metrics.webhookUnusable(provider, count),
    },
    secrets: webhookSecrets(endpoints, () => publicBaseUrl),
  });
  const subscriptions = attachSubscriptions({
    server: server.server,
    path: '/graphql',
    schema,
    apollo,
    createContext: contextFactory,
    verifyViewer,
    formatError: edge.formatError,
    reporter,
    logger: logger as FastifyBaseLogger,
    isProduction: config.isProduction,
    maxSubscriptions: config.graphql.ws.maxSubscriptions,
    maxConnectionsPerViewer: config.graphql.ws.maxConnectionsPerViewer,
    onRefused: (reason) => metrics.refused(reason, 'ws'),
    overloaded: () => {
      const overload = load.overloaded();
      if (overload) metrics.loadShed(overload.reason, 'ws');
      return overload?.retryAfterSeconds;
    },
  });

  server.get('/healthz', async () => ({ status: 'ok' }));
  server.get('/metrics', async (_request, reply) =>
    reply.type(metrics.contentType).send(await metrics.text()),
  );
  server.get('/readyz', async (_request, reply) => {
    // A provider outage does not make Junction unready: it still serves every other field. Nor does
    // shedding (loadShedding.ts): it is shown, and the replica stays in the balancer.
    const loadShedding = load.state();
    if (draining)
      return reply.code(503).send({ status: 'draining', providers: health.snapshot(), loadShedding });
    return { status: 'ready', providers: health.snapshot(), loadShedding };
  });

  const beginDrain = () => {
    draining = true;
  };
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      draining = true;
      secretFiles.close();
      await Promise.all([
        // Stops accepting, waits for requests in flight (new ones on kept-alive sockets get 503), stops Apollo.
        server.close(),
        // Upgraded sockets would hold server.close() open: end them, telling clients to reconnect.
        subscriptions.close(SHUTDOWN_CLOSE_CODE, SHUTDOWN_CLOSE_REASON),
      ]);
      // No client request is left waiting: what is still in flight upstream (a shared batch whose
      // waiters gave up, a background refresh) has nobody to answer, so cut it rather than wait.
      await pools.destroy();
    })();
    return closing;
  };

  return {
    server,
    services,
    health,
    cache,
    pools,
    logger,
    pubsub,
    metrics,
    edge,
    subscriptions,
    load,
    reloadSecrets: (trigger = 'manual') => secretFiles.check(trigger),
    demoToken,
    setPublicBaseUrl,
    beginDrain,
    close,
  };
}

/**
 * What verifies webhook deliveries, read per delivery: the current secrets and, during
 * WEBHOOK_SECRET_GRACE_SECONDS after a rotation, the replaced ones.
 */
function webhookSecrets(endpoints: ProviderEndpoints, publicBaseUrl: () => string | undefined) {
  const stripe = toSecret('STRIPE_WEBHOOK_SECRET', endpoints.stripe.webhookSecrets);
  const twilio = toSecret('TWILIO_AUTH_TOKEN', endpoints.twilio.authToken);
  const sendgrid =
    endpoints.sendgrid.webhookPublicKey === undefined
      ? undefined
      : toSecret('SENDGRID_WEBHOOK_PUBLIC_KEY', endpoints.sendgrid.webhookPublicKey).map(sendgridPublicKey);
  return {
    stripeSecrets: () => stripe.accepted().flat(),
    twilioAuthTokens: () => twilio.accepted(),
    publicBaseUrl,
    sendgridPublicKeys: () => sendgrid?.accepted() ?? [],
  };
}
