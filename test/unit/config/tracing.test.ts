// OTEL_*: when tracing is on, where it exports, how it samples; bad values stop startup with a
// message naming the variable, and OTLP headers (API keys) are never echoed.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config.js';
import { DEFAULT_OTLP_TRACES_URL } from '../../../src/observability/tracingConfig.js';

const tracing = (env: Record<string, string>) => loadConfig(env).tracing;

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('OTEL_* switches', () => {
  it('is off with no OTEL variable, and off whatever other OTEL variable says', () => {
    expect(tracing({})).toMatchObject({ enabled: false, exporters: [] });
    // Variables that change nothing while off are not even read.
    expect(tracing({ OTEL_TRACES_SAMPLER: 'nonsense', OTEL_BSP_MAX_QUEUE_SIZE: '-1' }).enabled).toBe(false);
  });

  it('turns on with an OTLP endpoint: the base gets /v1/traces, the per-signal one is used as given', () => {
    expect(tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toMatchObject({
      enabled: true,
      exporters: ['otlp'],
      otlp: { url: 'http://collector:4318/v1/traces', protocol: 'http/protobuf', timeoutMs: 10_000 },
    });
    expect(tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).otlp.url).toBe(
      'http://collector:4318/v1/traces',
    );
    expect(
      tracing({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example/otlp',
      }).otlp.url,
    ).toBe('https://traces.example/otlp');
  });

  it('turns on with OTEL_TRACES_EXPORTER (the default endpoint then), off with none or OTEL_SDK_DISABLED', () => {
    expect(tracing({ OTEL_TRACES_EXPORTER: 'otlp' })).toMatchObject({
      enabled: true,
      otlp: { url: DEFAULT_OTLP_TRACES_URL },
    });
    expect(tracing({ OTEL_TRACES_EXPORTER: 'console, otlp' }).exporters).toEqual(['console', 'otlp']);
    expect(
      tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' }).enabled,
    ).toBe(false);
    expect(tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'TRUE' }).enabled).toBe(
      false,
    );
  });

  it('refuses an unknown exporter or a bad endpoint, naming the variable', () => {
    expect(problems({ OTEL_TRACES_EXPORTER: 'zipkin' })).toEqual([
      'OTEL_TRACES_EXPORTER: expected otlp, console or none (comma-separated), got "zipkin"',
    ]);
    expect(problems({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toEqual([
      'OTEL_EXPORTER_OTLP_ENDPOINT: expected an http(s) URL, got "collector:4318"',
    ]);
  });
});

describe('OTEL_* settings, once on', () => {
  const on = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };

  it('reads service name, resource attributes, protocol, timeout, compression, sampler and batch settings', () => {
    const config = tracing({
      ...on,
      OTEL_SERVICE_NAME: 'gateway',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod,team=api%20core',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_TIMEOUT: '20000',
      OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '3000',
      OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
      OTEL_BSP_SCHEDULE_DELAY: '1000',
      OTEL_BSP_MAX_QUEUE_SIZE: '4096',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '1024',
    });
    expect(config).toMatchObject({
      serviceName: 'gateway',
      resourceAttributes: { 'deployment.environment': 'prod', team: 'api core' },
      otlp: { protocol: 'http/json', timeoutMs: 3000, compression: 'gzip' },
      sampler: 'parentbased_traceidratio',
      samplerRatio: 0.25,
      batch: {
        scheduledDelayMs: 1000,
        exportTimeoutMs: 30_000,
        maxQueueSize: 4096,
        maxExportBatchSize: 1024,
      },
    });
  });

  it('has the documented defaults', () => {
    expect(tracing(on)).toEqual({
      enabled: true,
      exporters: ['otlp'],
      serviceName: 'junction',
      resourceAttributes: {},
      otlp: {
        url: 'http://collector:4318/v1/traces',
        protocol: 'http/protobuf',
        headers: {},
        timeoutMs: 10_000,
        compression: 'none',
      },
      sampler: 'parentbased_always_on',
      samplerRatio: 1,
      batch: {
        scheduledDelayMs: 5_000,
        exportTimeoutMs: 30_000,
        maxQueueSize: 2048,
        maxExportBatchSize: 512,
      },
      shutdownFlushMs: 5_000,
    });
  });

  it('reads OTLP headers (percent-decoded, also from a _FILE) and never echoes them when they are malformed', () => {
    expect(
      tracing({ ...on, OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=abc%3D%3D, x-team=core' }).otlp.headers,
    ).toEqual({
      'x-api-key': 'abc==',
      'x-team': 'core',
    });
    const fromFile = loadConfig(
      { ...on, OTEL_EXPORTER_OTLP_TRACES_HEADERS_FILE: '/run/secrets/otlp' },
      () => 'x-api-key=from-file\n',
    );
    expect(fromFile.tracing.otlp.headers).toEqual({ 'x-api-key': 'from-file' });
    for (const bad of ['api-key-without-value', 'bad header=1', 'x-key=%E0%A4%A']) {
      const found = problems({ ...on, OTEL_EXPORTER_OTLP_HEADERS: bad });
      expect(found).toEqual([
        'OTEL_EXPORTER_OTLP_HEADERS: expected header=value pairs separated by commas (values percent-encoded)',
      ]);
      expect(found.join()).not.toContain(bad);
    }
  });

  it('refuses grpc, an unknown sampler, a ratio outside 0..1 and a batch larger than the queue', () => {
    expect(
      problems({
        ...on,
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc',
        OTEL_TRACES_SAMPLER: 'jaeger_remote',
        OTEL_TRACES_SAMPLER_ARG: '1.5',
        OTEL_BSP_MAX_QUEUE_SIZE: '100',
      }),
    ).toEqual([
      'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: grpc is not supported; use http/protobuf or http/json (OTLP over HTTP, port 4318)',
      'OTEL_TRACES_SAMPLER: expected always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio, got "jaeger_remote"',
      'OTEL_TRACES_SAMPLER_ARG: expected a ratio 0..1, got "1.5"',
      'OTEL_BSP_MAX_EXPORT_BATCH_SIZE: must not exceed OTEL_BSP_MAX_QUEUE_SIZE',
    ]);
    expect(problems({ ...on, OTEL_RESOURCE_ATTRIBUTES: 'novalue' })).toHaveLength(1);
    expect(
      problems({
        ...on,
        OTEL_RESOURCE_ATTRIBUTES: Array.from({ length: 65 }, (_, i) => `k${i}=v`).join(','),
      }),
    ).toHaveLength(1);
  });
});
