// OpenTelemetry traces: the spans Junction makes at the edges it already instruments, one per
// GraphQL operation and one per webhook delivery (upstream calls make theirs in upstream/client.ts),
// and `createTracing`, which builds the SDK from the config (the standard OTEL_* variables) only when
// tracing is on: the SDK and its exporters are loaded then, not at startup. Nothing is registered
// with the global OpenTelemetry API: the app hands its Tracing to whoever makes spans, so tests build
// their own, and when tracing is off there is no Tracing at all (callers test one field).
import {
  type Attributes,
  type Context,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { ATTR, type UpstreamTracing } from '../upstream/tracing.js';
import type { TracingConfig } from './tracingConfig.js';

/**
 * Where a caller's trace context is read from: HTTP headers (a Map such as Apollo's HeaderMap, or
 * Node's header object), a WebSocket's connectionParams, an operation's extensions.
 */
export type TraceCarrier = ReadonlyMap<string, string> | { readonly [key: string]: unknown };

/** What a log line gets while a span is active. */
export interface TraceLogFields {
  trace_id: string;
  span_id: string;
}

export interface Tracing extends UpstreamTracing {
  /** The caller's context (`traceparent`, `tracestate`) from `carrier`; the root context when it has none or it is malformed. */
  extract(carrier: TraceCarrier | undefined): Context;
  /** Ids of the active span for a log line (the logger's mixin), or undefined outside any span. */
  logFields(): TraceLogFields | undefined;
  /** Told when exports start failing (with the error) and when they work again (undefined). */
  watchExports(listener: (failure: Error | undefined) => void): void;
  /** Exports every span ended so far. */
  forceFlush(): Promise<void>;
  /** Exports what is left, then stops. Idempotent. */
  shutdown(): Promise<void>;
}

/** Operation names are client-chosen: bounded on spans (graphql-js puts no limit on a name's length). */
const MAX_OPERATION_NAME_LENGTH = 128;
/** Error codes recorded on an operation's span, at most. */
const MAX_ERROR_CODES = 10;

/** Builds tracing from the config (loading the SDK then), or returns undefined when it is off. */
export async function createTracing(config: TracingConfig): Promise<Tracing | undefined> {
  if (!config.enabled) return undefined;
  const { createTracingSdk } = await import('./tracingSdk.js');
  return createTracingSdk(config);
}

/** The first carrier that holds a `traceparent` (a WebSocket operation's own, then its connection's). */
export function pickTraceCarrier(
  ...carriers: Array<TraceCarrier | null | undefined>
): TraceCarrier | undefined {
  for (const carrier of carriers) {
    if (carrier === null || carrier === undefined) continue;
    const value =
      carrier instanceof Map ? carrier.get('traceparent') : (carrier as Record<string, unknown>).traceparent;
    if (value !== undefined) return carrier;
  }
  return undefined;
}

/** Logs when span exports start failing and when they work again (once per change, not per batch). */
export function logExportHealth(tracing: Tracing, logger: Logger): void {
  tracing.watchExports((failure) => {
    // Only the error's kind: an exporter's message may quote the collector's URL.
    if (failure)
      logger.warn(
        { err: { name: failure.name, code: (failure as { code?: unknown }).code } },
        'trace export failing: spans are being dropped',
      );
    else logger.info('trace export working again');
  });
}

// ---- GraphQL operations -------------------------------------------------------------------------

/** Span attribute names of an operation (GraphQL semantic conventions, and Junction's own). */
export const OPERATION_ATTR = {
  name: 'graphql.operation.name',
  type: 'graphql.operation.type',
  transport: 'junction.transport',
  requestId: 'junction.request_id',
  errorCodes: 'junction.error_codes',
  upstreamCalls: 'junction.upstream.calls',
  cacheHits: 'junction.cache.hits',
  cacheMisses: 'junction.cache.misses',
  cacheStale: 'junction.cache.stale',
} as const;

/** Starts an operation's span, a child of the caller's context in `carrier` (a SERVER span). */
export function startOperationSpan(
  tracing: Tracing,
  carrier: TraceCarrier | undefined,
  attributes: Attributes,
): { span: Span; context: Context } {
  const parent = tracing.extract(carrier);
  const span = tracing.tracer.startSpan('GraphQL Operation', { kind: SpanKind.SERVER, attributes }, parent);
  return { span, context: trace.setSpan(parent, span) };
}

/** Once the operation is known: `query GetUser` (semantic conventions: type, then name when there is one). */
export function nameOperationSpan(span: Span, type: string, name: string | null | undefined): void {
  const bounded = name ? name.slice(0, MAX_OPERATION_NAME_LENGTH) : undefined;
  span.updateName(bounded ? `${type} ${bounded}` : type);
  span.setAttribute(OPERATION_ATTR.type, type);
  if (bounded) span.setAttribute(OPERATION_ATTR.name, bounded);
}

export interface OperationSpanResult {
  outcome: 'success' | 'partial' | 'error';
  errorCodes: readonly string[];
  upstreamCalls: number;
  cache: { hits: number; misses: number; stale: number };
}

/** Ends an operation's span with its outcome: error codes, upstream calls and cache outcomes. */
export function endOperationSpan(span: Span, result: OperationSpanResult): void {
  const codes = [...new Set(result.errorCodes)].slice(0, MAX_ERROR_CODES);
  span.setAttributes({
    [ATTR.outcome]: result.outcome,
    [OPERATION_ATTR.upstreamCalls]: result.upstreamCalls,
    [OPERATION_ATTR.cacheHits]: result.cache.hits,
    [OPERATION_ATTR.cacheMisses]: result.cache.misses,
    [OPERATION_ATTR.cacheStale]: result.cache.stale,
  });
  if (codes.length > 0) span.setAttribute(OPERATION_ATTR.errorCodes, codes);
  if (result.outcome === 'error') {
    span.setAttribute(ATTR.errorType, codes[0] ?? 'error');
    span.setStatus({ code: SpanStatusCode.ERROR, message: codes[0] ?? 'error' });
  }
  span.end();
}

// ---- Webhook intake -----------------------------------------------------------------------------

/**
 * One SERVER span per webhook delivery on `scope`'s routes, from arrival to answer, with the
 * provider, the status and the rejection reason. The handler runs with the span active, so its log
 * lines and the provider calls its effects make belong to it.
 */
export function traceWebhookIntake(scope: FastifyInstance, tracing: Tracing): void {
  const spans = new WeakMap<FastifyRequest, { span: Span; context: Context }>();
  scope.addHook('onRequest', (request, _reply, done) => {
    const route = request.routeOptions.url ?? '/webhooks';
    const parent = tracing.extract(request.headers);
    const span = tracing.tracer.startSpan(
      `${request.method} ${route}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          [ATTR.httpMethod]: request.method,
          [ATTR.httpRoute]: route,
          [ATTR.provider]: route.split('/')[2] ?? 'unknown',
        },
      },
      parent,
    );
    spans.set(request, { span, context: trace.setSpan(parent, span) });
    done();
  });
  // Entered after the body is read (body parsing runs in the socket's own async context).
  scope.addHook('preHandler', (request, _reply, done) => {
    const entry = spans.get(request);
    if (entry) tracing.with(entry.context, done);
    else done();
  });
  scope.addHook('onError', (request, _reply, error, done) => {
    // A verification failure's reason (`signature_mismatch`...), else the error's code (a body too large).
    const { reason, code } = error as { reason?: unknown; code?: unknown };
    const why = typeof reason === 'string' ? reason : typeof code === 'string' ? code : error.name;
    spans.get(request)?.span.setAttribute(ATTR.reason, why.slice(0, 64));
    done();
  });
  scope.addHook('onRequestAbort', (request, done) => {
    const entry = spans.get(request);
    spans.delete(request);
    entry?.span.setAttribute(ATTR.outcome, 'aborted');
    entry?.span.end();
    done();
  });
  scope.addHook('onResponse', (request, reply, done) => {
    const entry = spans.get(request);
    if (entry) {
      spans.delete(request);
      const status = reply.statusCode;
      entry.span.setAttributes({
        [ATTR.httpStatus]: status,
        [ATTR.outcome]: status < 300 ? 'received' : status < 500 ? 'rejected' : 'failed',
      });
      if (status >= 500) {
        entry.span.setAttribute(ATTR.errorType, String(status));
        entry.span.setStatus({ code: SpanStatusCode.ERROR, message: String(status) });
      }
      entry.span.end();
    }
    done();
  });
}
