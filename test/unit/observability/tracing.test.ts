// createTracing: nothing when off; when on, a shutdown that a silent collector cannot hold.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { createTracing } from '../../../src/observability/tracing.js';

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

describe('createTracing', () => {
  it('builds nothing when tracing is off', async () => {
    expect(await createTracing(loadConfig({}).tracing)).toBeUndefined();
  });

  it('stops within shutdownFlushMs when the collector never answers, after trying to export', async () => {
    let exports = 0;
    server = createServer(() => {
      exports += 1; // never answers
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const config = loadConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
      OTEL_EXPORTER_OTLP_TIMEOUT: '60000', // the exporter alone would wait a minute
    }).tracing;
    const tracing = (await createTracing({ ...config, shutdownFlushMs: 100 }))!;
    tracing.tracer.startSpan('queued').end();
    // Unbounded, this would outlast the test's own timeout.
    await tracing.shutdown();
    expect(exports).toBe(1);
  });
});
