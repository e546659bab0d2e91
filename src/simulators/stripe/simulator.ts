// Stripe simulator: /v1 customers and payment_intents over seeded state, with Stripe's auth, error
// shapes, idempotency keys, list pagination, test-card declines, events and signed webhooks. This file
// composes the parts: api.ts (around every route), customers.ts, paymentIntents.ts, paymentIntentList.ts
// (the resources, over state.ts) and events.ts (the event log and its webhooks).
import type { DeliveryAttempt } from '../shared/outbox.js';
import { createOutbox } from '../shared/outbox.js';
import type { ProviderSimulatorOptions, Simulator } from '../shared/simulator.js';
import { createSimulator } from '../shared/simulator.js';
import { seedUsers as buildSeedUsers } from '../users/seed.js';
import { createStripeApi, retrieve } from './api.js';
import { createCustomer } from './customers.js';
import { stripeFaultError } from './errors.js';
import { createStripeEventLog } from './events.js';
import type { PaymentIntentStatus, StripeCustomer, StripeEvent, StripePaymentIntent } from './objects.js';
import { STRIPE_API_VERSION } from './objects.js';
import { listPaymentIntents } from './paymentIntentList.js';
import { createPaymentIntent, setPaymentIntentStatus } from './paymentIntents.js';
import { seedStripe } from './seed.js';
import { createStripeState } from './state.js';
import type { StripeWebhookTarget } from './webhooks.js';

export type { StripeWebhookTarget } from './webhooks.js';

export interface StripeSimulatorOptions extends ProviderSimulatorOptions {
  /** Secret key accepted as `Authorization: Bearer <key>` (or as the HTTP Basic user name). Default: `sk_test_junction_demo`. */
  secretKey?: string;
  /** Further keys of the same account (e.g. a restricted `rk_test_` key); idempotency keys are scoped per API key. Default: none. */
  additionalKeys?: readonly string[];
  /** Seeded users (via the users seed) whose Stripe customers and PaymentIntents exist at start; 0 starts empty. Default: 1000. */
  seedUsers?: number;
  /** `Stripe-Version` reported when a request does not send one (a sent one is echoed). Default: STRIPE_API_VERSION. */
  apiVersion?: string;
  /** Endpoint that receives every event, signed with its secret; change it later with `setWebhook`. Default: none (events are only recorded). */
  webhook?: StripeWebhookTarget;
  /** Waits before webhook retries, in ms; the length is the number of retries after the first attempt. Default: [100, 400, 1600]. */
  webhookRetryDelaysMs?: readonly number[];
  /** Timeout of one webhook attempt, in ms. Default: 5000. */
  webhookTimeoutMs?: number;
}

export interface StripeSimulator extends Simulator {
  /** Live customers by id (seeded and created); tests may add or delete entries. */
  readonly customers: Map<string, StripeCustomer>;
  /** Live PaymentIntents by id; Map order is creation order (the list tie-break for equal `created`). */
  readonly paymentIntents: Map<string, StripePaymentIntent>;
  readonly secretKey: string;
  readonly apiVersion: string;
  /** Every event since creation, oldest first. */
  readonly events: StripeEvent[];
  /** Every webhook delivery attempt, in the order they finished. */
  readonly webhookDeliveries: DeliveryAttempt[];
  /** Objects created through the API (idempotent replays excluded) since creation or `resetCounters()`. */
  createdCount(kind?: 'customer' | 'payment_intent'): number;
  /** Moves a PaymentIntent to `status` (as Stripe would, e.g. after async processing) and emits the matching event. */
  setPaymentIntentStatus(id: string, status: PaymentIntentStatus): StripePaymentIntent;
  /** Sets or clears the webhook endpoint for events from now on. */
  setWebhook(target: StripeWebhookTarget | undefined): void;
  /** Resolves once every webhook queued so far has been delivered or has used up its retries. */
  flushWebhooks(): Promise<void>;
  /** Accepts another API key of the account (Stripe's "roll key" keeps the old one working for a while). */
  addApiKey(key: string): void;
  /** Stops accepting an API key (the rolled key's expiry): it then gets Stripe's 401. */
  removeApiKey(key: string): void;
}

/** Route names, for counters and fault matching. */
export const STRIPE_ROUTES = {
  retrieveCustomer: 'GET /v1/customers/:id',
  createCustomer: 'POST /v1/customers',
  listPaymentIntents: 'GET /v1/payment_intents',
  retrievePaymentIntent: 'GET /v1/payment_intents/:id',
  createPaymentIntent: 'POST /v1/payment_intents',
} as const;

export const DEFAULT_STRIPE_SECRET_KEY = 'sk_test_junction_demo';

export function createStripeSimulator(opts: StripeSimulatorOptions = {}): StripeSimulator {
  const secretKey = opts.secretKey ?? DEFAULT_STRIPE_SECRET_KEY;
  const apiVersion = opts.apiVersion ?? STRIPE_API_VERSION;
  const outbox = createOutbox({ retryDelaysMs: opts.webhookRetryDelaysMs, timeoutMs: opts.webhookTimeoutMs });
  const events = createStripeEventLog({ apiVersion, outbox, webhook: opts.webhook });
  const state = createStripeState(seedStripe(buildSeedUsers(opts.seedUsers ?? 1000)), events);
  const apiKeys = new Set([secretKey, ...(opts.additionalKeys ?? [])]);
  const api = createStripeApi({ apiKeys, apiVersion });

  const sim = createSimulator({
    name: 'stripe',
    host: opts.host,
    port: opts.port,
    requestIdHeader: 'request-id',
    faults: opts.faults,
    errorShape: stripeFaultError,
    routes: [
      api.route('GET', '/v1/customers/:id', (call) => retrieve(state.customers, 'customer', call)),
      api.route('POST', '/v1/customers', (call) => createCustomer(state, call)),
      api.route('GET', '/v1/payment_intents/:id', (call) =>
        retrieve(state.paymentIntents, 'payment_intent', call),
      ),
      api.route('GET', '/v1/payment_intents', (call) => listPaymentIntents(state, call)),
      api.route('POST', '/v1/payment_intents', (call) => createPaymentIntent(state, call)),
    ],
    onClose: () => outbox.close(),
    onReset: () => {
      state.created.customer = 0;
      state.created.payment_intent = 0;
    },
  });

  const own: Omit<StripeSimulator, keyof Simulator> = {
    customers: state.customers,
    paymentIntents: state.paymentIntents,
    secretKey,
    apiVersion,
    events: events.events,
    webhookDeliveries: outbox.attempts,
    createdCount: (kind) =>
      kind === undefined ? state.created.customer + state.created.payment_intent : state.created[kind],
    setPaymentIntentStatus: (id, status) => setPaymentIntentStatus(state, id, status),
    setWebhook: (target) => events.setWebhook(target),
    flushWebhooks: () => outbox.flush(),
    addApiKey: (key) => {
      if (key === '') throw new TypeError('API key: expected a non-empty string');
      apiKeys.add(key);
    },
    removeApiKey: (key) => {
      apiKeys.delete(key);
    },
  };
  return Object.assign(sim, own);
}
