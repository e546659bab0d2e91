// Demo mode as main.ts assembles it (startProviders + buildApp): STRIPE_WEBHOOK_SECRET set by the
// user is accepted beside the Stripe simulator's own secret, so `stripe listen --forward-to` works.
import Stripe from 'stripe';
import { afterEach, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { type RunningProviders, startProviders } from '../../src/demo.js';
import { createLogger } from '../../src/observability/logger.js';

import { isSecret } from '../../src/secrets.js';

let app: App | undefined;
let providers: RunningProviders | undefined;
afterEach(async () => {
  await app?.close();
  await providers?.close();
  app = undefined;
  providers = undefined;
});

async function startDemo(env: Record<string, string>): Promise<string> {
  const config = loadConfig({ LOG_LEVEL: 'silent', ...env });
  providers = await startProviders(config, {});
  app = await buildApp({ config, endpoints: providers.endpoints, logger: createLogger('silent') });
  await app.server.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(app.server.server.address() as { port: number }).port}`;
  app.setPublicBaseUrl(url);
  providers.connectWebhooks(url);
  return url;
}

const event = JSON.stringify({
  id: 'evt_from_stripe_cli',
  object: 'event',
  type: 'customer.updated',
  data: { object: { id: 'cus_x', object: 'customer' } },
});
const post = (url: string, secret: string) =>
  fetch(`${url}/webhooks/stripe`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'stripe-signature': new Stripe('sk_test_unused').webhooks.generateTestHeaderString({
        payload: event,
        secret,
      }),
    },
    body: event,
  });

describe('demo mode webhooks', () => {
  it('accepts events signed with STRIPE_WEBHOOK_SECRET beside the simulator’s own secret', async () => {
    const url = await startDemo({ STRIPE_WEBHOOK_SECRET: 'whsec_from_stripe_listen' });
    expect(providers!.endpoints.stripe.mode).toBe('simulator');
    const secrets = providers!.endpoints.stripe.settings.webhookSecrets;
    expect(isSecret(secrets) ? secrets.current() : secrets).toHaveLength(2);
    const res = await post(url, 'whsec_from_stripe_listen');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: true, duplicate: false });
    expect((await post(url, 'whsec_someone_else')).status).toBe(400);
  });

  it('without it, only the simulator’s own secret verifies', async () => {
    const url = await startDemo({});
    const secrets = providers!.endpoints.stripe.settings.webhookSecrets;
    expect(isSecret(secrets) ? secrets.current() : secrets).toHaveLength(1);
    expect((await post(url, 'whsec_from_stripe_listen')).status).toBe(400);
  });
});
