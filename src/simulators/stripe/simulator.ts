// Stripe simulator: /v1 customers and payment_intents over seeded state, with Stripe's auth, error
// shapes, idempotency keys, list pagination, test-card declines, events and signed webhooks.
import type { DeliveryAttempt } from '../shared/outbox.js';
import { createOutbox } from '../shared/outbox.js';
import type { Route } from '../shared/router.js';
import type { ProviderSimulatorOptions, Simulator } from '../shared/simulator.js';
import { createSimulator } from '../shared/simulator.js';
import type { SimRequest, SimResponse } from '../shared/wire.js';
import { seedUsers as buildSeedUsers } from '../users/seed.js';
import type { StripeErrorObject } from './errors.js';
import {
  invalidRequest,
  maskApiKey,
  missingParam,
  noSuch,
  StripeApiError,
  stripeFaultError,
} from './errors.js';
import type {
  PaymentIntentStatus,
  StripeCustomer,
  StripeEvent,
  StripeEventType,
  StripePaymentIntent,
  TestCard,
} from './objects.js';
import {
  buildCustomer,
  buildPaymentIntent,
  cardError,
  DECLINED_TEST_CARD,
  eventTypeForStatus,
  nowSeconds,
  PAYMENT_INTENT_STATUSES,
  paymentMethodSummary,
  randomAlphanumeric,
  STRIPE_API_VERSION,
  stripeId,
  TEST_PAYMENT_METHODS,
  VISA_TEST_CARD,
  withStatus,
} from './objects.js';
import type { StripeParamMap } from './params.js';
import {
  canonicalParams,
  decodeStripeParams,
  rejectUnknown,
  scalar,
  stringList,
  stringMap,
} from './params.js';
import { seedStripe } from './seed.js';
import type { StripeWebhookTarget } from './webhooks.js';
import { stripeEventDelivery } from './webhooks.js';

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

const DEFAULT_LIST_LIMIT = 10;
const MAX_LIST_LIMIT = 100;
const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000; // 24h, as Stripe keeps keys
const MAX_AMOUNT = 99_999_999;

const SUPPORTED_CURRENCIES = new Set(
  'usd eur gbp cad aud nzd jpy chf sek nok dkk pln czk huf ron bgn sgd hkd mxn brl inr'.split(' '),
);
/** Smallest chargeable amount per currency in minor units (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts). */
const MIN_AMOUNT: Readonly<Record<string, number>> = {
  gbp: 30,
  jpy: 50,
  hkd: 400,
  sek: 300,
  nok: 300,
  dkk: 250,
};
const CURRENCY_SYMBOL: Readonly<Record<string, string>> = { usd: '$', eur: '€', gbp: '£' };

const CUSTOMER_PARAMS = new Set(['email', 'name', 'phone', 'description', 'metadata', 'expand']);
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
const LIST_PARAMS = new Set(['customer', 'limit', 'starting_after', 'ending_before', 'expand']);

interface Reply {
  status: number;
  body: unknown;
}

interface IdempotentResult {
  path: string;
  fingerprint: string;
  status: number;
  body: string;
  requestId: string;
  storedAt: number;
}

interface RequestContext {
  apiKey: string;
  idempotencyKey: string | null;
}

export function createStripeSimulator(opts: StripeSimulatorOptions = {}): StripeSimulator {
  const secretKey = opts.secretKey ?? DEFAULT_STRIPE_SECRET_KEY;
  const apiKeys = new Set([secretKey, ...(opts.additionalKeys ?? [])]);
  const apiVersion = opts.apiVersion ?? STRIPE_API_VERSION;
  const seed = seedStripe(buildSeedUsers(opts.seedUsers ?? 1000));
  const customers = new Map(seed.customers.map((c) => [c.id, c]));
  const paymentIntents = new Map(seed.paymentIntents.map((pi) => [pi.id, pi]));
  /** PaymentMethods created from test tokens (`pm_card_visa` -> `pm_...`), so their ids can be reused. */
  const paymentMethods = new Map<string, TestCard>();
  const events: StripeEvent[] = [];
  const idempotency = new Map<string, IdempotentResult>();
  const created = { customer: 0, payment_intent: 0 };
  let webhook = opts.webhook;
  const outbox = createOutbox({
    ...(opts.webhookRetryDelaysMs === undefined ? {} : { retryDelaysMs: opts.webhookRetryDelaysMs }),
    ...(opts.webhookTimeoutMs === undefined ? {} : { timeoutMs: opts.webhookTimeoutMs }),
  });

  const emit = (
    type: StripeEventType,
    object: StripePaymentIntent | StripeCustomer,
    request: { id: string | null; idempotency_key: string | null },
  ): void => {
    const event: StripeEvent = {
      id: stripeId('evt'),
      object: 'event',
      api_version: apiVersion,
      created: nowSeconds(),
      data: { object: structuredClone(object) },
      livemode: false,
      pending_webhooks: webhook === undefined ? 0 : 1,
      request,
      type,
    };
    events.push(event);
    if (webhook !== undefined) outbox.send(stripeEventDelivery(event, webhook));
  };

  const authenticate = (req: SimRequest): string => {
    const key = apiKeyFrom(req.headers.authorization);
    const unauthorized = (message: string) =>
      new StripeApiError(
        401,
        { type: 'invalid_request_error', message },
        { 'www-authenticate': 'Basic realm="Stripe"' },
      );
    if (key === undefined || key === '') {
      throw unauthorized(
        "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
      );
    }
    if (!apiKeys.has(key)) throw unauthorized(`Invalid API Key provided: ${maskApiKey(key)}`);
    return key;
  };

  /** Wraps a handler with auth, idempotency (POST), Stripe's headers and its error serialisation. */
  const route = (
    method: 'GET' | 'POST',
    path: string,
    handler: (req: SimRequest, params: StripeParamMap, ctx: RequestContext) => Reply,
  ): Route => ({
    method,
    path,
    handler: (req) => {
      const headers: Record<string, string> = {
        'stripe-version': headerValue(req, 'stripe-version') ?? apiVersion,
        'content-type': 'application/json',
        'cache-control': 'no-cache, no-store',
      };
      const idempotencyKey = method === 'POST' ? (headerValue(req, 'idempotency-key') ?? null) : null;
      if (idempotencyKey !== null) headers['idempotency-key'] = idempotencyKey;
      try {
        const apiKey = authenticate(req);
        const params = decodeStripeParams(method === 'POST' ? req.form() : req.query);
        const ctx = { apiKey, idempotencyKey };
        if (idempotencyKey === null) return serialize(handler(req, params, ctx), headers);
        return idempotent(req, params, ctx, idempotencyKey, headers, () => handler(req, params, ctx));
      } catch (error) {
        if (error instanceof StripeApiError) return errorResponse(error, req, headers);
        throw error;
      }
    },
  });

  const idempotent = (
    req: SimRequest,
    params: StripeParamMap,
    ctx: RequestContext,
    key: string,
    headers: Record<string, string>,
    run: () => Reply,
  ): SimResponse => {
    if (key.length > 255) {
      throw invalidRequest('Idempotency-Key must be at most 255 characters long.', {
        param: 'Idempotency-Key',
      });
    }
    const now = Date.now();
    for (const [k, v] of idempotency) if (now - v.storedAt > IDEMPOTENCY_TTL_MS) idempotency.delete(k);
    const scoped = `${ctx.apiKey}\u0000${key}`;
    const fingerprint = canonicalParams(params);
    const previous = idempotency.get(scoped);
    if (previous !== undefined) {
      if (previous.path !== req.path) {
        throw new StripeApiError(400, {
          type: 'idempotency_error',
          message: `Keys for idempotent requests can only be used for the same endpoint they were first used for ('${previous.path}' vs '${req.path}'). Try using a key other than '${key}' if you meant to execute a different request.`,
        });
      }
      if (previous.fingerprint !== fingerprint) {
        throw new StripeApiError(400, {
          type: 'idempotency_error',
          message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
        });
      }
      return {
        status: previous.status,
        headers: {
          ...headers,
          ...(previous.status >= 400 ? { 'stripe-should-retry': 'false' } : {}),
          'idempotent-replayed': 'true',
          'original-request': previous.requestId,
        },
        body: previous.body,
      };
    }
    let response: SimResponse;
    try {
      response = serialize(run(), headers);
    } catch (error) {
      // Only requests that began executing are saved; parameter validation failures are not (Stripe's rule).
      if (!(error instanceof StripeApiError) || error.status !== 402) throw error;
      response = errorResponse(error, req, headers);
    }
    idempotency.set(scoped, {
      path: req.path,
      fingerprint,
      status: response.status,
      body: String(response.body),
      requestId: req.requestId,
      storedAt: now,
    });
    return response;
  };

  const retrieveCustomer = (req: SimRequest): Reply => {
    const id = req.params.id ?? '';
    const customer = customers.get(id);
    if (customer === undefined) throw noSuch('customer', id, 'id', 404);
    return { status: 200, body: customer };
  };

  const createCustomer = (req: SimRequest, params: StripeParamMap, ctx: RequestContext): Reply => {
    rejectUnknown(params, CUSTOMER_PARAMS);
    const email = emptyToNull(scalar(params, 'email'));
    if (email !== null && !isEmail(email)) {
      throw invalidRequest(`Invalid email address: ${email}`, { code: 'email_invalid', param: 'email' });
    }
    const customer = buildCustomer({
      id: stripeId('cus', undefined, 14),
      created: nowSeconds(),
      email,
      name: emptyToNull(scalar(params, 'name')),
      phone: emptyToNull(scalar(params, 'phone')),
      description: emptyToNull(scalar(params, 'description')),
      metadata: stringMap(params, 'metadata') ?? {},
      invoicePrefix: randomAlphanumeric(8).toUpperCase(),
    });
    customers.set(customer.id, customer);
    created.customer += 1;
    emit('customer.created', customer, { id: req.requestId, idempotency_key: ctx.idempotencyKey });
    return { status: 200, body: customer };
  };

  const retrievePaymentIntent = (req: SimRequest): Reply => {
    const id = req.params.id ?? '';
    const pi = paymentIntents.get(id);
    if (pi === undefined) throw noSuch('payment_intent', id, 'id', 404);
    return { status: 200, body: pi };
  };

  const createPaymentIntent = (req: SimRequest, params: StripeParamMap, ctx: RequestContext): Reply => {
    rejectUnknown(params, PAYMENT_INTENT_PARAMS);
    const amount = parseAmount(scalar(params, 'amount'));
    const currencyRaw = scalar(params, 'currency');
    if (currencyRaw === undefined || currencyRaw === '') throw missingParam('currency');
    const currency = currencyRaw.toLowerCase();
    if (!SUPPORTED_CURRENCIES.has(currency)) {
      throw invalidRequest(
        `Invalid currency: ${currencyRaw}. Stripe currently supports these currencies: ${[...SUPPORTED_CURRENCIES].join(', ')}`,
        { param: 'currency' },
      );
    }
    checkAmountRange(amount, currency);
    const customerId = emptyToNull(scalar(params, 'customer'));
    if (customerId !== null && !customers.has(customerId)) throw noSuch('customer', customerId, 'customer');
    const methodParam = emptyToNull(scalar(params, 'payment_method'));
    const card = methodParam === null ? undefined : resolvePaymentMethod(methodParam);
    const confirm = parseBoolean(scalar(params, 'confirm'), 'confirm');
    const captureMethod = parseEnum(scalar(params, 'capture_method'), 'capture_method', [
      'automatic',
      'automatic_async',
      'manual',
    ] as const);
    const setupFutureUsage = parseEnum(scalar(params, 'setup_future_usage'), 'setup_future_usage', [
      'on_session',
      'off_session',
    ] as const);
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
    const receiptEmail = emptyToNull(scalar(params, 'receipt_email'));
    if (receiptEmail !== null && !isEmail(receiptEmail)) {
      throw invalidRequest(`Invalid email address: ${receiptEmail}`, {
        code: 'email_invalid',
        param: 'receipt_email',
      });
    }

    const now = nowSeconds();
    const id = stripeId('pi');
    let pi = buildPaymentIntent({
      id,
      created: now,
      amount,
      currency,
      customer: customerId,
      description: emptyToNull(scalar(params, 'description')),
      metadata: stringMap(params, 'metadata') ?? {},
      clientSecretSuffix: randomAlphanumeric(25),
      ...(paymentMethodTypes === undefined ? {} : { paymentMethodTypes }),
      ...(captureMethod === undefined ? {} : { captureMethod }),
      receiptEmail,
      setupFutureUsage: setupFutureUsage ?? null,
      statementDescriptorSuffix: emptyToNull(scalar(params, 'statement_descriptor_suffix')),
    });
    let methodId: string | undefined;
    if (card !== undefined && methodParam !== null) {
      methodId = methodParam in TEST_PAYMENT_METHODS ? newPaymentMethod(card) : methodParam;
      pi = { ...pi, payment_method: methodId, status: 'requires_confirmation' };
    }
    const request = { id: req.requestId, idempotency_key: ctx.idempotencyKey };
    paymentIntents.set(id, pi);
    created.payment_intent += 1;
    emit('payment_intent.created', pi, request);
    if (!confirm) return { status: 200, body: pi };

    // Confirming without a payment method uses pm_card_visa (a simulator convenience; Stripe would refuse).
    const usedCard = card ?? VISA_TEST_CARD;
    methodId ??= newPaymentMethod(usedCard);
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
      paymentIntents.set(id, pi);
      emit('payment_intent.payment_failed', pi, request);
      const { type: _type, ...rest } = error;
      throw new StripeApiError(402, { ...rest, type: 'card_error', param: '', payment_intent: pi });
    }
    const status: PaymentIntentStatus = pi.capture_method === 'manual' ? 'requires_capture' : 'succeeded';
    pi = withStatus({ ...pi, payment_method: methodId }, status, {
      at: now,
      chargeId,
      paymentMethodId: methodId,
    });
    paymentIntents.set(id, pi);
    const type = eventTypeForStatus(status, false);
    if (type !== undefined) emit(type, pi, request);
    return { status: 200, body: pi };
  };

  const newPaymentMethod = (card: TestCard): string => {
    const id = stripeId('pm');
    paymentMethods.set(id, card);
    return id;
  };

  const resolvePaymentMethod = (id: string): TestCard => {
    const card = TEST_PAYMENT_METHODS[id] ?? paymentMethods.get(id);
    if (card === undefined) throw noSuch('PaymentMethod', id, 'payment_method');
    return card;
  };

  const listPaymentIntents = (_req: SimRequest, params: StripeParamMap): Reply => {
    rejectUnknown(params, LIST_PARAMS);
    const limit = parseLimit(scalar(params, 'limit'));
    const customer = emptyToNull(scalar(params, 'customer'));
    const startingAfter = emptyToNull(scalar(params, 'starting_after'));
    const endingBefore = emptyToNull(scalar(params, 'ending_before'));
    if (startingAfter !== null && endingBefore !== null) {
      throw invalidRequest('You may only specify one of these parameters: ending_before, starting_after.', {
        code: 'parameters_exclusive',
        param: 'ending_before',
      });
    }
    // Newest first: created desc, then creation order desc (Map order) for equal seconds.
    const ranked = [...paymentIntents.values()].map((pi, index) => ({ pi, index }));
    const rankOf = new Map(ranked.map((r) => [r.pi.id, r]));
    const newerFirst = (a: { pi: StripePaymentIntent; index: number }, b: typeof a) =>
      b.pi.created - a.pi.created || b.index - a.index;
    const all = ranked.filter((r) => customer === null || r.pi.customer === customer).sort(newerFirst);

    let page: typeof all;
    let hasMore: boolean;
    if (endingBefore !== null) {
      const cursor = rankOf.get(endingBefore);
      if (cursor === undefined) throw noSuch('payment_intent', endingBefore, 'ending_before');
      const newer = all.filter((r) => newerFirst(r, cursor) < 0);
      page = newer.slice(Math.max(0, newer.length - limit));
      hasMore = newer.length > limit;
    } else {
      let rest = all;
      if (startingAfter !== null) {
        const cursor = rankOf.get(startingAfter);
        if (cursor === undefined) throw noSuch('payment_intent', startingAfter, 'starting_after');
        rest = all.filter((r) => newerFirst(r, cursor) > 0);
      }
      page = rest.slice(0, limit);
      hasMore = rest.length > limit;
    }
    return {
      status: 200,
      body: { object: 'list', data: page.map((r) => r.pi), has_more: hasMore, url: '/v1/payment_intents' },
    };
  };

  const sim = createSimulator({
    name: 'stripe',
    host: opts.host,
    port: opts.port,
    requestIdHeader: 'request-id',
    faults: opts.faults,
    errorShape: stripeFaultError,
    routes: [
      route('GET', '/v1/customers/:id', retrieveCustomer),
      route('POST', '/v1/customers', createCustomer),
      route('GET', '/v1/payment_intents/:id', retrievePaymentIntent),
      route('GET', '/v1/payment_intents', listPaymentIntents),
      route('POST', '/v1/payment_intents', createPaymentIntent),
    ],
    onClose: () => outbox.close(),
    onReset: () => {
      created.customer = 0;
      created.payment_intent = 0;
    },
  });

  const setPaymentIntentStatus = (id: string, status: PaymentIntentStatus): StripePaymentIntent => {
    const pi = paymentIntents.get(id);
    if (pi === undefined) throw new TypeError(`no PaymentIntent with id ${JSON.stringify(id)}`);
    if (!PAYMENT_INTENT_STATUSES.includes(status)) {
      throw new TypeError(
        `status must be one of ${PAYMENT_INTENT_STATUSES.join(', ')}, but got: ${JSON.stringify(status)}`,
      );
    }
    const now = nowSeconds();
    const methodId = pi.payment_method ?? newPaymentMethod(VISA_TEST_CARD);
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
    paymentIntents.set(id, next);
    const type = eventTypeForStatus(status, failed);
    if (type !== undefined) emit(type, next, { id: null, idempotency_key: null });
    return next;
  };

  const own: Omit<StripeSimulator, keyof Simulator> = {
    customers,
    paymentIntents,
    secretKey,
    apiVersion,
    events,
    webhookDeliveries: outbox.attempts,
    createdCount: (kind) => (kind === undefined ? created.customer + created.payment_intent : created[kind]),
    setPaymentIntentStatus,
    setWebhook(target) {
      webhook = target;
    },
    flushWebhooks: () => outbox.flush(),
  };
  return Object.assign(sim, own);
}

/** The key from `Bearer <key>` or from HTTP Basic `<key>:` (stripe-node sends Bearer; curl -u sends Basic). */
function apiKeyFrom(authorization: string | undefined): string | undefined {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
  if (bearer !== undefined) return bearer;
  const basic = /^Basic\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
  if (basic === undefined) return undefined;
  const decoded = Buffer.from(basic, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? decoded : decoded.slice(0, colon);
}

function headerValue(req: SimRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Stripe answers with pretty-printed JSON; serialising once here lets idempotent replays repeat the bytes. */
function serialize(reply: Reply, headers: Record<string, string>): SimResponse {
  return { status: reply.status, headers, body: JSON.stringify(reply.body, null, 2) };
}

function errorResponse(error: StripeApiError, req: SimRequest, headers: Record<string, string>): SimResponse {
  const body: StripeErrorObject & { request_log_url: string } = {
    ...error.error,
    request_log_url: `https://dashboard.stripe.com/test/logs/${req.requestId}`,
  };
  // Stripe orders error members alphabetically.
  const sorted = Object.fromEntries(Object.entries(body).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return {
    status: error.status,
    headers: {
      ...headers,
      ...error.headers,
      'stripe-should-retry': String(error.status === 409 || error.status >= 500),
    },
    body: JSON.stringify({ error: sorted }, null, 2),
  };
}

function emptyToNull(value: string | undefined): string | null {
  return value === undefined || value === '' ? null : value;
}

function isEmail(value: string): boolean {
  return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value);
}

function parseAmount(raw: string | undefined): number {
  if (raw === undefined || raw === '') throw missingParam('amount');
  if (!/^-?\d+$/.test(raw)) {
    throw invalidRequest(`Invalid integer: ${raw}`, { code: 'parameter_invalid_integer', param: 'amount' });
  }
  const amount = Number(raw);
  if (amount < 1) {
    throw invalidRequest('This value must be greater than or equal to 1.', {
      code: 'parameter_invalid_integer',
      param: 'amount',
    });
  }
  return amount;
}

function checkAmountRange(amount: number, currency: string): void {
  const symbol = CURRENCY_SYMBOL[currency] ?? '';
  const min = MIN_AMOUNT[currency] ?? 50;
  if (amount < min) {
    throw invalidRequest(`Amount must be at least ${symbol}${(min / 100).toFixed(2)} ${currency}`, {
      code: 'amount_too_small',
      param: 'amount',
    });
  }
  if (amount > MAX_AMOUNT) {
    throw invalidRequest(`Amount must be no more than ${symbol}999,999.99`, {
      code: 'amount_too_large',
      param: 'amount',
    });
  }
}

function parseLimit(raw: string | undefined): number {
  if (raw === undefined || raw === '') return DEFAULT_LIST_LIMIT;
  if (!/^-?\d+$/.test(raw)) {
    throw invalidRequest(`Invalid integer: ${raw}`, { code: 'parameter_invalid_integer', param: 'limit' });
  }
  const limit = Number(raw);
  if (limit < 1) {
    throw invalidRequest('This value must be greater than or equal to 1.', {
      code: 'parameter_invalid_integer',
      param: 'limit',
    });
  }
  if (limit > MAX_LIST_LIMIT) {
    throw invalidRequest(`This value must be less than or equal to ${MAX_LIST_LIMIT}.`, {
      code: 'parameter_invalid_integer',
      param: 'limit',
    });
  }
  return limit;
}

function parseBoolean(raw: string | undefined, param: string): boolean {
  if (raw === undefined || raw === '' || raw === 'false') return false;
  if (raw === 'true') return true;
  throw invalidRequest(`Invalid boolean: ${raw}`, { param });
}

function parseEnum<const T extends string>(
  raw: string | undefined,
  param: string,
  values: readonly T[],
): T | undefined {
  if (raw === undefined || raw === '') return undefined;
  if ((values as readonly string[]).includes(raw)) return raw as T;
  throw invalidRequest(`Invalid ${param}: must be one of ${values.join(', ')}`, { param });
}
