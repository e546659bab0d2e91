// Child process: Junction itself, configured from the environment exactly as `npm start` would be
// (NODE_ENV=production, every provider pointed at the bench's simulators), plus two bench-only
// controls over IPC: clear the shared cache, and "cold" mode (cache cleared before every request,
// so every request goes upstream, as for a system without a shared cache).
import { buildApp } from '../../../src/app.js';
import { loadConfig } from '../../../src/config.js';
import { startProviders } from '../../../src/demo.js';
import { createServiceLogger } from '../../../src/observability/logger.js';
import { createTracing } from '../../../src/observability/tracing.js';
import { failStartup, serveParent } from '../lib/child.js';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  // The same logger and tracing main.ts uses (asynchronous stdout; trace ids on lines when tracing
  // is on), so S6 measures the logging tax as shipped.
  const tracing = await createTracing(config.tracing);
  const { logger, flush } = createServiceLogger(config.logLevel, tracing);
  process.on('exit', flush);
  const providers = await startProviders(config);
  if (providers.simulators.length > 0) throw new Error('bench: Junction must use the bench simulators');
  const app = await buildApp({ config, endpoints: providers.endpoints, logger, tracing });
  let cold = false;
  // Runs before Fastify's own request handler, for every request.
  app.server.server.prependListener('request', () => {
    if (cold) app.cache.clear();
  });
  await app.server.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.server.address() as { port: number };
  serveParent(
    { url: `http://127.0.0.1:${port}` },
    {
      clearCache: () => {
        app.cache.clear();
        return true;
      },
      setCold: (m) => {
        cold = m.on === true;
        if (cold) app.cache.clear();
        return cold;
      },
      stats: () => ({ rss: process.memoryUsage().rss, cache: app.cache.stats() }),
      // bench:memory: heap and RSS after a full collection (the child runs with --expose-gc).
      memory: () => {
        const gc = (globalThis as { gc?: () => void }).gc;
        if (gc) for (let i = 0; i < 3; i++) gc();
        const m = process.memoryUsage();
        return {
          collected: gc !== undefined,
          rss: m.rss,
          heapUsed: m.heapUsed,
          external: m.external,
          arrayBuffers: m.arrayBuffers,
          cache: app.cache.stats(),
        };
      },
    },
    () => app.close(),
  );
}

main().catch(failStartup);
