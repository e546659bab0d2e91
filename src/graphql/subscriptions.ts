// GraphQL subscriptions over the graphql-ws protocol on WebSocket /graphql, sharing the HTTP
// server, the schema and the context factory. The bearer token comes from connectionParams
// (`authorization`) or the upgrade request's Authorization header; a bad token refuses the socket.
import type { Server } from 'node:http';
import type { GraphQLSchema } from 'graphql';
import { useServer as serveGraphQLOverWebSocket } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { GraphQLContext, RequestFacts } from './context.js';
import { InvalidTokenError } from './viewer.js';

export interface SubscriptionServerOptions {
  server: Server;
  schema: GraphQLSchema;
  path: string;
  createContext: (facts: RequestFacts) => Promise<GraphQLContext>;
  logger: RequestFacts['logger'];
  isProduction: boolean;
}

export function attachSubscriptions(options: SubscriptionServerOptions): {
  /** Ends every socket with `code` and `reason` (default 1001 "server shutting down"). */
  close(code?: number, reason?: string): Promise<void>;
} {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const onUpgrade = (
    request: import('node:http').IncomingMessage,
    socket: import('node:stream').Duplex,
    head: Buffer,
  ) => {
    const pathname = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (pathname !== options.path) {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
  };
  options.server.on('upgrade', onUpgrade);

  const authorizationOf = (params: Record<string, unknown> | undefined, headers: Record<string, unknown>) => {
    const fromParams = params?.authorization ?? params?.Authorization;
    if (typeof fromParams === 'string') return fromParams;
    return typeof headers.authorization === 'string' ? headers.authorization : undefined;
  };

  const disposable = serveGraphQLOverWebSocket<Record<string, unknown>, { controller: AbortController }>(
    {
      schema: options.schema,
      isProd: options.isProduction,
      onConnect: async (ctx) => {
        // Verify up front, so a bad token is refused at connection time (close code 4403).
        try {
          const probe = await options.createContext({
            requestId: `ws-${Date.now().toString(36)}`,
            authorization: authorizationOf(ctx.connectionParams, ctx.extra.request.headers),
            clientSignal: new AbortController().signal,
            logger: options.logger,
          });
          return probe.viewer !== null;
        } catch (error) {
          if (error instanceof InvalidTokenError) return false;
          throw error;
        }
      },
      context: async (ctx) => {
        const controller = new AbortController();
        ctx.extra.socket.once('close', () => controller.abort(new Error('socket closed')));
        return options.createContext({
          requestId: `ws-${Date.now().toString(36)}`,
          authorization: authorizationOf(ctx.connectionParams, ctx.extra.request.headers),
          clientSignal: controller.signal,
          logger: options.logger,
        });
      },
    },
    wss,
  );

  return {
    async close(code = 1001, reason = 'server shutting down') {
      options.server.off('upgrade', onUpgrade);
      for (const client of wss.clients) client.close(code, reason);
      await disposable.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
