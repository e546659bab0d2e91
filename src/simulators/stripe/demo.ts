// The Stripe simulator in demo mode: seeded customers and PaymentIntents, signed webhooks back to
// Junction. It signs with a secret of its own; STRIPE_WEBHOOK_SECRET (say, `stripe listen`'s, for
// `stripe listen --forward-to localhost:4000/webhooks/stripe`) is accepted beside it.
import { randomBytes } from 'node:crypto';
import type { DemoOptions, RunningDemo } from '../shared/demo.js';
import { createStripeSimulator, type StripeSimulator, type StripeSimulatorOptions } from './simulator.js';

export async function startDemo(
  options: DemoOptions<StripeSimulatorOptions>,
): Promise<RunningDemo<StripeSimulator> & { webhookSecret: string }> {
  const simulator = createStripeSimulator({
    ...options.simulator,
    faults: [...options.faults, ...(options.simulator?.faults ?? [])],
  });
  const url = await simulator.start();
  const webhookSecret = `whsec_demo_${randomBytes(24).toString('base64url')}`;
  const given = Array.isArray(options.settings.webhookSecrets)
    ? (options.settings.webhookSecrets as string[])
    : [];
  return {
    simulator,
    webhookSecret,
    remote: { secretKey: simulator.secretKey },
    settings: { apiBase: url, webhookSecrets: [webhookSecret, ...given] },
    connectWebhooks: (base) =>
      simulator.setWebhook({ url: new URL('/webhooks/stripe', base).toString(), secret: webhookSecret }),
  };
}
