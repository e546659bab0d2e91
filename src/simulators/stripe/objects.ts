// Stripe API objects as the simulator serves them: customer, payment_intent and event, each with
// every field of Stripe's published example (fixtures3.json), so a client sees Stripe's exact shape.
import { randomBytes } from 'node:crypto';

/** API version the simulator reports when the client does not pin one (the one stripe-node 23 pins). */
export const STRIPE_API_VERSION = '2026-10-28.endive';

export type Metadata = Record<string, string>;

export interface StripeCustomer {
  id: string;
  object: 'customer';
  address: {
    city: string | null;
    country: string | null;
    line1: string | null;
    line2: string | null;
    postal_code: string | null;
    state: string | null;
  } | null;
  balance: number;
  created: number;
  currency: string | null;
  default_source: string | null;
  delinquent: boolean;
  description: string | null;
  discount: Record<string, unknown> | null;
  email: string | null;
  invoice_prefix: string;
  invoice_settings: {
    custom_fields: unknown[] | null;
    default_payment_method: string | null;
    footer: string | null;
    rendering_options: { amount_tax_display: string | null; template: string | null } | null;
  };
  livemode: boolean;
  metadata: Metadata;
  name: string | null;
  next_invoice_sequence: number;
  phone: string | null;
  preferred_locales: string[];
  shipping: Record<string, unknown> | null;
  tax_exempt: 'none' | 'exempt' | 'reverse';
  test_clock: string | null;
}

export type PaymentIntentStatus =
  | 'requires_payment_method'
  | 'requires_confirmation'
  | 'requires_action'
  | 'processing'
  | 'requires_capture'
  | 'canceled'
  | 'succeeded';

export const PAYMENT_INTENT_STATUSES: readonly PaymentIntentStatus[] = [
  'requires_payment_method',
  'requires_confirmation',
  'requires_action',
  'processing',
  'requires_capture',
  'canceled',
  'succeeded',
];

/** Stripe's error object as it appears in `last_payment_error` (and, with `payment_intent`, in a 402). */
export interface StripePaymentError {
  type: 'card_error' | 'invalid_request_error' | 'api_error' | 'idempotency_error';
  code?: string;
  decline_code?: string;
  message: string;
  param?: string;
  doc_url?: string;
  charge?: string;
  payment_method?: StripePaymentMethodSummary;
}

/** The part of a PaymentMethod embedded in card errors. */
export interface StripePaymentMethodSummary {
  id: string;
  object: 'payment_method';
  type: 'card';
  card: {
    brand: string;
    last4: string;
    exp_month: number;
    exp_year: number;
    funding: string;
    country: string;
  };
  created: number;
  customer: string | null;
  livemode: boolean;
  metadata: Metadata;
}

export interface StripePaymentIntent {
  id: string;
  object: 'payment_intent';
  amount: number;
  amount_capturable: number;
  amount_details: { tip: Record<string, unknown> };
  amount_received: number;
  application: string | null;
  application_fee_amount: number | null;
  automatic_payment_methods: { enabled: boolean } | null;
  canceled_at: number | null;
  cancellation_reason: string | null;
  capture_method: 'automatic' | 'automatic_async' | 'manual';
  client_secret: string;
  confirmation_method: 'automatic' | 'manual';
  created: number;
  currency: string;
  customer: string | null;
  customer_account: string | null;
  description: string | null;
  excluded_payment_method_types: string[] | null;
  last_payment_error: StripePaymentError | null;
  latest_charge: string | null;
  livemode: boolean;
  managed_payments: { enabled: boolean } | null;
  metadata: Metadata;
  next_action: { type: string } | null;
  on_behalf_of: string | null;
  payment_method: string | null;
  payment_method_configuration_details: { id: string; parent: string | null } | null;
  payment_method_options: Record<string, unknown>;
  payment_method_types: string[];
  processing: { type: string } | null;
  receipt_email: string | null;
  review: string | null;
  setup_future_usage: 'on_session' | 'off_session' | null;
  shipping: Record<string, unknown> | null;
  source: string | null;
  statement_descriptor: string | null;
  statement_descriptor_suffix: string | null;
  status: PaymentIntentStatus;
  transfer_data: { destination: unknown } | null;
  transfer_group: string | null;
}

export type StripeEventType =
  | 'customer.created'
  | 'payment_intent.created'
  | 'payment_intent.succeeded'
  | 'payment_intent.payment_failed'
  | 'payment_intent.processing'
  | 'payment_intent.canceled'
  | 'payment_intent.requires_action'
  | 'payment_intent.amount_capturable_updated';

export interface StripeEvent {
  id: string;
  object: 'event';
  api_version: string;
  created: number;
  /** A snapshot of the object right after the change (later changes don't alter it). */
  data: { object: StripePaymentIntent | StripeCustomer };
  livemode: false;
  /** Webhook endpoints that had not yet received the event when it was created. */
  pending_webhooks: number;
  /** The API request that caused the event; both null for changes made through test helpers. */
  request: { id: string | null; idempotency_key: string | null };
  type: StripeEventType;
}

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** `length` characters of [A-Za-z0-9], from `random` (a seeded PRNG) or from crypto randomness. */
export function randomAlphanumeric(length: number, random?: () => number): string {
  let out = '';
  const bytes = random === undefined ? randomBytes(length) : undefined;
  for (let i = 0; i < length; i++) {
    const r = random === undefined ? (bytes?.[i] ?? 0) / 256 : random();
    out += ALPHANUMERIC[Math.floor(r * ALPHANUMERIC.length)] ?? 'A';
  }
  return out;
}

/** A Stripe-looking id: `pi_` + 24 characters (the length Stripe uses for most objects). */
export function stripeId(prefix: string, random?: () => number, length = 24): string {
  return `${prefix}_${randomAlphanumeric(length, random)}`;
}

export interface CustomerFields {
  id: string;
  created: number;
  email?: string | null;
  name?: string | null;
  phone?: string | null;
  description?: string | null;
  metadata?: Metadata;
  invoicePrefix: string;
}

export function buildCustomer(f: CustomerFields): StripeCustomer {
  return {
    id: f.id,
    object: 'customer',
    address: null,
    balance: 0,
    created: f.created,
    currency: null,
    default_source: null,
    delinquent: false,
    description: f.description ?? null,
    discount: null,
    email: f.email ?? null,
    invoice_prefix: f.invoicePrefix,
    invoice_settings: {
      custom_fields: null,
      default_payment_method: null,
      footer: null,
      rendering_options: null,
    },
    livemode: false,
    metadata: { ...f.metadata },
    name: f.name ?? null,
    next_invoice_sequence: 1,
    phone: f.phone ?? null,
    preferred_locales: [],
    shipping: null,
    tax_exempt: 'none',
    test_clock: null,
  };
}

export interface PaymentIntentFields {
  id: string;
  created: number;
  amount: number;
  currency: string;
  clientSecretSuffix: string;
  customer?: string | null;
  description?: string | null;
  metadata?: Metadata;
  /** Explicit payment_method_types; when absent, automatic payment methods are on (Stripe's default). */
  paymentMethodTypes?: string[];
  captureMethod?: StripePaymentIntent['capture_method'];
  receiptEmail?: string | null;
  setupFutureUsage?: StripePaymentIntent['setup_future_usage'];
  statementDescriptorSuffix?: string | null;
}

/** A new PaymentIntent in `requires_payment_method`, before any payment method or confirmation. */
export function buildPaymentIntent(f: PaymentIntentFields): StripePaymentIntent {
  const automatic = f.paymentMethodTypes === undefined;
  return {
    id: f.id,
    object: 'payment_intent',
    amount: f.amount,
    amount_capturable: 0,
    amount_details: { tip: {} },
    amount_received: 0,
    application: null,
    application_fee_amount: null,
    automatic_payment_methods: automatic ? { enabled: true } : null,
    canceled_at: null,
    cancellation_reason: null,
    capture_method: f.captureMethod ?? 'automatic_async',
    client_secret: `${f.id}_secret_${f.clientSecretSuffix}`,
    confirmation_method: 'automatic',
    created: f.created,
    currency: f.currency,
    customer: f.customer ?? null,
    customer_account: null,
    description: f.description ?? null,
    excluded_payment_method_types: null,
    last_payment_error: null,
    latest_charge: null,
    livemode: false,
    managed_payments: null,
    metadata: { ...f.metadata },
    next_action: null,
    on_behalf_of: null,
    payment_method: null,
    payment_method_configuration_details: automatic
      ? { id: 'pmc_1JunctionDemoConfig0000', parent: null }
      : null,
    payment_method_options: {
      card: { installments: null, mandate_options: null, network: null, request_three_d_secure: 'automatic' },
    },
    payment_method_types: f.paymentMethodTypes ?? ['card'],
    processing: null,
    receipt_email: f.receiptEmail ?? null,
    review: null,
    setup_future_usage: f.setupFutureUsage ?? null,
    shipping: null,
    source: null,
    statement_descriptor: null,
    statement_descriptor_suffix: f.statementDescriptorSuffix ?? null,
    status: 'requires_payment_method',
    transfer_data: null,
    transfer_group: null,
  };
}

export interface CardDecline {
  code: string;
  declineCode: string;
  message: string;
}

/** How a Stripe test card behaves when a PaymentIntent is confirmed with it. */
export interface TestCard {
  brand: string;
  last4: string;
  /** Undefined when the charge succeeds. */
  decline?: CardDecline;
}

/** The card used when a PaymentIntent is confirmed without a payment method: Stripe's `pm_card_visa`. */
export const VISA_TEST_CARD: TestCard = { brand: 'visa', last4: '4242' };

/** The card `setPaymentIntentStatus(id, 'requires_payment_method')` fails with: Stripe's `pm_card_chargeDeclined`. */
export const DECLINED_TEST_CARD = {
  brand: 'visa',
  last4: '0002',
  decline: { code: 'card_declined', declineCode: 'generic_decline', message: 'Your card was declined.' },
} as const satisfies TestCard;

/** Stripe's test PaymentMethod tokens (https://docs.stripe.com/testing#cards) the simulator understands. */
export const TEST_PAYMENT_METHODS: Readonly<Record<string, TestCard>> = {
  pm_card_visa: VISA_TEST_CARD,
  pm_card_visa_debit: { brand: 'visa', last4: '5556' },
  pm_card_mastercard: { brand: 'mastercard', last4: '4444' },
  pm_card_amex: { brand: 'amex', last4: '8431' },
  pm_card_chargeDeclined: DECLINED_TEST_CARD,
  pm_card_chargeDeclinedInsufficientFunds: {
    brand: 'visa',
    last4: '9995',
    decline: {
      code: 'card_declined',
      declineCode: 'insufficient_funds',
      message: 'Your card has insufficient funds.',
    },
  },
  pm_card_chargeDeclinedLostCard: {
    brand: 'visa',
    last4: '9987',
    decline: { code: 'card_declined', declineCode: 'lost_card', message: 'Your card was declined.' },
  },
  pm_card_chargeDeclinedStolenCard: {
    brand: 'visa',
    last4: '9979',
    decline: { code: 'card_declined', declineCode: 'stolen_card', message: 'Your card was declined.' },
  },
};

export function paymentMethodSummary(
  id: string,
  card: TestCard,
  customer: string | null,
  created: number,
): StripePaymentMethodSummary {
  return {
    id,
    object: 'payment_method',
    type: 'card',
    card: {
      brand: card.brand,
      last4: card.last4,
      exp_month: 12,
      exp_year: 2034,
      funding: 'credit',
      country: 'US',
    },
    created,
    customer,
    livemode: false,
    metadata: {},
  };
}

/** Stripe's documentation link for an error code (`card_declined` -> `.../card-declined`). */
export function docUrl(code: string): string {
  return `https://stripe.com/docs/error-codes/${code.replace(/_/g, '-')}`;
}

/** Unix seconds now. */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** What a status change needs beyond the status: ids it may attach and, for a failure, the error. */
export interface StatusChange {
  /** Unix seconds of the change (for `canceled_at`). */
  at: number;
  /** Charge created by this attempt (succeeded, requires_capture, or a failure). */
  chargeId: string;
  /** PaymentMethod to attach when the intent has none. */
  paymentMethodId: string;
  /** The card error of a failed attempt; its presence is what makes `requires_payment_method` a failure. */
  error?: StripePaymentError;
  cancellationReason?: string;
}

/** A copy of `pi` moved to `status` with the side fields Stripe changes alongside it. */
export function withStatus(
  pi: StripePaymentIntent,
  status: PaymentIntentStatus,
  change: StatusChange,
): StripePaymentIntent {
  const next: StripePaymentIntent = {
    ...pi,
    status,
    next_action: null,
    processing: null,
    amount_capturable: 0,
  };
  const attachMethod = () => {
    next.payment_method = pi.payment_method ?? change.paymentMethodId;
  };
  switch (status) {
    case 'succeeded':
      attachMethod();
      next.amount_received = pi.amount;
      next.latest_charge = pi.latest_charge ?? change.chargeId;
      next.last_payment_error = null;
      break;
    case 'processing':
      attachMethod();
      next.processing = { type: 'card' };
      next.last_payment_error = null;
      break;
    case 'requires_capture':
      attachMethod();
      next.amount_capturable = pi.amount;
      next.latest_charge = change.chargeId;
      next.last_payment_error = null;
      break;
    case 'requires_action':
      attachMethod();
      next.next_action = { type: 'use_stripe_sdk' };
      break;
    case 'requires_confirmation':
      attachMethod();
      break;
    case 'requires_payment_method':
      // A failed attempt detaches the payment method and records the error (Stripe does both).
      if (change.error !== undefined) {
        next.last_payment_error = change.error;
        next.latest_charge = change.chargeId;
      }
      next.payment_method = null;
      next.amount_received = 0;
      break;
    case 'canceled':
      next.canceled_at = change.at;
      next.cancellation_reason = change.cancellationReason ?? 'requested_by_customer';
      break;
  }
  return next;
}

/** The event Stripe emits when a PaymentIntent enters `status`, if any (none for requires_confirmation). */
export function eventTypeForStatus(
  status: PaymentIntentStatus,
  failed: boolean,
): StripeEventType | undefined {
  switch (status) {
    case 'succeeded':
      return 'payment_intent.succeeded';
    case 'processing':
      return 'payment_intent.processing';
    case 'canceled':
      return 'payment_intent.canceled';
    case 'requires_action':
      return 'payment_intent.requires_action';
    case 'requires_capture':
      return 'payment_intent.amount_capturable_updated';
    case 'requires_payment_method':
      return failed ? 'payment_intent.payment_failed' : undefined;
    case 'requires_confirmation':
      return undefined;
  }
}

/** The card error Stripe records for a declined attempt. */
export function cardError(
  decline: CardDecline,
  chargeId: string,
  paymentMethod: StripePaymentMethodSummary,
): StripePaymentError {
  return {
    type: 'card_error',
    code: decline.code,
    decline_code: decline.declineCode,
    message: decline.message,
    doc_url: docUrl(decline.code),
    charge: chargeId,
    payment_method: paymentMethod,
  };
}
