// Deterministic Stripe demo data linked to the users seed: a customer per user with a stripe_customer_id,
// each with 0..5 PaymentIntents from a PRNG seeded by the customer id (adding users changes no old record).
import type { SimUserRecord } from '../users/seed.js';
import { createPrng } from '../users/seed.js';
import type { PaymentIntentStatus, StripeCustomer, StripePaymentIntent } from './objects.js';
import {
  buildCustomer,
  buildPaymentIntent,
  cardError,
  paymentMethodSummary,
  randomAlphanumeric,
  stripeId,
  TEST_PAYMENT_METHODS,
  withStatus,
} from './objects.js';

/** Default PRNG seed of the Stripe demo data. */
export const DEFAULT_STRIPE_SEED = 0x5eed_5771;

/** Seeded PaymentIntents are created before this instant: 2026-11-01T00:00:00Z. */
export const STRIPE_SEED_END = Date.UTC(2026, 10, 1) / 1000;

export interface StripeSeed {
  customers: StripeCustomer[];
  /** Every customer's PaymentIntents, oldest first within a customer. */
  paymentIntents: StripePaymentIntent[];
}

const DESCRIPTIONS = [
  'Monthly subscription',
  'Annual plan',
  'Order #{n}',
  'Top-up',
  'Gift card',
  'Consulting session',
  null,
] as const;

/** Weighted statuses of seeded intents; `failed` means a declined attempt (requires_payment_method + error). */
const STATUS_WEIGHTS: ReadonlyArray<readonly [PaymentIntentStatus | 'failed', number]> = [
  ['succeeded', 0.6],
  ['failed', 0.08],
  ['requires_payment_method', 0.07],
  ['canceled', 0.1],
  ['processing', 0.05],
  ['requires_confirmation', 0.05],
  ['requires_capture', 0.05],
];

/**
 * Builds the customers and PaymentIntents for `users` (those with a `stripe_customer_id`).
 * @param seed PRNG seed. Default DEFAULT_STRIPE_SEED.
 */
export function seedStripe(users: readonly SimUserRecord[], seed = DEFAULT_STRIPE_SEED): StripeSeed {
  const customers: StripeCustomer[] = [];
  const paymentIntents: StripePaymentIntent[] = [];
  for (const user of users) {
    const customerId = user.stripe_customer_id;
    if (customerId === null) continue;
    const random = createPrng((seed ^ fnv1a(customerId)) >>> 0);
    const created = user.created_timestamp + Math.floor(random() * 3600);
    customers.push(
      buildCustomer({
        id: customerId,
        created,
        email: user.email_address,
        name: `${user.first_name} ${user.last_name}`,
        phone: user.phone_number,
        metadata: { user_id: user.user_id },
        invoicePrefix: randomAlphanumeric(8, random).toUpperCase(),
      }),
    );

    const count = Math.floor(random() * 6); // 0..5
    const times = Array.from({ length: count }, () =>
      Math.floor(created + random() * Math.max(1, STRIPE_SEED_END - created)),
    ).sort((a, b) => a - b);
    for (const time of times) paymentIntents.push(seedPaymentIntent(random, customerId, user.user_id, time));
  }
  return { customers, paymentIntents };
}

function seedPaymentIntent(
  random: () => number,
  customerId: string,
  userId: string,
  created: number,
): StripePaymentIntent {
  const id = stripeId('pi', random);
  const amount = 500 + Math.floor(random() * 200) * 250; // 5.00 .. 502.50 in steps of 2.50
  const currency = random() < 0.7 ? 'usd' : 'eur';
  const template = DESCRIPTIONS[Math.floor(random() * DESCRIPTIONS.length)] ?? null;
  const description =
    template === null ? null : template.replace('{n}', String(1000 + Math.floor(random() * 9000)));
  const outcome = weighted(random);
  const base = buildPaymentIntent({
    id,
    created,
    amount,
    currency,
    customer: customerId,
    description,
    metadata: { user_id: userId },
    clientSecretSuffix: randomAlphanumeric(25, random),
    captureMethod: outcome === 'requires_capture' ? 'manual' : 'automatic_async',
  });
  const chargeId = stripeId('ch', random);
  const paymentMethodId = stripeId('pm', random);
  if (outcome === 'requires_payment_method') return base;
  if (outcome === 'failed') {
    const token = random() < 0.5 ? 'pm_card_chargeDeclined' : 'pm_card_chargeDeclinedInsufficientFunds';
    const card = TEST_PAYMENT_METHODS[token];
    if (card?.decline === undefined) throw new Error(`test card ${token} has no decline`);
    const method = paymentMethodSummary(paymentMethodId, card, customerId, created);
    return withStatus(base, 'requires_payment_method', {
      at: created,
      chargeId,
      paymentMethodId,
      error: cardError(card.decline, chargeId, method),
    });
  }
  return withStatus(base, outcome, {
    at: created + 3600,
    chargeId,
    paymentMethodId,
    cancellationReason: random() < 0.5 ? 'requested_by_customer' : 'abandoned',
  });
}

function weighted(random: () => number): PaymentIntentStatus | 'failed' {
  let r = random();
  for (const [status, weight] of STATUS_WEIGHTS) {
    if (r < weight) return status;
    r -= weight;
  }
  return 'succeeded';
}

/** FNV-1a, 32 bit: a stable hash of an id, to give each customer its own PRNG stream. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
