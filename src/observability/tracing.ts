// OpenTelemetry traces: the tracer provider, exporter, sampler and W3C propagator built from the
// config (the standard OTEL_* variables), and the spans Junction makes at the edges it already
// instruments: one per GraphQL operation, one per webhook delivery (upstream calls make theirs in
// upstream/client.ts). Nothing is registered with the global OpenTelemetry API: the app hands its
// Tracing to whoever makes spans, so tests build their own, and when tracing is off there is no
// Tracing at all (callers test one field).
import {
  type Attributes,
  type Context,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  trace,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { type ExportResult, ExportResultCode, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter as OTLPJsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OTLPProtobufTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  type ReadableSpan,
  type Sampler,
  type SpanExporter,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { TracingConfig } from '../config.js';
import { ATTR, type UpstreamTracing } from '../upstream/tracing.js';

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

export interface TracingOptions {
  /** Replaces the exporters the config names (one is used, through the same batch processor). */
  exporter?: SpanExporter;
}

/** The W3C header, and the longest values read: a version-00 traceparent has 55 characters. */
const TRACEPARENT = 'traceparent';
const MAX_TRACEPARENT_LENGTH = 256;
/** tracestate keeps at most 32 members and 512 characters (W3C); longer input is not even parsed. */
const MAX_TRACESTATE_LENGTH = 4096;
/** Operation names are client-chosen: bounded on spans (graphql-js puts no limit on a name's length). */
const MAX_OPERATION_NAME_LENGTH = 128;
/** Error codes recorded on an operation's span, at most. */
const MAX_ERROR_CODES = 10;

const TRACER_NAME = 'junction';

/** Builds tracing from the config, or returns undefined when it is off (nothing is built then). */
export function createTracing(config: TracingConfig, options: TracingOptions = {}): Tracing | undefined {
  if (!config.enabled && options.exporter === undefined) return undefined;
  let listener: ((failure: Error | undefined) => void) | undefined;
  let failing = false;
  const onResult = (result: ExportResult) => {
    const failed = result.code !== ExportResultCode.SUCCESS;
    if (failed === failing) return; // told once per change, not once per batch
    failing = failed;
    listener?.(failed ? (result.error ?? new Error('span export failed')) : undefined);
  };
  const exporters = options.exporter
    ? [options.exporter]
    : config.exporters.map((name) => exporterFor(name, config));
  const spanProcessors: SpanProcessor[] = exporters.map(
    (exporter) =>
      new BatchSpanProcessor({
        exporter: new ObservedExporter(exporter, onResult),
        scheduledDelayMillis: config.batch.scheduledDelayMs,
        exportTimeoutMillis: config.batch.exportTimeoutMs,
        maxQueueSize: config.batch.maxQueueSize,
        maxExportBatchSize: config.batch.maxExportBatchSize,
      }),
  );
  const provider = new TracerProvider({
    resource: defaultResource().merge(
      resourceFromAttributes({ ...config.resourceAttributes, [ATTR_SERVICE_NAME]: config.serviceName }),
    ),
    sampler: samplerFor(config),
    spanProcessors,
  });
  const tracer = provider.getTracer(TRACER_NAME);
  const propagator = new W3CTraceContextPropagator();
  const contexts = new AsyncLocalStorageContextManager().enable();
  let stopping: Promise<void> | undefined;

  return {
    tracer,
    extract: (carrier) =>
      carrier === undefined ? ROOT_CONTEXT : propagator.extract(ROOT_CONTEXT, carrier, boundedGetter),
    inject: (context, headers) =>
      propagator.inject(context, headers, {
        set: (carrier, key, value) => {
          carrier[key] = value;
        },
      }),
    with: (context, fn) => contexts.with(context, fn),
    active: () => contexts.active(),
    logFields() {
      const span = trace.getSpan(contexts.active());
      if (span === undefined) return undefined;
      const { traceId, spanId } = span.spanContext();
      return { trace_id: traceId, span_id: spanId };
    },
    watchExports(next) {
      listener = next;
    },
    forceFlush: () => provider.forceFlush(),
    shutdown() {
      stopping ??= provider.shutdown().finally(() => contexts.disable());
      return stopping;
    },
  };
}

type OtlpExporterOptions = NonNullable<ConstructorParameters<typeof OTLPJsonTraceExporter>[0]>;

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

function exporterFor(name: TracingConfig['exporters'][number], config: TracingConfig): SpanExporter {
  if (name === 'console') return new ConsoleSpanExporter();
  const options: OtlpExporterOptions = {
    url: config.otlp.url,
    headers: config.otlp.headers,
    timeoutMillis: config.otlp.timeoutMs,
    // The exporter's CompressionAlgorithm enum has exactly these two string values.
    compression: config.otlp.compression as OtlpExporterOptions['compression'],
  };
  return config.otlp.protocol === 'http/json'
    ? new OTLPJsonTraceExporter(options)
    : new OTLPProtobufTraceExporter(options);
}

function samplerFor(config: TracingConfig): Sampler {
  const ratio = () => new TraceIdRatioBasedSampler(config.samplerRatio);
  switch (config.sampler) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio();
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio() });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/** Reads the W3C fields from any carrier, refusing oversized values before the propagator parses them. */
const boundedGetter: TextMapGetter<TraceCarrier> = {
  keys: (carrier) => (carrier instanceof Map ? [...carrier.keys()] : Object.keys(carrier)),
  get(carrier, key) {
    const raw = carrier instanceof Map ? carrier.get(key) : (carrier as Record<string, unknown>)[key];
    const value = Array.isArray(raw) ? raw[0] : raw;
    if (typeof value !== 'string') return undefined;
    const limit = key === TRACEPARENT ? MAX_TRACEPARENT_LENGTH : MAX_TRACESTATE_LENGTH;
    return value.length <= limit ? value : undefined;
  },
};

/** The first carrier that holds a `traceparent` (a WebSocket operation's own, then its connection's). */
export function pickTraceCarrier(
  ...carriers: Array<TraceCarrier | null | undefined>
): TraceCarrier | undefined {
  for (const carrier of carriers) {
    if (carrier === null || carrier === undefined) continue;
    const value =
      carrier instanceof Map ? carrier.get(TRACEPARENT) : (carrier as Record<string, unknown>)[TRACEPARENT];
    if (value !== undefined) return carrier;
  }
  return undefined;
}

/** Wraps an exporter to learn whether exports succeed (the SDK only reports failures to a global handler). */
class ObservedExporter implements SpanExporter {
  constructor(
    private readonly inner: SpanExporter,
    private readonly onResult: (result: ExportResult) => void,
  ) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      this.onResult(result);
      resultCallback(result);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
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
