// The OpenTelemetry SDK behind `createTracing` (tracing.ts), loaded only when tracing is on: tracer
// provider, batch span processor, OTLP/HTTP exporter (protobuf or JSON) or console, sampler, W3C
// propagator and an AsyncLocalStorage context manager, none of them registered globally.
import { ROOT_CONTEXT, type TextMapGetter, trace } from '@opentelemetry/api';
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
import type { TraceCarrier, Tracing } from './tracing.js';
import type { TracingConfig } from './tracingConfig.js';

/** The W3C header, and the longest values read: a version-00 traceparent has 55 characters. */
const TRACEPARENT = 'traceparent';
const MAX_TRACEPARENT_LENGTH = 256;
/** tracestate keeps at most 32 members and 512 characters (W3C); longer input is not even parsed. */
const MAX_TRACESTATE_LENGTH = 4096;

const TRACER_NAME = 'junction';

/** The SDK for `config`: tracing.ts decided tracing is on. */
export function createTracingSdk(config: TracingConfig): Tracing {
  let listener: ((failure: Error | undefined) => void) | undefined;
  let failing = false;
  const onResult = (result: ExportResult) => {
    const failed = result.code !== ExportResultCode.SUCCESS;
    if (failed === failing) return; // told once per change, not once per batch
    failing = failed;
    listener?.(failed ? (result.error ?? new Error('span export failed')) : undefined);
  };
  const exporters = config.exporters.map((name) => exporterFor(name, config));
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
      // Bounded: a collector that does not answer must not hold the process's shutdown.
      stopping ??= within(provider.shutdown(), config.shutdownFlushMs).finally(() => contexts.disable());
      return stopping;
    },
  };
}

type OtlpExporterOptions = NonNullable<ConstructorParameters<typeof OTLPJsonTraceExporter>[0]>;

/** Resolves when `work` settles or after `ms`, whichever comes first (failures are the exporter's to report). */
function within(work: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref();
    work
      .then(
        () => resolve(),
        () => resolve(),
      )
      .finally(() => clearTimeout(timer));
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
