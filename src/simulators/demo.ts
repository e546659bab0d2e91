// Demo mode: starts an embedded simulator for every provider the environment leaves unconfigured,
// wires their webhooks back to Junction once it listens, and reports where each provider is.
// Never called in production (config refuses unconfigured providers there).
import { randomBytes } from 'node:crypto';
import type { Config } from '../config.js';
import type { ProviderEndpoints } from '../services.js';
import { createSendGridSimulator } from './sendgrid/simulator.js';
import { generateEventWebhookKeyPair } from './sendgrid/webhooks.js';
import { faultRulesFromEnv } from './shared/faults.js';
import type { Simulator } from './shared/simulator.js';
import { createStripeSimulator } from './stripe/simulator.js';
import { createTwilioSimulator } from './twilio/simulator.js';
import { createUsersSimulator } from './users/simulator.js';

export interface RunningProviders {
  endpoints: ProviderEndpoints;
  simulators: Simulator[];
  /** Points the simulators' webhooks at Junction (its URL is known only once it listens). */
  connectWebhooks(junctionBaseUrl: string): void;
  close(): Promise<void>;
}

/**
 * Starts simulators on loopback for `simulator` providers. `SIM_LATENCY_MS`, `SIM_JITTER_MS`,
 * `SIM_ERROR_RATE` and `SIM_ERROR_STATUS` slow them down or make them fail, for demos and benches.
 */
export async function startProviders(
  config: Config,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RunningProviders> {
  const simulated = [config.users, config.stripe, config.twilio, config.sendgrid].some(
    (p) => p.kind === 'simulator',
  );
  if (config.isProduction && simulated) throw new Error('simulators never start in production');
  const faults = faultRulesFromEnv(env, 'SIM_');
  const simulators: Simulator[] = [];
  const hooks: Array<(base: string) => void> = [];

  let users: ProviderEndpoints['users'];
  if (config.users.kind === 'remote') {
    users = { ...config.users, mode: 'remote' };
  } else {
    const sim = createUsersSimulator({ seedCount: 1000, faults });
    const url = await sim.start();
    simulators.push(sim);
    users = { mode: 'simulator', apiUrl: url, tokenUrl: `${url}/oauth/token`, ...sim.credentials };
  }

  let stripe: ProviderEndpoints['stripe'];
  if (config.stripe.kind === 'remote') {
    stripe = { ...config.stripe, mode: 'remote' };
  } else {
    const sim = createStripeSimulator({ faults });
    const url = await sim.start();
    simulators.push(sim);
    const secret = `whsec_demo_${randomBytes(24).toString('base64url')}`;
    // The simulator signs with its own secret; STRIPE_WEBHOOK_SECRET (say, `stripe listen`'s, for
    // `stripe listen --forward-to localhost:4000/webhooks/stripe`) is accepted beside it.
    stripe = {
      mode: 'simulator',
      apiBase: url,
      secretKey: sim.secretKey,
      webhookSecrets: config.stripe.webhookSecrets.map((configured) => [secret, ...configured]),
    };
    hooks.push((base) => sim.setWebhook({ url: new URL('/webhooks/stripe', base).toString(), secret }));
  }

  let twilio: ProviderEndpoints['twilio'];
  if (config.twilio.kind === 'remote') {
    twilio = { ...config.twilio, mode: 'remote' };
  } else {
    const sim = createTwilioSimulator({ faults });
    const url = await sim.start();
    simulators.push(sim);
    // Status callbacks go to the StatusCallback URL Junction sends with each SMS.
    twilio = {
      mode: 'simulator',
      apiBase: url,
      accountSid: sim.accountSid,
      authToken: sim.authToken,
      fromNumber: sim.fromNumber,
      publicBaseUrl: config.publicBaseUrl ?? '',
    };
  }

  let sendgrid: ProviderEndpoints['sendgrid'];
  if (config.sendgrid.kind === 'remote') {
    sendgrid = { ...config.sendgrid, mode: 'remote' };
  } else {
    const sim = createSendGridSimulator({ faults });
    const url = await sim.start();
    simulators.push(sim);
    const keys = generateEventWebhookKeyPair();
    sendgrid = {
      mode: 'simulator',
      apiBase: url,
      apiKey: sim.apiKey,
      fromEmail: 'noreply@junction.example',
      webhookPublicKey: keys.publicKey,
    };
    hooks.push((base) =>
      sim.setEventWebhook({
        url: new URL('/webhooks/sendgrid', base).toString(),
        privateKey: keys.privateKeyPem,
      }),
    );
  }

  return {
    endpoints: { users, stripe, twilio, sendgrid },
    simulators,
    connectWebhooks: (base) => {
      for (const hook of hooks) hook(base);
    },
    close: async () => {
      await Promise.all(simulators.map((s) => s.close()));
    },
  };
}
