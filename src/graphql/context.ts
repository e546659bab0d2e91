// Per-request context: the viewer from the JWT, fresh DataLoaders, the operation's cancellation
// signal and deadline, and the process-wide services it may use.
import { setMaxListeners } from 'node:events';
import type { FastifyBaseLogger as Logger } from 'fastify';
import type { DocumentNode } from 'graphql';
import type { ConnectedAccounts } from '../accounts/connectedAccounts.js';
import type { TraceCarrier } from '../observability/tracing.js';
import { UpstreamReport } from '../observability/upstreamReport.js';
import {
  type Clients,
  type ProviderLoaders,
  type ProviderName,
  providerModules,
  type Services,
} from '../providers/registry.js';
import type { IdempotencyStore, PushBus } from '../state/index.js';
import { deadlineSignal } from '../upstream/abort.js';
import type { CallContext } from '../upstream/callContext.js';
import type { Viewer, ViewerVerifier } from './viewer.js';

export type { Services };
/** The per-operation DataLoaders every provider module contributes (`user`, `customer`...). */
export type Loaders = ProviderLoaders;

/** The HTTP response of an operation sent by a browser over HTTP (absent on the WebSocket). */
export interface BrowserExchange {
  /** The origin the client reached Junction at (`http://localhost:4000`), from the request. */
  origin: string;
  /** Whether cookies set now must be Secure (Junction served over https). */
  secureCookies: boolean;
  /** Adds a `Set-Cookie` header to the response. */
  setCookie(value: string): void;
}

/** Which transport carries an operation, and what the edge hands the WebSocket adapter. */
export interface OperationTransport {
  readonly kind: 'http' | 'ws';
  /** Set by the edge once a subscription passed every rule on the WebSocket: what to subscribe to. */
  subscription?: { document: DocumentNode; operationName: string | null };
}

export interface GraphQLContext {
  requestId: string;
  viewer: Viewer | null;
  /** The request carried ROUTER_SECRET (federation.ts): it may read `_service` in production. */
  routerAuthenticated: boolean;
  transport: OperationTransport;
  /** Whom per-client limits count against: `viewer:<id>`, else `address:<client address>`. */
  clientKey: string;
  /**
   * Rate-limit points the admission stage already charged this request (before the cost was
   * known); the edge's cost stage charges the rest and sets it to 0. Shared by a batch's operations.
   */
  admission: { prepaidPoints: number };
  /** Aborts when the client goes away or the operation's deadline passes. */
  signal: AbortSignal;
  /** Epoch ms. */
  deadline: number;
  /** What every upstream call of this operation is given. */
  upstream: CallContext;
  loaders: Loaders;
  services: Services;
  report: UpstreamReport;
  logger: Logger;
  /** The push bus feeding subscriptions (every replica's pushes, with Redis). */
  pushes: PushBus;
  /** Results of idempotent mutations, per scope and key (shared by replicas, with Redis). */
  idempotency: IdempotencyStore;
  /** Users' connections to providers (per-user OAuth). */
  accounts: ConnectedAccounts;
  /** The HTTP response, for what only HTTP can carry (cookies); undefined on the WebSocket. */
  browser: BrowserExchange | undefined;
  /** Releases the deadline timer only (a subscription, once established, outlives any deadline). */
  releaseDeadline: () => void;
  /** Releases the operation's deadline timer once the response is sent, or the subscription ends. Idempotent. */
  dispose: () => void;
  /** Where the WebSocket found the caller's `traceparent`; HTTP operations read Apollo's request headers. */
  traceCarrier?: TraceCarrier | undefined;
}

export interface ContextFactoryOptions {
  /** The clients by capability, as resolvers see them. */
  services: Services;
  /** The same clients by provider name, for the modules' loaders. */
  clients: Clients;
  pushes: PushBus;
  idempotency: IdempotencyStore;
  accounts: ConnectedAccounts;
  verifyViewer: ViewerVerifier;
  /** Overall deadline of one operation, in ms. */
  operationTimeoutMs: number;
  /**
   * The edge's admission stage, run once the viewer is known and before anything is built for the
   * request: throws a GraphQLError to refuse it, else returns the rate-limit points it charged.
   */
  admit?: (client: { key: string; transport: OperationTransport['kind'] }) => Promise<number>;
  /** Told when an operation's context is built and when it is disposed (the in-flight gauge). */
  onOperation?: (transport: OperationTransport['kind'], delta: 1 | -1) => void;
}

export interface RequestFacts {
  requestId: string;
  authorization: string | undefined;
  /** The request carried ROUTER_SECRET; absent (the WebSocket) means it did not. */
  routerAuthenticated?: boolean;
  /** Aborted when the HTTP client disconnects (the socket closes, the subscription ends). */
  clientSignal: AbortSignal;
  logger: Logger;
  /** Default `http`. */
  transport?: OperationTransport['kind'];
  /** The client's network address: anonymous requests are rate-limited by it. */
  clientAddress?: string | undefined;
  /** The caller's W3C trace context, when the transport is not plain HTTP (the WebSocket). */
  traceCarrier?: TraceCarrier | undefined;
  /** The HTTP response (HTTP only). */
  browser?: BrowserExchange | undefined;
}

export function createContextFactory(options: ContextFactoryOptions) {
  return async (facts: RequestFacts): Promise<GraphQLContext> => {
    const viewer = await options.verifyViewer(facts.authorization);
    const transport: OperationTransport = { kind: facts.transport ?? 'http' };
    const clientKey = viewer ? `viewer:${viewer.id}` : `address:${facts.clientAddress ?? 'unknown'}`;
    // Admission before anything is allocated: a refused request costs no loaders and no timer.
    const prepaidPoints = (await options.admit?.({ key: clientKey, transport: transport.kind })) ?? 0;
    const deadline = Date.now() + options.operationTimeoutMs;
    const deadlineTimer = deadlineSignal(options.operationTimeoutMs);
    const signal = AbortSignal.any([facts.clientSignal, deadlineTimer.signal]);
    // Every load of the operation listens on this one signal; dozens of listeners are expected.
    setMaxListeners(0, signal);
    const report = new UpstreamReport();
    const upstream: CallContext = {
      signal,
      deadline,
      requestId: facts.requestId,
      onCall: (info) => report.recordCall(info),
      onCache: (provider, outcome) => report.recordCache(provider, outcome),
      onThrottle: (provider, waitedMs) => report.recordThrottle(provider, waitedMs),
    };
    options.onOperation?.(transport.kind, 1);
    let disposed = false;
    return {
      requestId: facts.requestId,
      viewer,
      routerAuthenticated: facts.routerAuthenticated ?? false,
      transport,
      clientKey,
      admission: { prepaidPoints },
      signal,
      deadline,
      upstream,
      loaders: createLoaders(options.clients, upstream),
      services: options.services,
      report,
      logger: facts.logger,
      pushes: options.pushes,
      idempotency: options.idempotency,
      accounts: options.accounts,
      browser: facts.browser,
      releaseDeadline: deadlineTimer.cancel,
      traceCarrier: facts.traceCarrier,
      dispose: () => {
        deadlineTimer.cancel();
        if (disposed) return;
        disposed = true;
        options.onOperation?.(transport.kind, -1);
      },
    };
  };
}

/** Fresh loaders for one operation, from every module that contributes some. */
function createLoaders(clients: Clients, call: CallContext): Loaders {
  const loaders: Record<string, unknown> = {};
  for (const module of providerModules) {
    Object.assign(loaders, module.createLoaders?.(clients[module.name as ProviderName], call));
  }
  return loaders as Loaders;
}
