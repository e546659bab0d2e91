// Entry point: config -> providers (simulators in demo mode) -> app -> listen -> graceful shutdown.
import { buildApp } from './app.js';
import { isConfigError, loadConfig } from './config.js';
import { startProviders } from './demo.js';
import { generateDemoSecret, isDemoStateError, openDemoState } from './demoState.js';
import { DEMO_TOKEN_TTL_SECONDS } from './graphql/server.js';
import { createServiceLogger } from './observability/logger.js';
import { createTracing } from './observability/tracing.js';

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  const demoState = openDemoState();
  try {
    // Demo mode signs client tokens with a secret generated once per checkout (never in the source).
    config = loadConfig(process.env, undefined, {
      demoJwtSecret: () => demoState.getOrCreate('jwtSecret', generateDemoSecret),
    });
  } catch (error) {
    if (isConfigError(error) || isDemoStateError(error)) {
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
  if (config.jwt.isDemoSecret) {
    logger.info(
      { file: demoState.file },
      'demo mode: client tokens are signed with the generated secret kept in this file',
    );
  }
  const providers = await startProviders(config);
  for (const sim of providers.simulators) {
    logger.info(
      { provider: sim.name, url: sim.url },
      `${sim.name}: not configured, running its embedded simulator`,
    );
  }
  // Demo mode keeps connected accounts (embedded database, token key) in the demo state directory.
  const app = await buildApp({
    config,
    endpoints: providers.endpoints,
    logger,
    tracing,
    accounts: { demoState },
  });
  // SIGHUP: re-read every secret given as a file now (they are watched and polled anyway).
  process.on('SIGHUP', () => {
    app
      .reloadSecrets('SIGHUP')
      .catch((error: unknown) => logger.error({ err: error }, 'secret reload failed'));
  });
  await app.server.listen({ port: config.port, host: config.host });
  const anyAddress = config.host === '0.0.0.0' || config.host === '::';
  // An IPv6 literal goes in brackets inside a URL.
  const urlHost = (host: string) => (host.includes(':') && !host.startsWith('[') ? `[${host}]` : host);
  const shown = anyAddress ? 'localhost' : urlHost(config.host);
  const port = (app.server.server.address() as { port: number } | null)?.port ?? config.port;
  logger.info({ url: `http://${shown}:${port}/graphql` }, 'Junction is listening');
  if (!config.publicBaseUrl) {
    // Demo mode: providers (simulators on this machine) call back to the local listener.
    const local = `http://${anyAddress ? '127.0.0.1' : urlHost(config.host)}:${port}`;
    app.setPublicBaseUrl(local);
    providers.connectWebhooks(local);
  } else {
    providers.connectWebhooks(config.publicBaseUrl);
  }
  if (app.demoToken) {
    const token = app.demoToken;
    const hours = Math.min(DEMO_TOKEN_TTL_SECONDS, config.jwt.maxTokenLifetimeSeconds) / 3600;
    process.stdout.write(
      `\nJunction demo mode: GraphQL at http://${shown}:${port}/graphql\n` +
        `Demo admin token (sub usr_0001, ${Number(hours.toFixed(2))}h):\n  Authorization: Bearer ${token}\n\n`,
    );
  }

  // SIGTERM (orchestrators): /readyz answers 503 at once while requests are still served for
  // SHUTDOWN_READINESS_DELAY_MS, so balancers stop routing here; then drain within SHUTDOWN_GRACE_MS.
  // SIGINT (Ctrl-C), or a second signal, drains at once.
  let draining = false;
  let readinessDelay: NodeJS.Timeout | undefined;
  const drain = (signal: string) => {
    if (draining) return;
    draining = true;
    clearTimeout(readinessDelay);
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
  let signalled = false;
  const shutdown = (signal: string) => {
    const delayMs = signal === 'SIGTERM' ? config.shutdownReadinessDelayMs : 0;
    if (signalled || delayMs === 0) {
      app.beginDrain();
      drain(signal);
      return;
    }
    signalled = true;
    app.beginDrain();
    logger.info(
      { signal, readinessDelayMs: delayMs },
      'shutting down: readiness answers 503; still serving until the delay ends',
    );
    readinessDelay = setTimeout(() => drain(signal), delayMs);
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
