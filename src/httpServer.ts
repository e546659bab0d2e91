// The HTTP server every route shares: request ids, slow-client timeouts, and the draining switch
// shutdown flips (from then on every answer closes its connection).
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';

export interface HttpServerOptions {
  logger: Logger;
  /** HTTP_REQUEST_TIMEOUT_MS: time a client has to send a whole request, headers included. */
  requestTimeoutMs: number;
  /** HTTP_KEEPALIVE_TIMEOUT_MS: idle kept-alive connection lifetime. */
  keepAliveTimeoutMs: number;
}

export interface HttpServer {
  server: FastifyInstance;
  /** True once shutdown began: /readyz answers 503 and every answer closes its connection. */
  isDraining(): boolean;
  beginDrain(): void;
}

/**
 * How often Node looks for requests past their timeouts. Its default (30 s) would let a slow client
 * hold a socket up to twice HTTP_REQUEST_TIMEOUT_MS; a quarter of the timeout keeps the overshoot small.
 */
export function connectionsCheckingIntervalMs(requestTimeoutMs: number): number {
  return Math.min(5_000, Math.max(25, Math.floor(requestTimeoutMs / 4)));
}

/** Request ids we accept from clients: short and inert; anything else is replaced. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function createHttpServer(options: HttpServerOptions): HttpServer {
  const server: FastifyInstance = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    // One log line per GraphQL operation is written by Junction itself; Fastify's two lines per
    // request would double the logging cost for no information.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024, // 1 MiB
    forceCloseConnections: 'idle',
    // Slow clients (one header byte every few seconds) are cut: the whole request, headers
    // included, must arrive within requestTimeout; idle keep-alive sockets close after keepAliveTimeout.
    requestTimeout: options.requestTimeoutMs,
    keepAliveTimeout: options.keepAliveTimeoutMs,
    http: { connectionsCheckingInterval: connectionsCheckingIntervalMs(options.requestTimeoutMs) },
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
  });
  // Node requires headersTimeout <= requestTimeout; its default (60 s) would exceed a short one.
  server.server.headersTimeout = options.requestTimeoutMs;
  // A connection that never sends a byte has no request yet, so neither timeout covers it: an idle
  // timer does until its first request (an upgraded WebSocket clears it too: ws resets it).
  server.server.on('connection', (socket: Socket) => socket.setTimeout(options.requestTimeoutMs));
  server.server.on('request', (request: IncomingMessage) => {
    if (request.socket.timeout) request.socket.setTimeout(0); // then Node's own timeouts take over
  });
  server.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id);
  });
  // Draining: every answer closes its connection, so kept-alive clients reconnect (through the
  // balancer, to another replica) and the sockets of requests in flight end with their response
  // instead of holding the shutdown open.
  let draining = false;
  // (A callback hook: no promise per response on the hot path.)
  server.addHook('onSend', (_request, reply, payload, done) => {
    if (draining) void reply.header('connection', 'close');
    done(null, payload);
  });
  return {
    server,
    isDraining: () => draining,
    beginDrain: () => {
      draining = true;
    },
  };
}
