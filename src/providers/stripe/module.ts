// Stripe as a provider module: billing (customers and PaymentIntents), with verified webhooks.
import { BearerAuth } from '../../upstream/auth.js';
import type { ProviderModule } from '../module.js';
import { STRIPE_PROVIDER, StripeClient } from './client.js';
import { stripeConfig } from './config.js';
import { type BillingLoaders, createBillingLoaders } from './loaders.js';
import { stripeWebhooks } from './webhooks.js';

type Spec = typeof stripeConfig;

export const stripeModule: ProviderModule<
  typeof STRIPE_PROVIDER,
  'billing',
  Spec['remote'],
  Spec['settings'],
  StripeClient,
  BillingLoaders
> = {
  name: STRIPE_PROVIDER,
  capability: 'billing',
  config: stripeConfig,
  policy: (settings) => ({
    ratePerSecond: settings.ratePerSecond,
    // Payments (writes) and reads fail for different reasons at Stripe: separate breakers.
    breakerGroup: (route) => (route.startsWith('POST') ? `${STRIPE_PROVIDER}:writes` : STRIPE_PROVIDER),
  }),
  createClient: ({ remote, settings }, deps) =>
    new StripeClient({
      ...deps.common,
      baseUrl: settings.apiBase,
      auth: new BearerAuth(remote.secretKey),
      cache: deps.cache,
      customerCachePolicy: {
        ttlSeconds: settings.customerTtlSeconds,
        staleIfErrorSeconds: settings.staleIfErrorSeconds,
      },
      paymentsCachePolicy: {
        ttlSeconds: settings.paymentsTtlSeconds,
        staleIfErrorSeconds: settings.staleIfErrorSeconds,
      },
      executor: deps.executor,
    }),
  createLoaders: createBillingLoaders,
  webhooks: stripeWebhooks,
};
