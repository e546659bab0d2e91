// Child process: another Junction over the providers a harness started (JUNCTION_TEST_ENDPOINTS, the
// harness's endpoints as JSON), configured from the environment (JWT_SECRET, DATABASE_URL,
// TOKEN_ENCRYPTION_KEYS...). Prints `READY <url>` once it listens; SIGTERM closes it. For tests of
// what replicas share: the connected-accounts database.
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/observability/logger.js';
import type { ProviderEndpoints } from '../../src/services.js';

const endpoints = JSON.parse(process.env.JUNCTION_TEST_ENDPOINTS ?? '{}') as ProviderEndpoints;
const config = loadConfig(process.env);
const app = await buildApp({ config, endpoints, logger: createLogger(config.logLevel) });
await app.server.listen({ port: 0, host: '127.0.0.1' });
const url = `http://127.0.0.1:${(app.server.server.address() as { port: number }).port}`;
app.setPublicBaseUrl(url);
process.stdout.write(`READY ${url}\n`);
process.on('SIGTERM', () => {
  void app.close().then(() => process.exit(0));
});
