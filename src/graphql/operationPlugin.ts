// What every operation reports, whichever transport carried it: its log line (name, duration,
// upstream calls, error codes), its metrics, unexpected errors logged with the request id, the stale
// marker, and, when asked for, the upstream report — the "query plan for REST" of the operation —
// in `extensions.upstream`. The Apollo plugin below reports every operation Apollo answers (HTTP,
// and queries and mutations over the WebSocket); the WebSocket adapter reports a subscription
// through the same reporter when it ends. With tracing on, each operation is a span (a child of the
// caller's `traceparent`), the parent of every upstream call it makes.
import type { ApolloServerPlugin } from '@apollo/server';
import { type Context, trace } from '@opentelemetry/api';
import type { GraphQLFormattedError } from 'graphql';
import type { Metrics } from '../observability/metrics.js';
import {
  endOperationSpan,
  nameOperationSpan,
  OPERATION_ATTR,
  startOperationSpan,
  type Tracing,
} from '../observability/tracing.js';
import type { GraphQLContext } from './context.js';
import { isUnexpectedError } from './errors.js';

export type UpstreamReportMode = 'off' | 'header' | 'always';

export interface OperationPluginOptions {
  metrics: Metrics;
  /** `header`: on when the request sends `x-junction-upstream-report: 1`; `always`; or `off`. */
  reportMode: UpstreamReportMode;
  /** In production the report is for admins only: it reveals provider routes and timings. */
  reportAdminsOnly: boolean;
  /** Traces; undefined when tracing is off (no span is made). */
  tracing?: Tracing | undefined;
}

export const REPORT_HEADER = 'x-junction-upstream-report';

export type OperationOutcome = 'success' | 'partial' | 'error';

export interface FinishedOperation {
  context: GraphQLContext;
  operationName: string | null | undefined;
  durationMs: number;
  /** The errors the client was sent (formatted: their codes are the contract's). */
  errors: readonly GraphQLFormattedError[];
  hasData: boolean;
  /**
   * The operation passed every edge rule and ran. Only such operations, from a signed-in viewer,
   * may claim one of the bounded operation-name labels: refused or anonymous junk cannot fill them.
   */
  admitted: boolean;
  /** The operation's trace context (its span); default: the one its upstream calls were given. */
  trace?: Context | undefined;
}

export interface OperationReporter {
  /** Traces, when on: the plugin starts each operation's span with it. */
  readonly tracing: Tracing | undefined;
  /** Logs errors nobody raised on purpose, with the request id (they are masked for the client). */
  logUnexpected(errors: readonly unknown[], context: GraphQLContext): void;
  /** The stale marker and, when asked and allowed, the upstream report, merged into `extensions`. */
  extensions(
    existing: Record<string, unknown> | undefined,
    context: GraphQLContext,
    asked: boolean,
  ): Record<string, unknown> | undefined;
  /** Metrics, the one log line and the span of a finished operation. Returns its outcome. */
  finish(operation: FinishedOperation): OperationOutcome;
}

/** Whether `logger` writes `info` lines (a logger without pino's `isLevelEnabled` is assumed to). */
function infoEnabled(logger: object): boolean {
  const check = (logger as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled;
  return typeof check !== 'function' || check.call(logger, 'info');
}

export function createOperationReporter(options: OperationPluginOptions): OperationReporter {
  const tracing = options.tracing;
  /** Runs `log` with the operation's span active, so the line carries its trace id. */
  const inSpan = (traceContext: Context | undefined, log: () => void) => {
    if (tracing === undefined || traceContext === undefined) log();
    else tracing.with(traceContext, log);
  };
  return {
    tracing,
    logUnexpected(errors, context) {
      for (const error of errors) {
        if (isUnexpectedError(error)) {
          const original = (error as { originalError?: unknown }).originalError ?? error;
          inSpan(context.upstream?.trace, () =>
            context.logger?.error({ err: original, requestId: context.requestId }, 'unexpected error'),
          );
        }
      }
    },
    extensions(existing, context, asked) {
      const report = context.report;
      if (!report) return existing;
      const stale = report.servedStale;
      const show =
        options.reportMode !== 'off' &&
        asked &&
        (!options.reportAdminsOnly || context.viewer?.isAdmin === true);
      // Nothing to add (the common case): no copy, no report built.
      if (!stale && !show) return existing;
      const extensions: Record<string, unknown> = { ...existing };
      if (stale) extensions.stale = { providers: report.staleProviders() };
      if (show) extensions.upstream = report.toJSON();
      return extensions;
    },
    finish({ context, operationName, durationMs, errors, hasData, admitted, trace: traceContext }) {
      const outcome: OperationOutcome = errors.length === 0 ? 'success' : hasData ? 'partial' : 'error';
      const mayClaimName = admitted && context.viewer !== null;
      options.metrics.operation(operationName, outcome, durationMs, { mayClaimName });
      const codes = errors.map((e) => (e.extensions?.code as string | undefined) ?? 'INTERNAL_SERVER_ERROR');
      const report = context.report;
      const spanContext = tracing === undefined ? undefined : (traceContext ?? context.upstream?.trace);
      // The line's fields are built only when a line is written (LOG_LEVEL above info: nothing).
      const logger = context.logger;
      if (logger !== undefined && infoEnabled(logger))
        inSpan(spanContext, () =>
          logger.info(
            {
              operation: operationName ?? null,
              transport: context.transport?.kind,
              outcome,
              durationMs: Math.round(durationMs * 10) / 10,
              upstreamCalls: report?.totalCalls ?? 0,
              upstream: report?.byProvider(),
              errors: codes.length > 0 ? codes : undefined,
            },
            'graphql operation',
          ),
        );
      const span = spanContext === undefined ? undefined : trace.getSpan(spanContext);
      if (span !== undefined) {
        let cache = { hits: 0, misses: 0, stale: 0 };
        for (const summary of Object.values(report?.byProvider() ?? {})) {
          cache = {
            hits: cache.hits + summary.cacheHits,
            misses: cache.misses + summary.cacheMisses,
            stale: cache.stale + summary.staleServed,
          };
        }
        endOperationSpan(span, { outcome, errorCodes: codes, upstreamCalls: report?.totalCalls ?? 0, cache });
      }
      return outcome;
    },
  };
}

export function operationPlugin(
  reporter: OperationReporter,
  mode: UpstreamReportMode,
): ApolloServerPlugin<GraphQLContext> {
  return {
    async requestDidStart({ request, contextValue }) {
      const started = performance.now();
      const asked =
        mode === 'always' || (mode === 'header' && request.http?.headers.get(REPORT_HEADER) === '1');
      let executed = false;
      const traced =
        reporter.tracing === undefined
          ? undefined
          : startOperationSpan(reporter.tracing, contextValue.traceCarrier ?? request.http?.headers, {
              [OPERATION_ATTR.transport]: contextValue.transport.kind,
              [OPERATION_ATTR.requestId]: contextValue.requestId,
            });
      // The operation's upstream calls are its span's children. (Operations of one HTTP batch share
      // a context: their calls all go under the first one's span.)
      if (traced) contextValue.upstream.trace ??= traced.context;
      return {
        async didResolveOperation({ operation, operationName }) {
          if (traced && operation) nameOperationSpan(traced.span, operation.operation, operationName);
        },
        async executionDidStart() {
          executed = true;
        },
        async didEncounterErrors({ errors, contextValue }) {
          reporter.logUnexpected(errors, contextValue);
        },
        async willSendResponse({ response, contextValue, operationName }) {
          // A subscription accepted on the WebSocket has not run yet: the adapter reports it when it ends.
          if (contextValue.transport?.subscription) return;
          contextValue.dispose?.();
          const body = response.body.kind === 'single' ? response.body.singleResult : undefined;
          if (body) {
            const extensions = reporter.extensions(body.extensions, contextValue, asked);
            if (extensions) body.extensions = extensions;
          }
          reporter.finish({
            context: contextValue,
            operationName,
            durationMs: performance.now() - started,
            errors: body?.errors ?? [],
            hasData: body?.data !== undefined && body.data !== null,
            admitted: executed,
            trace: traced?.context,
          });
        },
      };
    },
  };
}
