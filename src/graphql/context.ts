// Per-request context: the viewer from the JWT, fresh DataLoaders, the operation's cancellation
// signal and deadline, and the process-wide services it may use.
import { setMaxListeners } from 'node:events';
import type { FastifyBaseLogger as Logger } from 'fastify';
import { UpstreamReport } from '../observability/upstreamReport.js';
import type { UsersClient } from '../providers/users/client.js';
import { createUserLoader, type UserLoader } from '../providers/users/loaders.js';
import type { CallContext } from '../upstream/callContext.js';
import type { Viewer, ViewerVerifier } from './viewer.js';

/** Process-wide provider clients, built once at startup. */
export interface Services {
  users: UsersClient;
}

export interface Loaders {
  user: UserLoader;
}

export interface GraphQLContext {
  requestId: string;
  viewer: Viewer | null;
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
}

export interface ContextFactoryOptions {
  services: Services;
  verifyViewer: ViewerVerifier;
  /** Overall deadline of one operation, in ms. */
  operationTimeoutMs: number;
}

export interface RequestFacts {
  requestId: string;
  authorization: string | undefined;
  /** Aborted when the HTTP client disconnects. */
  clientSignal: AbortSignal;
  logger: Logger;
}

export function createContextFactory(options: ContextFactoryOptions) {
  return async (facts: RequestFacts): Promise<GraphQLContext> => {
    const viewer = await options.verifyViewer(facts.authorization);
    const deadline = Date.now() + options.operationTimeoutMs;
    const signal = AbortSignal.any([facts.clientSignal, AbortSignal.timeout(options.operationTimeoutMs)]);
    // Every load of the operation listens on this one signal; dozens of listeners are expected.
    setMaxListeners(0, signal);
    const report = new UpstreamReport();
    const upstream: CallContext = {
      signal,
      deadline,
      requestId: facts.requestId,
      onCall: (info) => report.recordCall(info),
      onCache: (provider, outcome) => report.recordCache(provider, outcome),
    };
    return {
      requestId: facts.requestId,
      viewer,
      signal,
      deadline,
      upstream,
      loaders: { user: createUserLoader(options.services.users, upstream) },
      services: options.services,
      report,
      logger: facts.logger,
    };
  };
}
