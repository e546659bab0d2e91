// One Apollo plugin for what every operation reports: its log line (name, duration, upstream
// calls, errors), its metrics, the stale marker, and, when asked for, the upstream report — the
// "query plan for REST" of the operation — in `extensions.upstream`.
import type { ApolloServerPlugin } from '@apollo/server';
import type { GraphQLContext } from '../graphql/context.js';
import type { Metrics } from './metrics.js';

export type UpstreamReportMode = 'off' | 'header' | 'always';

export interface OperationPluginOptions {
  metrics: Metrics;
  /** `header`: on when the request sends `x-junction-upstream-report: 1`; `always`; or `off`. */
  reportMode: UpstreamReportMode;
  /** In production the report is for admins only: it reveals provider routes and timings. */
  reportAdminsOnly: boolean;
}

export const REPORT_HEADER = 'x-junction-upstream-report';

export function operationPlugin(options: OperationPluginOptions): ApolloServerPlugin<GraphQLContext> {
  return {
    async requestDidStart({ request }) {
      const started = performance.now();
      const asked =
        options.reportMode === 'always' ||
        (options.reportMode === 'header' && request.http?.headers.get(REPORT_HEADER) === '1');
      return {
        async willSendResponse({ response, contextValue, operationName, errors }) {
          contextValue.dispose?.();
          const durationMs = performance.now() - started;
          const body = response.body.kind === 'single' ? response.body.singleResult : undefined;
          const hasData = body?.data !== undefined && body.data !== null;
          const errorList = errors ?? body?.errors ?? [];
          const outcome = errorList.length === 0 ? 'success' : hasData ? 'partial' : 'error';
          options.metrics.operation(operationName, outcome, durationMs);
          const report = contextValue.report;
          if (body && report) {
            const stale = report.staleProviders();
            const extensions: Record<string, unknown> = { ...body.extensions };
            if (stale.length > 0) extensions.stale = { providers: stale };
            const allowed = !options.reportAdminsOnly || contextValue.viewer?.isAdmin === true;
            if (asked && allowed) extensions.upstream = report.toJSON();
            if (Object.keys(extensions).length > 0) body.extensions = extensions;
          }
          const codes = errorList.map(
            (e) => (e.extensions?.code as string | undefined) ?? 'INTERNAL_SERVER_ERROR',
          );
          contextValue.logger?.info(
            {
              operation: operationName ?? null,
              outcome,
              durationMs: Math.round(durationMs * 10) / 10,
              upstreamCalls: report?.totalCalls ?? 0,
              upstream: report?.byProvider(),
              errors: codes.length > 0 ? codes : undefined,
            },
            'graphql operation',
          );
        },
      };
    },
  };
}
