// Entry point: config -> providers (simulators in demo mode) -> app -> listen -> graceful shutdown.
import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { createServiceLogger } from './observability/logger.js';
import { createTracing } from './observability/tracing.js';
import { startProviders } from './simulators/demo.js';

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  // Before the logger: its lines carry the active span's trace id when tracing is on.
  const tracing = await createTracing(config.tracing);
  const { logger, flush } = createServiceLogger(config.logLevel, tracing);
  // Buffered log lines reach stdout before any exit.
  process.on('exit', flush);
  const providers = await startProviders(config);
  for (const sim of providers.simulators) {
    logger.info(
      { provider: sim.name, url: sim.url },
      `${sim.name}: not configured, running its embedded simulator`,
    );
  }
  const app = await buildApp({ config, endpoints: providers.endpoints, logger, tracing });
  await app.server.listen({ port: config.port, host: config.host });
  const shown = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const port = (app.server.server.address() as { port: number } | null)?.port ?? config.port;
  logger.info({ url: `http://${shown}:${port}/graphql` }, 'Junction is listening');
  if (!config.publicBaseUrl) {
    // Demo mode: providers (simulators on this machine) call back to the local listener.
    const local = `http://${config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host}:${port}`;
    app.setPublicBaseUrl(local);
    providers.connectWebhooks(local);
  } else {
    providers.connectWebhooks(config.publicBaseUrl);
  }
  if (app.demoToken) {
    const token = app.demoToken;
    process.stdout.write(
      `\nJunction demo mode: GraphQL at http://${shown}:${port}/graphql\n` +
        `Demo admin token (sub usr_0001, 24h):\n  Authorization: Bearer ${token}\n\n`,
    );
  }

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, graceMs: config.shutdownGraceMs }, 'shutting down: draining requests in flight');
    const force = setTimeout(() => {
      logger.error('shutdown grace period ran out; exiting with requests still in flight');
      process.exit(1);
    }, config.shutdownGraceMs);
    force.unref();
    app
      .close()
      .then(() => providers.close())
      .then(() => {
        logger.info('shutdown complete');
        process.exit(0);
      })
      .catch((error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      });
  };
  // `on`, not `once`: tsx's own handler re-raises a signal that no other listener is left to handle.
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(
    `Junction failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
