// Stripe's configuration: its key, webhook secrets, rate and cache lifetimes, written once.
import { decimal, integer, list, rotating, secret, url } from '../../configSchema.js';
import type { ProviderConfigSpec } from '../module.js';

const remote = {
  secretKey: rotating(
    secret('STRIPE_SECRET_KEY', { doc: 'Secret API key (`sk_live_...`, `sk_test_...`).' }),
    'none',
  ),
};

const settings = {
  apiBase: url('STRIPE_API_BASE', { default: 'https://api.stripe.com', doc: 'Stripe API base URL.' }),
  webhookSecrets: rotating(
    list('STRIPE_WEBHOOK_SECRET', {
      default: [],
      defaultDoc: 'demo: generated; production: required',
      secret: true,
      maxItems: 8,
      expected: 'one or more comma-separated secrets',
      minItems: 1,
      item: (part) => (part.length <= 512 ? part : undefined),
      doc: "Webhook signing secret(s), comma-separated while rotating; in demo mode accepted beside the simulator's own (e.g. `stripe listen`'s).",
    }),
    'webhook',
  ),
  ratePerSecond: decimal('STRIPE_RATE_LIMIT_PER_SECOND', {
    min: 0.1,
    max: 100_000,
    default: 90, // Stripe allows 100 read+write requests/s in live mode: stay under it
    doc: 'Requests per second per credential, never exceeded in any second, against Stripe.',
  }),
  customerTtlSeconds: integer('STRIPE_CUSTOMER_CACHE_TTL_SECONDS', {
    min: 0,
    max: 86_400,
    default: 60,
    unit: 's',
    doc: 'Freshness of a cached customer (they change rarely).',
  }),
  paymentsTtlSeconds: integer('STRIPE_PAYMENTS_CACHE_TTL_SECONDS', {
    min: 0,
    max: 86_400,
    default: 15,
    unit: 's',
    doc: 'Freshness of a cached payments page (invalidated by mutations and webhooks).',
  }),
  staleIfErrorSeconds: integer('STRIPE_CACHE_SIE_SECONDS', {
    min: 0,
    max: 86_400,
    default: 300,
    unit: 's',
    doc: 'How long stale Stripe data is served while Stripe fails.',
  }),
};

export const stripeConfig: ProviderConfigSpec<typeof remote, typeof settings> = {
  title: 'Stripe',
  remote,
  settings,
  check: ({ mode, settings }, { isProduction }) =>
    isProduction && mode === 'remote' && settings.webhookSecrets.current().length === 0
      ? ['STRIPE_WEBHOOK_SECRET: required in production']
      : [],
};
