// The OpenTelemetry section of the config: the standard OTEL_* variables, read with the
// precedence the OpenTelemetry spec gives them (a per-signal variable wins over the shared one;
// OTEL_SDK_DISABLED wins over everything), which is why it is a function rather than a plain list.
// Ranges and lists are checked here, with messages naming the variable.
import { z } from 'zod';
import type { ConfigSource } from '../configSchema.js';

/** OTLP headers usually carry a collector's API key: read from `_FILE` too, never echoed. */
const SECRET_OTEL_VARIABLES = new Set(['OTEL_EXPORTER_OTLP_HEADERS', 'OTEL_EXPORTER_OTLP_TRACES_HEADERS']);

/** Reads the OpenTelemetry section from `source`. */
export function readTracingConfig(source: ConfigSource): TracingConfig {
  const get = (name: string): string | undefined =>
    source.raw({
      name,
      doc: '',
      defaultDoc: '',
      expected: '',
      secret: SECRET_OTEL_VARIABLES.has(name),
      parse: () => ({ ok: false }),
      defaultValue: () => undefined,
    });
  const parse: ParseFn = (name, schema, fallback, expected) => {
    const raw = get(name);
    if (raw === undefined) return fallback;
    const result = schema.safeParse(raw);
    if (result.success) return result.data;
    source.problems.push(
      `${name}: expected ${expected}${SECRET_OTEL_VARIABLES.has(name) ? '' : `, got ${JSON.stringify(raw)}`}`,
    );
    return fallback;
  };
  return tracingConfig(get, parse, source.problems);
}

export type TraceExporterName = 'otlp' | 'console';
export type TracesSamplerName =
  | 'always_on'
  | 'always_off'
  | 'traceidratio'
  | 'parentbased_always_on'
  | 'parentbased_always_off'
  | 'parentbased_traceidratio';

/** OpenTelemetry traces, read from the standard OTEL_* variables (the SDK reads none of them itself here). */
export interface TracingConfig {
  /**
   * On when OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set, or
   * OTEL_TRACES_EXPORTER names an exporter; OTEL_SDK_DISABLED=true turns it off. Default off.
   * Trap: when off nothing is built, no trace context is forwarded to providers.
   */
  enabled: boolean;
  /** OTEL_TRACES_EXPORTER: `otlp` (OTLP over HTTP) and/or `console` (stdout, for debugging). Default `otlp`. */
  exporters: TraceExporterName[];
  /** OTEL_SERVICE_NAME. Default `junction`. It wins over a service.name in OTEL_RESOURCE_ATTRIBUTES. */
  serviceName: string;
  /** OTEL_RESOURCE_ATTRIBUTES (`key=value,...`, values percent-decoded). Default none. */
  resourceAttributes: Record<string, string>;
  otlp: {
    /**
     * Where spans are posted. OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as given, else
     * OTEL_EXPORTER_OTLP_ENDPOINT + `/v1/traces`. Default http://localhost:4318/v1/traces.
     */
    url: string;
    /** OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL: `http/protobuf` or `http/json`. Default http/protobuf. Trap: grpc is not bundled. */
    protocol: 'http/protobuf' | 'http/json';
    /** OTEL_EXPORTER_OTLP_(TRACES_)HEADERS, sent with each export (typically an API key: a secret). Default none. */
    headers: Record<string, string>;
    /** OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT: limit of one export request, in ms. Default 10000 ms. */
    timeoutMs: number;
    /** OTEL_EXPORTER_OTLP_(TRACES_)COMPRESSION: `gzip` or `none`. Default none. */
    compression: 'gzip' | 'none';
  };
  /** OTEL_TRACES_SAMPLER. Default parentbased_always_on (a caller's sampled flag is followed). */
  sampler: TracesSamplerName;
  /** OTEL_TRACES_SAMPLER_ARG: the share of traces kept by the traceidratio samplers, 0..1. Default 1. */
  samplerRatio: number;
  /** The batch span processor (OTEL_BSP_*). */
  batch: {
    /** OTEL_BSP_SCHEDULE_DELAY: ms between two exports. Default 5000 ms. */
    scheduledDelayMs: number;
    /** OTEL_BSP_EXPORT_TIMEOUT: ms an export may take before it is abandoned. Default 30000 ms. */
    exportTimeoutMs: number;
    /** OTEL_BSP_MAX_QUEUE_SIZE: spans waiting for export; beyond, new spans are dropped. Default 2048. */
    maxQueueSize: number;
    /** OTEL_BSP_MAX_EXPORT_BATCH_SIZE: spans per export request, at most the queue size. Default 512. */
    maxExportBatchSize: number;
  };
  /**
   * Longest shutdown (app.close) waits for the spans still queued to leave, in ms. Default 5000 ms.
   * Trap: spans still queued then are lost; an unreachable collector must not hold the shutdown.
   */
  shutdownFlushMs: number;
}

/** OTLP/HTTP's default traces endpoint (a collector on this host). */
export const DEFAULT_OTLP_TRACES_URL = 'http://localhost:4318/v1/traces';
/** Bounds on `key=value` lists (OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS). */
const MAX_KEY_VALUE_ENTRIES = 64;
const MAX_KEY_VALUE_LENGTH = 8 * 1024; // 8 KiB for the whole list
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/;

type ParseFn = <T>(name: string, schema: z.ZodType<T>, fallback: T, expected: string) => T;

function tracingConfig(
  get: (name: string) => string | undefined,
  parse: ParseFn,
  problems: string[],
): TracingConfig {
  const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
  /** The per-signal variable (OTEL_EXPORTER_OTLP_TRACES_X) wins over the shared one (OTEL_EXPORTER_OTLP_X). */
  const otlpName = (suffix: string) =>
    get(`OTEL_EXPORTER_OTLP_TRACES_${suffix}`) !== undefined
      ? `OTEL_EXPORTER_OTLP_TRACES_${suffix}`
      : `OTEL_EXPORTER_OTLP_${suffix}`;
  const httpUrl = z.url({ protocol: /^https?$/ });

  const disabled = (get('OTEL_SDK_DISABLED') ?? '').trim().toLowerCase() === 'true';
  const tracesEndpoint = parse('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', httpUrl, undefined, 'an http(s) URL');
  const baseEndpoint = parse('OTEL_EXPORTER_OTLP_ENDPOINT', httpUrl, undefined, 'an http(s) URL');
  const url =
    tracesEndpoint ??
    (baseEndpoint === undefined
      ? DEFAULT_OTLP_TRACES_URL
      : `${baseEndpoint}${baseEndpoint.endsWith('/') ? '' : '/'}v1/traces`);

  let exporters: TraceExporterName[] = [];
  const exporterList = get('OTEL_TRACES_EXPORTER');
  if (exporterList !== undefined) {
    const names = exporterList.split(',').map((name) => name.trim().toLowerCase());
    const unknown = names.filter((name) => !['otlp', 'console', 'none'].includes(name));
    if (unknown.length > 0) {
      problems.push(
        `OTEL_TRACES_EXPORTER: expected otlp, console or none (comma-separated), got ${JSON.stringify(exporterList)}`,
      );
    } else if (!names.includes('none')) {
      exporters = [...new Set(names as TraceExporterName[])];
    }
  } else if (tracesEndpoint !== undefined || baseEndpoint !== undefined) {
    exporters = ['otlp'];
  }
  const enabled = !disabled && exporters.length > 0;

  const config: TracingConfig = {
    enabled,
    exporters: enabled ? exporters : [],
    serviceName: 'junction',
    resourceAttributes: {},
    otlp: { url, protocol: 'http/protobuf', headers: {}, timeoutMs: 10_000, compression: 'none' },
    sampler: 'parentbased_always_on',
    samplerRatio: 1,
    batch: { scheduledDelayMs: 5_000, exportTimeoutMs: 30_000, maxQueueSize: 2048, maxExportBatchSize: 512 },
    shutdownFlushMs: 5_000, // 5 s
  };
  // Variables that change nothing while tracing is off do not stop startup.
  if (!enabled) return config;

  config.serviceName = parse(
    'OTEL_SERVICE_NAME',
    z.string().min(1).max(255),
    'junction',
    '1..255 characters',
  );
  const resource = keyValueList(get('OTEL_RESOURCE_ATTRIBUTES'));
  if (resource === 'invalid') {
    problems.push(
      `OTEL_RESOURCE_ATTRIBUTES: expected key=value pairs separated by commas (at most ${MAX_KEY_VALUE_ENTRIES}, ${MAX_KEY_VALUE_LENGTH} characters)`,
    );
  } else config.resourceAttributes = resource;

  const protocolName = otlpName('PROTOCOL');
  const protocol = (get(protocolName) ?? 'http/protobuf').trim().toLowerCase();
  if (protocol === 'http/protobuf' || protocol === 'http/json') config.otlp.protocol = protocol;
  else if (protocol === 'grpc') {
    problems.push(
      `${protocolName}: grpc is not supported; use http/protobuf or http/json (OTLP over HTTP, port 4318)`,
    );
  } else
    problems.push(`${protocolName}: expected http/protobuf or http/json, got ${JSON.stringify(protocol)}`);

  const headersName = otlpName('HEADERS');
  const headers = keyValueList(get(headersName));
  // Never echoed: these usually hold an API key.
  if (headers === 'invalid' || Object.keys(headers).some((name) => !HEADER_NAME.test(name)))
    problems.push(`${headersName}: expected header=value pairs separated by commas (values percent-encoded)`);
  else config.otlp.headers = headers;

  config.otlp.timeoutMs = parse(otlpName('TIMEOUT'), int(1, 600_000), 10_000, 'milliseconds 1..600000');
  config.otlp.compression = parse(otlpName('COMPRESSION'), z.enum(['gzip', 'none']), 'none', 'gzip or none');

  config.sampler = parse(
    'OTEL_TRACES_SAMPLER',
    z.enum([
      'always_on',
      'always_off',
      'traceidratio',
      'parentbased_always_on',
      'parentbased_always_off',
      'parentbased_traceidratio',
    ]),
    'parentbased_always_on',
    'always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio',
  );
  config.samplerRatio = parse('OTEL_TRACES_SAMPLER_ARG', z.coerce.number().min(0).max(1), 1, 'a ratio 0..1');

  config.batch = {
    scheduledDelayMs: parse('OTEL_BSP_SCHEDULE_DELAY', int(0, 600_000), 5_000, 'milliseconds 0..600000'),
    exportTimeoutMs: parse('OTEL_BSP_EXPORT_TIMEOUT', int(1, 600_000), 30_000, 'milliseconds 1..600000'),
    maxQueueSize: parse('OTEL_BSP_MAX_QUEUE_SIZE', int(1, 1_000_000), 2048, 'an integer 1..1000000'),
    maxExportBatchSize: parse(
      'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
      int(1, 1_000_000),
      512,
      'an integer 1..1000000',
    ),
  };
  if (config.batch.maxExportBatchSize > config.batch.maxQueueSize)
    problems.push('OTEL_BSP_MAX_EXPORT_BATCH_SIZE: must not exceed OTEL_BSP_MAX_QUEUE_SIZE');
  return config;
}

/**
 * Parses the W3C-baggage-like `key=value,key2=value2` lists OTEL_RESOURCE_ATTRIBUTES and
 * OTEL_EXPORTER_OTLP_HEADERS use (values percent-decoded), bounded in size.
 */
function keyValueList(raw: string | undefined): Record<string, string> | 'invalid' {
  const result: Record<string, string> = {};
  if (raw === undefined || raw.trim() === '') return result;
  if (raw.length > MAX_KEY_VALUE_LENGTH) return 'invalid';
  const entries = raw.split(',').filter((entry) => entry.trim() !== '');
  if (entries.length > MAX_KEY_VALUE_ENTRIES) return 'invalid';
  for (const entry of entries) {
    const at = entry.indexOf('=');
    if (at <= 0) return 'invalid';
    const key = entry.slice(0, at).trim();
    let value: string;
    try {
      value = decodeURIComponent(entry.slice(at + 1).trim());
    } catch {
      return 'invalid';
    }
    // A header value (or attribute) may not carry a line break.
    if (key === '' || /[\r\n]/.test(value)) return 'invalid';
    result[key] = value;
  }
  return result;
}
