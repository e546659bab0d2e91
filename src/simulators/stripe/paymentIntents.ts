// The payment_intents resource: create (optionally confirming with a test card, which may
// decline with a 402), and status changes made as Stripe would make them later; each change emits its event.

import { parseCharge } from './amounts.js';
import type { StripeCall } from './api.js';
import { eventRequest } from './api.js';
import { invalidRequest, noSuch, StripeApiError } from './errors.js';
import type { PaymentIntentStatus, StripePaymentIntent, TestCard } from './objects.js';
import {
  buildPaymentIntent,
  cardError,
  DECLINED_TEST_CARD,
  eventTypeForStatus,
  nowSeconds,
  PAYMENT_INTENT_STATUSES,
  paymentMethodSummary,
  randomAlphanumeric,
  stripeId,
  TEST_PAYMENT_METHODS,
  VISA_TEST_CARD,
  withStatus,
} from './objects.js';
import {
  booleanParam,
  enumParam,
  optionalEmail,
  optionalString,
  rejectUnknown,
  stringList,
  stringMap,
} from './params.js';
import type { Reply } from './responses.js';
import type { StripeState } from './state.js';

const PAYMENT_INTENT_PARAMS = new Set([
  'amount',
  'currency',
  'customer',
  'description',
  'payment_method',
  'payment_method_types',
  'automatic_payment_methods',
  'confirm',
  'capture_method',
  'metadata',
  'receipt_email',
  'setup_future_usage',
  'statement_descriptor_suffix',
  'return_url',
  'expand',
]);

/** `POST /v1/payment_intents` */
export function createPaymentIntent(state: StripeState, call: StripeCall): Reply {
  const { params } = call;
  rejectUnknown(params, PAYMENT_INTENT_PARAMS);
  const { amount, currency } = parseCharge(params);
  const customerId = optionalString(params, 'customer');
  if (customerId !== null && !state.customers.has(customerId)) {
    throw noSuch('customer', customerId, 'customer');
  }
  const methodParam = optionalString(params, 'payment_method');
  const card = methodParam === null ? undefined : resolvePaymentMethod(state, methodParam);
  const confirm = booleanParam(params, 'confirm');
  const captureMethod = enumParam(params, 'capture_method', [
    'automatic',
    'automatic_async',
    'manual',
  ] as const);
  const setupFutureUsage = enumParam(params, 'setup_future_usage', ['on_session', 'off_session'] as const);
  const paymentMethodTypes = stringList(params, 'payment_method_types');
  if (paymentMethodTypes !== undefined && params.automatic_payment_methods !== undefined) {
    throw invalidRequest(
      'You may only specify one of these parameters: automatic_payment_methods, payment_method_types.',
      { code: 'parameters_exclusive', param: 'automatic_payment_methods' },
    );
  }
  if (paymentMethodTypes !== undefined && paymentMethodTypes.length === 0) {
    throw invalidRequest('Invalid array', { param: 'payment_method_types' });
  }
  const receiptEmail = optionalEmail(params, 'receipt_email');

  const now = nowSeconds();
  const id = stripeId('pi');
  let pi = buildPaymentIntent({
    id,
    created: now,
    amount,
    currency,
    customer: customerId,
    description: optionalString(params, 'description'),
    metadata: stringMap(params, 'metadata') ?? {},
    clientSecretSuffix: randomAlphanumeric(25),
    ...(paymentMethodTypes === undefined ? {} : { paymentMethodTypes }),
    ...(captureMethod === undefined ? {} : { captureMethod }),
    receiptEmail,
    setupFutureUsage: setupFutureUsage ?? null,
    statementDescriptorSuffix: optionalString(params, 'statement_descriptor_suffix'),
  });
  let methodId: string | undefined;
  if (card !== undefined && methodParam !== null) {
    methodId = methodParam in TEST_PAYMENT_METHODS ? newPaymentMethod(state, card) : methodParam;
    pi = { ...pi, payment_method: methodId, status: 'requires_confirmation' };
  }
  const request = eventRequest(call);
  state.paymentIntents.set(id, pi);
  state.created.payment_intent += 1;
  state.events.emit('payment_intent.created', pi, request);
  if (!confirm) return { status: 200, body: pi };

  // Confirming without a payment method uses pm_card_visa (a simulator convenience; Stripe would refuse).
  const usedCard = card ?? VISA_TEST_CARD;
  methodId ??= newPaymentMethod(state, usedCard);
  const chargeId = stripeId('ch');
  if (usedCard.decline !== undefined) {
    const method = paymentMethodSummary(methodId, usedCard, customerId, now);
    const error = cardError(usedCard.decline, chargeId, method);
    pi = withStatus({ ...pi, payment_method: methodId }, 'requires_payment_method', {
      at: now,
      chargeId,
      paymentMethodId: methodId,
      error,
    });
    state.paymentIntents.set(id, pi);
    state.events.emit('payment_intent.payment_failed', pi, request);
    const { type: _type, ...rest } = error;
    throw new StripeApiError(402, { ...rest, type: 'card_error', param: '', payment_intent: pi });
  }
  const status: PaymentIntentStatus = pi.capture_method === 'manual' ? 'requires_capture' : 'succeeded';
  pi = withStatus({ ...pi, payment_method: methodId }, status, {
    at: now,
    chargeId,
    paymentMethodId: methodId,
  });
  state.paymentIntents.set(id, pi);
  const type = eventTypeForStatus(status, false);
  if (type !== undefined) state.events.emit(type, pi, request);
  return { status: 200, body: pi };
}

/**
 * Moves a PaymentIntent to `status` as Stripe would after asynchronous processing, and emits the
 * matching event; `requires_payment_method` is a decline with Stripe's generic card error.
 */
export function setPaymentIntentStatus(
  state: StripeState,
  id: string,
  status: PaymentIntentStatus,
): StripePaymentIntent {
  const pi = state.paymentIntents.get(id);
  if (pi === undefined) throw new TypeError(`no PaymentIntent with id ${JSON.stringify(id)}`);
  if (!PAYMENT_INTENT_STATUSES.includes(status)) {
    throw new TypeError(
      `status must be one of ${PAYMENT_INTENT_STATUSES.join(', ')}, but got: ${JSON.stringify(status)}`,
    );
  }
  const now = nowSeconds();
  const methodId = pi.payment_method ?? newPaymentMethod(state, VISA_TEST_CARD);
  const chargeId = stripeId('ch');
  const failed = status === 'requires_payment_method';
  const error = failed
    ? cardError(
        DECLINED_TEST_CARD.decline,
        chargeId,
        paymentMethodSummary(methodId, DECLINED_TEST_CARD, pi.customer, now),
      )
    : undefined;
  const next = withStatus(pi, status, {
    at: now,
    chargeId,
    paymentMethodId: methodId,
    ...(error === undefined ? {} : { error }),
  });
  state.paymentIntents.set(id, next);
  const type = eventTypeForStatus(status, failed);
  if (type !== undefined) state.events.emit(type, next, { id: null, idempotency_key: null });
  return next;
}

/** A new PaymentMethod id for a test card, remembered so later requests can use it. */
function newPaymentMethod(state: StripeState, card: TestCard): string {
  const id = stripeId('pm');
  state.paymentMethods.set(id, card);
  return id;
}

/** The card behind a test token (`pm_card_visa`) or a PaymentMethod created from one. */
function resolvePaymentMethod(state: StripeState, id: string): TestCard {
  const card = TEST_PAYMENT_METHODS[id] ?? state.paymentMethods.get(id);
  if (card === undefined) throw noSuch('PaymentMethod', id, 'payment_method');
  return card;
}
