// Child process: another Junction over the providers a harness started (JUNCTION_TEST_ENDPOINTS, the
// harness's endpoints as JSON), configured from the environment (JWT_SECRET, DATABASE_URL,
// TOKEN_ENCRYPTION_KEYS...). Prints `READY <url>` once it listens; SIGTERM closes it. For tests of
// what replicas share: the connected-accounts database.
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { asSectionValues } from '../../src/configSchema.js';
import { createLogger } from '../../src/observability/logger.js';
import { providerModules } from '../../src/providers/registry.js';
import type { ProviderEndpoints } from '../../src/services.js';

// The endpoints come as plain values; rotating secrets become Secret handles again.
const plain = JSON.parse(process.env.JUNCTION_TEST_ENDPOINTS ?? '{}') as Record<
  string,
  { mode: 'remote' | 'simulator'; remote: Record<string, unknown>; settings: Record<string, unknown> }
>;
const endpoints = Object.fromEntries(
  providerModules.map((m) => {
    const e = plain[m.name];
    if (!e) throw new Error(`JUNCTION_TEST_ENDPOINTS: no endpoint for ${m.name}`);
    return [
      m.name,
      {
        mode: e.mode,
        remote: asSectionValues(m.config.remote, e.remote),
        settings: asSectionValues(m.config.settings, e.settings),
      },
    ];
  }),
) as unknown as ProviderEndpoints;
const config = loadConfig(process.env);
const app = await buildApp({ config, endpoints, logger: createLogger(config.logLevel) });
await app.server.listen({ port: 0, host: '127.0.0.1' });
const url = `http://127.0.0.1:${(app.server.server.address() as { port: number }).port}`;
app.setPublicBaseUrl(url);
process.stdout.write(`READY ${url}\n`);
process.on('SIGTERM', () => {
  void app.close().then(() => process.exit(0));
});
