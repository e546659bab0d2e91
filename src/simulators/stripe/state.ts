// The Stripe account one simulator serves: its objects, the PaymentMethods made from test tokens, counts
// of what the API created and the event log. Resource modules take it as an argument and change it in place.
import type { StripeEventLog } from './events.js';
import type { StripeCustomer, StripePaymentIntent, TestCard } from './objects.js';
import type { StripeSeed } from './seed.js';

export interface StripeState {
  /** Live customers by id (seeded and created). */
  readonly customers: Map<string, StripeCustomer>;
  /** Live PaymentIntents by id; Map order is creation order (the list tie-break for equal `created`). */
  readonly paymentIntents: Map<string, StripePaymentIntent>;
  /** PaymentMethods created from test tokens (`pm_card_visa` -> `pm_...`), so their ids can be reused. */
  readonly paymentMethods: Map<string, TestCard>;
  /** Objects created through the API (idempotent replays excluded), until reset. */
  readonly created: { customer: number; payment_intent: number };
  readonly events: StripeEventLog;
}

export function createStripeState(seed: StripeSeed, events: StripeEventLog): StripeState {
  return {
    customers: new Map(seed.customers.map((c) => [c.id, c])),
    paymentIntents: new Map(seed.paymentIntents.map((pi) => [pi.id, pi])),
    paymentMethods: new Map(),
    created: { customer: 0, payment_intent: 0 },
    events,
  };
}
