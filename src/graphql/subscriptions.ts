// GraphQL over the WebSocket (graphql-ws protocol) on /graphql, sharing the HTTP server. Every
// operation, subscriptions included, runs through the same Apollo pipeline as HTTP
// (`executeOperation`): the edge's rules (edge.ts), persisted queries, error formatting and
// masking, the operation log line and metrics, the deadline. Queries and mutations are answered by
// Apollo; a subscription that passed every rule comes back unexecuted and graphql-js subscribes to
// it here. graphql-ws is given no schema of its own: nothing reaches graphql-js that Apollo did
// not admit.
//
// Per socket: the viewer is verified once, at connection_init (a missing or bad token: close 4403);
// the socket is closed with 4403 the moment the token expires; at most `maxSubscriptions`
// operations run on it at once (beyond: an error for that subscribe, the socket stays); a viewer
// holds at most `maxConnectionsPerViewer` sockets (beyond: the new one is closed with 4429).
// While Junction sheds load (loadShedding.ts), as over HTTP: an upgrade is answered 503 with
// Retry-After, and a subscribe message gets SERVICE_OVERLOADED; what already runs keeps running.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ApolloServer } from '@apollo/server';
import type { FastifyBaseLogger as Logger } from 'fastify';
import {
  type ExecutionArgs,
  type FormattedExecutionResult,
  GraphQLError,
  type GraphQLFormattedError,
  type GraphQLSchema,
  parse,
  subscribe as subscribeWithGraphQL,
} from 'graphql';
import { useServer as serveGraphQLOverWebSocket } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { pickTraceCarrier } from '../observability/tracing.js';
import type { GraphQLContext, RequestFacts } from './context.js';
import { type FormatError, formatGraphQLErrors, rateLimited, serviceOverloaded } from './errors.js';
import type { OperationReporter } from './operationPlugin.js';
import { isInvalidTokenError, type Viewer, type ViewerVerifier } from './viewer.js';

/** graphql-ws close codes Junction uses (4403 is graphql-ws's own "Forbidden"). */
export const WS_CLOSE = {
  /** No token, a bad one, or one that just expired. */
  forbidden: 4403,
  /** The viewer already holds GRAPHQL_WS_MAX_CONNECTIONS_PER_VIEWER sockets. */
  tooManyConnections: 4429,
} as const;

export interface SubscriptionServerOptions {
  server: Server;
  path: string;
  schema: GraphQLSchema;
  /** Runs every operation (the same instance, plugins and rules as HTTP). */
  apollo: ApolloServer<GraphQLContext>;
  createContext: (facts: RequestFacts) => Promise<GraphQLContext>;
  verifyViewer: ViewerVerifier;
  /** The edge's formatter, for errors that did not pass through Apollo (a subscription's events). */
  formatError: FormatError;
  reporter: OperationReporter;
  logger: Logger;
  isProduction: boolean;
  /** Operations in flight per socket (subscriptions, and queries still running). */
  maxSubscriptions: number;
  /** Open sockets per viewer. */
  maxConnectionsPerViewer: number;
  /** Told of every refusal by a socket cap. */
  onRefused?: (reason: 'maxSubscriptions' | 'maxConnectionsPerViewer') => void;
  /** Load shedding: Retry-After seconds while new work is refused, undefined otherwise. Default: never. */
  overloaded?: () => number | undefined;
}

export interface SubscriptionServer {
  /** Sockets open, operations running on them, listeners on those sockets (for tests and diagnostics). */
  stats(): { sockets: number; operations: number; socketListeners: number };
  /** Ends every socket with `code` and `reason` (default 1001 "server shutting down"). */
  close(code?: number, reason?: string): Promise<void>;
}

interface OperationState {
  /** Aborted when the operation ends (the client completes it, or it finishes). */
  controller: AbortController;
  context?: GraphQLContext;
  started: number;
  operationName: string | null;
  subscription: boolean;
  /** A query's or mutation's answer from Apollo, sent as is by onNext. */
  answer?: FormattedExecutionResult<Record<string, unknown>>;
  /** What a subscription's events carried, for its log line (bounded). */
  errors: GraphQLFormattedError[];
  hasData: boolean;
  finished: boolean;
}

interface SocketState {
  viewer: Viewer;
  authorization: string | undefined;
  address: string | undefined;
  /** Aborted when the socket closes: every operation's signal follows it. */
  controller: AbortController;
  operations: Map<string, OperationState>;
  expiryTimer: NodeJS.Timeout | undefined;
}

/** An error formatted in onSubscribe: graphql-ws only takes GraphQLError instances, onError sends this. */
class PreformattedError extends GraphQLError {
  constructor(readonly formatted: GraphQLFormattedError) {
    super(formatted.message);
  }
}

/** setTimeout's longest delay; a token living longer is re-checked at that interval. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** A subscription's log line keeps at most this many error codes. */
const MAX_RECORDED_ERRORS = 20;
/** graphql-ws picks execute() by the document's operation type; Apollo already ran the real one. */
const ANSWERED_BY_APOLLO = parse('query AnsweredByApollo { __typename }');

export function attachSubscriptions(options: SubscriptionServerOptions): SubscriptionServer {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const pathname = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (pathname !== options.path) {
      socket.destroy();
      return;
    }
    const retryAfter = options.overloaded?.();
    if (retryAfter !== undefined) {
      const body = JSON.stringify({
        errors: [formatGraphQLErrors([serviceOverloaded(retryAfter)], options.formatError)[0]],
      });
      socket.end(
        `HTTP/1.1 503 Service Unavailable\r\nRetry-After: ${retryAfter}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
  };
  options.server.on('upgrade', onUpgrade);

  const sockets = new WeakMap<object, SocketState>();
  const openSockets = new Set<SocketState>();
  const socketsPerViewer = new Map<string, number>();
  /** Execution arguments Apollo admitted: the only ones graphql-js is allowed to run. */
  const admitted = new WeakSet<ExecutionArgs>();

  const authorizationOf = (
    params: Record<string, unknown> | undefined,
    headers: IncomingMessage['headers'],
  ) => {
    const fromParams = params?.authorization ?? params?.Authorization;
    if (typeof fromParams === 'string') return fromParams;
    return typeof headers.authorization === 'string' ? headers.authorization : undefined;
  };

  /** Closes the socket with 4403 when the token expires: from then on nothing is sent on it. */
  const armExpiry = (state: SocketState, close: (code: number, reason: string) => void) => {
    const expiresAt = state.viewer.expiresAt;
    if (expiresAt === undefined) return;
    const remaining = expiresAt - Date.now();
    if (remaining <= 0) {
      state.controller.abort(new Error('token expired'));
      close(WS_CLOSE.forbidden, 'Token expired');
      return;
    }
    state.expiryTimer = setTimeout(() => armExpiry(state, close), Math.min(remaining, MAX_TIMER_MS));
    state.expiryTimer.unref();
  };

  /** Formats errors now; onError sends them as they are. */
  const refuse = (errors: readonly unknown[]): GraphQLError[] =>
    formatGraphQLErrors(errors, options.formatError).map((formatted) => new PreformattedError(formatted));

  /** Reports and releases an operation once, whichever comes first: its completion or the socket's close. */
  const finish = (state: SocketState, id: string) => {
    const operation = state.operations.get(id);
    state.operations.delete(id);
    if (!operation || operation.finished) return;
    operation.finished = true;
    operation.controller.abort(new Error('operation complete'));
    const context = operation.context;
    // Queries and mutations were reported and released by Apollo's plugin when they were answered.
    if (!context || !operation.subscription) return;
    context.dispose();
    options.reporter.finish({
      context,
      operationName: operation.operationName,
      durationMs: performance.now() - operation.started,
      errors: operation.errors,
      hasData: operation.hasData,
      admitted: true,
    });
  };

  const record = (operation: OperationState | undefined, errors: readonly GraphQLFormattedError[]) => {
    if (!operation) return;
    for (const error of errors) {
      if (operation.errors.length >= MAX_RECORDED_ERRORS) break;
      operation.errors.push(error);
    }
  };

  const disposable = serveGraphQLOverWebSocket<Record<string, unknown>>(
    {
      isProd: options.isProduction,
      onConnect: async (ctx) => {
        let viewer: Viewer | null;
        try {
          viewer = await options.verifyViewer(
            authorizationOf(ctx.connectionParams, ctx.extra.request.headers),
          );
        } catch (error) {
          if (isInvalidTokenError(error)) return false; // 4403
          throw error;
        }
        if (!viewer) return false;
        // Closed while the token was verified: graphql-ws already ran onClose, so count nothing.
        if (ctx.extra.socket.readyState !== ctx.extra.socket.OPEN) return false;
        const open = socketsPerViewer.get(viewer.id) ?? 0;
        if (open >= options.maxConnectionsPerViewer) {
          options.onRefused?.('maxConnectionsPerViewer');
          ctx.extra.socket.close(WS_CLOSE.tooManyConnections, 'Too many connections for this viewer');
          return false;
        }
        socketsPerViewer.set(viewer.id, open + 1);
        const state: SocketState = {
          viewer,
          authorization: authorizationOf(ctx.connectionParams, ctx.extra.request.headers),
          address: ctx.extra.request.socket.remoteAddress,
          controller: new AbortController(),
          operations: new Map(),
          expiryTimer: undefined,
        };
        sockets.set(ctx, state);
        openSockets.add(state);
        armExpiry(state, (code, reason) => ctx.extra.socket.close(code, reason));
        return true;
      },

      onSubscribe: async (ctx, id, payload) => {
        const state = sockets.get(ctx);
        if (!state) return [new GraphQLError('The connection is not initialised')];
        const retryAfter = options.overloaded?.();
        if (retryAfter !== undefined) return refuse([serviceOverloaded(retryAfter)]);
        if (state.operations.size >= options.maxSubscriptions) {
          options.onRefused?.('maxSubscriptions');
          return refuse([
            rateLimited(
              `Too many operations on this socket: at most ${options.maxSubscriptions} may run at once; complete one first`,
              { limit: 'maxSubscriptions' },
            ),
          ]);
        }
        // The slot is taken before anything is awaited, so a burst of messages cannot overshoot it.
        const operation: OperationState = {
          controller: new AbortController(),
          started: performance.now(),
          operationName: null,
          subscription: false,
          errors: [],
          hasData: false,
          finished: false,
        };
        state.operations.set(id, operation);
        const requestId = randomUUID();
        let context: GraphQLContext;
        try {
          context = await options.createContext({
            requestId,
            authorization: state.authorization,
            clientSignal: AbortSignal.any([state.controller.signal, operation.controller.signal]),
            logger: options.logger.child({ reqId: requestId }),
            transport: 'ws',
            clientAddress: state.address,
            // The caller's trace: the operation's own extensions, else the connection's params or upgrade headers.
            traceCarrier: pickTraceCarrier(
              payload.extensions,
              ctx.connectionParams,
              ctx.extra.request.headers,
            ),
          });
        } catch (error) {
          state.operations.delete(id);
          return refuse([error]); // RATE_LIMITED, or UNAUTHENTICATED once the token expired
        }
        operation.context = context;
        // graphql-ws requires a `query` string: an empty one with a persisted query hash means "by hash".
        const byHash = payload.query === '' && payload.extensions?.persistedQuery !== undefined;
        let response: Awaited<ReturnType<typeof options.apollo.executeOperation>>;
        try {
          response = await options.apollo.executeOperation(
            {
              query: byHash ? undefined : payload.query,
              variables: payload.variables ?? undefined,
              operationName: payload.operationName ?? undefined,
              extensions: payload.extensions ?? undefined,
            },
            { contextValue: context },
          );
        } catch (error) {
          context.dispose();
          state.operations.delete(id);
          throw error; // graphql-ws closes the socket with 1011, masked in production
        }
        if (operation.finished) {
          // The socket closed while Apollo ran it: nobody is left to answer.
          context.dispose();
          return refuse([new GraphQLError('The connection closed')]);
        }
        const subscription = context.transport.subscription;
        if (subscription) {
          operation.subscription = true;
          operation.operationName = subscription.operationName;
          const args: ExecutionArgs = {
            schema: options.schema,
            document: subscription.document,
            operationName: subscription.operationName,
            variableValues: payload.variables ?? undefined,
            contextValue: context,
          };
          admitted.add(args);
          return args;
        }
        const answer = response.body.kind === 'single' ? response.body.singleResult : undefined;
        if (!answer || answer.data === undefined) {
          // Refused before execution (parse, validation, an edge rule): an `error` message, as HTTP's 4xx.
          state.operations.delete(id);
          const errors = answer?.errors ?? [
            {
              message: 'Incremental delivery is not served over the WebSocket',
              extensions: { code: 'BAD_REQUEST' },
            },
          ];
          return errors.map((error) => new PreformattedError(error));
        }
        operation.answer = answer as FormattedExecutionResult<Record<string, unknown>>;
        const args: ExecutionArgs = {
          schema: options.schema,
          document: ANSWERED_BY_APOLLO,
          contextValue: context,
        };
        admitted.add(args);
        return args;
      },

      // Queries and mutations: Apollo already answered; onNext sends that answer.
      execute: (args) =>
        admitted.has(args) ? {} : { errors: [new GraphQLError('Operation not admitted by the edge')] },

      subscribe: async (args) => {
        if (!admitted.has(args)) return { errors: [new GraphQLError('Operation not admitted by the edge')] };
        const result = await subscribeWithGraphQL(args);
        // The stream outlives any deadline: release the operation's timer once it is established.
        (args.contextValue as GraphQLContext).releaseDeadline();
        return result;
      },

      onNext: (ctx, id, _payload, _args, result) => {
        const state = sockets.get(ctx);
        const operation = state?.operations.get(id);
        if (operation?.answer) {
          const answer = operation.answer;
          operation.answer = undefined;
          return answer;
        }
        // A subscription's event (or its subscribe call's own errors): formatted as Apollo would.
        if (result.data !== undefined && result.data !== null && operation) operation.hasData = true;
        if (!result.errors) return undefined;
        if (operation?.context) options.reporter.logUnexpected(result.errors, operation.context);
        const errors = formatGraphQLErrors(result.errors, options.formatError);
        record(operation, errors);
        const { errors: _raw, ...rest } = result;
        return { ...rest, errors };
      },

      onError: (ctx, id, _payload, errors) => {
        if (errors.every((error): error is PreformattedError => error instanceof PreformattedError))
          return errors.map((error) => error.formatted);
        // Thrown while a subscription's stream was read.
        const operation = sockets.get(ctx)?.operations.get(id);
        if (operation?.context) options.reporter.logUnexpected(errors, operation.context);
        const formatted = formatGraphQLErrors(errors, options.formatError);
        record(operation, formatted);
        return formatted;
      },

      onComplete: (ctx, id) => {
        const state = sockets.get(ctx);
        if (state) finish(state, id);
      },

      onClose: (ctx) => {
        const state = sockets.get(ctx);
        if (!state) return;
        sockets.delete(ctx);
        openSockets.delete(state);
        clearTimeout(state.expiryTimer);
        state.controller.abort(new Error('socket closed'));
        const open = (socketsPerViewer.get(state.viewer.id) ?? 1) - 1;
        if (open > 0) socketsPerViewer.set(state.viewer.id, open);
        else socketsPerViewer.delete(state.viewer.id);
        for (const id of [...state.operations.keys()]) finish(state, id);
      },
    },
    wss,
  );

  return {
    stats() {
      let operations = 0;
      for (const state of openSockets) operations += state.operations.size;
      let socketListeners = 0;
      for (const client of wss.clients)
        for (const event of client.eventNames()) socketListeners += client.listenerCount(event);
      return { sockets: openSockets.size, operations, socketListeners };
    },
    async close(code = 1001, reason = 'server shutting down') {
      options.server.off('upgrade', onUpgrade);
      for (const client of wss.clients) client.close(code, reason);
      await disposable.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
