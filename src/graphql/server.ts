// The GraphQL server on an HTTP server: the schema, the edge (one rule list for both transports),
// Apollo Server, the per-request context, the playground, the /graphql route and the WebSocket.
import { ApolloServer } from '@apollo/server';
import {
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import type { KeyValueCache } from '@apollo/utils.keyvaluecache';
import { fastifyApolloDrainPlugin, fastifyApolloHandler } from '@as-integrations/fastify';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GraphQLError } from 'graphql';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { ConnectedAccounts } from '../accounts/connectedAccounts.js';
import type { Metrics } from '../observability/metrics.js';
import type { Tracing } from '../observability/tracing.js';
import type { Clients, Services } from '../providers/registry.js';
import type { Secret } from '../secrets.js';
import type { IdempotencyStore, PushBus } from '../state/index.js';
import { loadAllowlist } from './allowlist.js';
import { createContextFactory, type GraphQLContext } from './context.js';
import { createEdge, type Edge } from './edge.js';
import { ClientRateLimiter } from './edgeRateLimit.js';
import { createRouterSecretCheck, ROUTER_SECRET_HEADER } from './federation.js';
import type { EdgeLimits } from './limits.js';
import { createOperationReporter, operationPlugin, type UpstreamReportMode } from './operationPlugin.js';
import { registerPlayground } from './playground.js';
import { buildSchema } from './schema.js';
import { attachSubscriptions, type SubscriptionServer } from './subscriptions.js';
import { type ClientTokenOptions, createViewerVerifier, isInvalidTokenError, mintToken } from './viewer.js';

/** The parts of the configuration the GraphQL server reads. */
export interface GraphQLServerSettings {
  isProduction: boolean;
  jwt: ClientTokenOptions & { isDemoSecret: boolean };
  graphql: {
    operationTimeoutMs: number;
    introspection: boolean;
    playground: boolean;
    batching: boolean;
    upstreamReport: UpstreamReportMode;
    allowlistPath: string | undefined;
    limits: EdgeLimits;
    ws: { maxSubscriptions: number; maxConnectionsPerViewer: number };
  };
  clientRateLimit: { perMinute: number; costPerRequest: number };
  federation: { routerSecret: Secret<string> | undefined };
}

export interface GraphQLServerDeps {
  server: FastifyInstance;
  settings: GraphQLServerSettings;
  services: Services;
  clients: Clients;
  /** Subscription pushes (shared by replicas with Redis). */
  pubsub: PushBus;
  /** Results of idempotent mutations (sendSms, sendEmail), per viewer and key. */
  idempotency: IdempotencyStore;
  /** Automatic persisted queries' documents (shared by replicas with Redis); unused in allowlist mode. */
  apqCache: KeyValueCache<string>;
  /** Where per-client request budgets are counted (shared by replicas with Redis). */
  clientLimitStore: (options: { points: number; durationSeconds: number }) => RateLimiterAbstract;
  metrics: Metrics;
  tracing: Tracing | undefined;
  logger: FastifyBaseLogger;
  /** Load shedding: Retry-After seconds while new work is refused, undefined otherwise. */
  overloaded?: () => number | undefined;
  accounts: ConnectedAccounts;
  /** Whether cookies must be Secure (Junction served over https). */
  secureCookies: () => boolean;
}

export interface GraphQLServer {
  edge: Edge;
  subscriptions: SubscriptionServer;
  /** The demo admin token (sub usr_0001) in demo mode; undefined otherwise. */
  demoToken: string | undefined;
}

/** The per-client budget's window: CLIENT_RATE_LIMIT_PER_MINUTE is counted per minute. */
const CLIENT_LIMIT_WINDOW_SECONDS = 60;

/** Lifetime of the demo admin token: 24 h (capped by JWT_MAX_TOKEN_LIFETIME_SECONDS). */
export const DEMO_TOKEN_TTL_SECONDS = 24 * 3600;

export async function registerGraphQL(deps: GraphQLServerDeps): Promise<GraphQLServer> {
  const { server, settings, metrics, tracing } = deps;
  const schema = buildSchema({ restrictServiceSdl: settings.isProduction });
  const allowlist = settings.graphql.allowlistPath
    ? loadAllowlist(settings.graphql.allowlistPath)
    : undefined;
  // The edge: one list of rules for every operation, over HTTP and the WebSocket (graphql/edge.ts).
  const edge = createEdge({
    schema,
    limits: settings.graphql.limits,
    introspection: settings.graphql.introspection,
    // In production: no "Did you mean ...?" suggestions, unexpected errors masked.
    hideSuggestions: settings.isProduction,
    maskUnexpected: settings.isProduction,
    allowlist,
    rateLimiter:
      settings.clientRateLimit.perMinute > 0
        ? new ClientRateLimiter({
            perMinute: settings.clientRateLimit.perMinute,
            costPerRequest: settings.clientRateLimit.costPerRequest,
            store: deps.clientLimitStore({
              points: settings.clientRateLimit.perMinute,
              durationSeconds: CLIENT_LIMIT_WINDOW_SECONDS,
            }),
          })
        : undefined,
    onRateLimited: (transport) => metrics.refused('clientRateLimit', transport),
    apqCache: deps.apqCache,
  });
  const reporter = createOperationReporter({
    metrics,
    reportMode: settings.graphql.upstreamReport,
    reportAdminsOnly: settings.isProduction,
    tracing,
  });
  const apollo = new ApolloServer<GraphQLContext>({
    schema,
    // main.ts owns SIGTERM/SIGINT (readiness delay, then drain); Apollo's own handlers would stop
    // serving at once and re-send the signal.
    stopOnTerminationSignals: false,
    csrfPrevention: true,
    introspection: edge.apollo.introspection,
    includeStacktraceInErrorResponses: !settings.isProduction,
    allowBatchedHttpRequests: settings.graphql.batching,
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
      operationPlugin(reporter, settings.graphql.upstreamReport),
    ],
  });
  await apollo.start();

  const verifyViewer = createViewerVerifier(settings.jwt);
  const contextFactory = createContextFactory({
    services: deps.services,
    clients: deps.clients,
    pushes: deps.pubsub,
    idempotency: deps.idempotency,
    accounts: deps.accounts,
    verifyViewer,
    operationTimeoutMs: settings.graphql.operationTimeoutMs,
    admit: edge.admit,
    onOperation: (transport, delta) => metrics.operationInFlight(transport, delta),
  });
  // Re-built only when ROUTER_SECRET_FILE changes (the check hashes the secret once).
  const routerCheck = settings.federation.routerSecret?.map((secret) => createRouterSecretCheck(secret));
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
        browser: {
          origin: `${request.protocol}://${request.host}`,
          secureCookies: deps.secureCookies(),
          setCookie: (value) => void reply.header('set-cookie', value),
        },
      });
      return built;
    } catch (error) {
      if (isInvalidTokenError(error)) {
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
    settings.jwt.isDemoSecret && settings.jwt.secret
      ? await mintToken(settings.jwt.secret.current(), {
          sub: 'usr_0001',
          admin: true,
          // Never longer than the verifier accepts.
          ttlSeconds: Math.min(DEMO_TOKEN_TTL_SECONDS, settings.jwt.maxTokenLifetimeSeconds),
        })
      : undefined;
  await registerPlayground(server, { path: '/graphql', enabled: settings.graphql.playground, demoToken });
  server.route({
    url: '/graphql',
    method: ['GET', 'POST', 'OPTIONS'],
    handler: fastifyApolloHandler(apollo, { context }),
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
    logger: deps.logger,
    isProduction: settings.isProduction,
    maxSubscriptions: settings.graphql.ws.maxSubscriptions,
    maxConnectionsPerViewer: settings.graphql.ws.maxConnectionsPerViewer,
    overloaded: deps.overloaded,
    onRefused: (reason) => metrics.refused(reason, 'ws'),
  });

  return { edge, subscriptions, demoToken };
}
