// Child process for `npm run bench:callgrind`: Junction from the built dist/ (plain `node`, no tsx,
// no IPC), configured from the environment as test/bench/servers/junction.ts is. It prints
// `listening <port>` on stderr once it answers (stdout is Junction's log); BENCH_COLD=1 empties the shared cache before every
// request (as the bench's S1 does); SIGTERM closes it. BENCH_DIST_DIR names the built directory.
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const dist = resolve(process.env.BENCH_DIST_DIR ?? 'dist');
const load = (file) => import(pathToFileURL(join(dist, file)).href);

async function main() {
  const [{ buildApp }, { loadConfig }, { startProviders }, { createServiceLogger }, { createTracing }] =
    await Promise.all([
      load('app.js'),
      load('config.js'),
      load('demo.js'),
      load('observability/logger.js'),
      load('observability/tracing.js'),
    ]);
  const config = loadConfig(process.env);
  const tracing = await createTracing(config.tracing);
  const { logger, flush } = createServiceLogger(config.logLevel, tracing);
  process.on('exit', flush);
  const providers = await startProviders(config);
  if (providers.simulators.length > 0) throw new Error('bench: Junction must use the bench simulators');
  const app = await buildApp({ config, endpoints: providers.endpoints, logger, tracing });
  if (process.env.BENCH_COLD === '1') {
    app.server.server.prependListener('request', () => app.cache.clear());
  }
  await app.server.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.server.address();
  process.stderr.write(`listening ${port}\n`);
  // bench:callgrind starts each measured window from a fully collected heap (node --expose-gc):
  // SIGUSR2 collects, then says so on stderr.
  if (typeof globalThis.gc === 'function') {
    process.on('SIGUSR2', () => {
      globalThis.gc();
      globalThis.gc();
      process.stderr.write('collected\n');
    });
  }
  let closing = false;
  process.on('SIGTERM', () => {
    if (closing) return;
    closing = true;
    app.close().finally(() => process.exit(0));
  });
}

main().catch((error) => {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exit(1);
});
