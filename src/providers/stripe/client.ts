// Stripe client: customers and PaymentIntents as domain verbs. Reads go through the shared cache
// (invalidated by mutations and webhooks); errors are read from Stripe's own error body.
import type { Customer, Payment } from '../../models/billing.js';
import type { Connection } from '../../models/connection.js';
import { type CachePolicy, cacheKey, type ResponseCache } from '../../upstream/cache.js';
import type { CallContext } from '../../upstream/callContext.js';
import {
  type RawResponse,
  type RequestSpec,
  RestClient,
  type RestClientOptions,
} from '../../upstream/client.js';
import {
  isUpstreamCode,
  PaymentDeclinedError,
  type UpstreamError,
  type UpstreamErrorDetails,
  UpstreamInputError,
  UpstreamNotFoundError,
  UpstreamRateLimitedError,
  UpstreamRejectedError,
  UpstreamUnavailableError,
} from '../../upstream/errors.js';
import { paginate, type UpstreamPage } from '../../upstream/pagination.js';
import { toCustomer, toPayment, toStripeForm } from './mapping.js';
import {
  stripeCustomerSchema,
  stripeErrorSchema,
  stripePaymentIntentListSchema,
  stripePaymentIntentSchema,
} from './types.js';

export const STRIPE_PROVIDER = 'stripe';
/** Pinned so Stripe never changes shapes under us; bump deliberately, with the contract tests. */
export const STRIPE_API_VERSION = '2026-10-28.endive';

export interface StripeClientOptions extends Omit<RestClientOptions, 'provider'> {
  cache: ResponseCache;
  /** Customers change rarely: default TTL 60 s. */
  customerCachePolicy?: CachePolicy;
  /** Payment lists change on every payment: short TTL, invalidated by webhooks. Default 15 s. */
  paymentsCachePolicy?: CachePolicy;
}

export interface CreatePaymentParams {
  customerId: string;
  userId: string;
  amount: number;
  currency: string;
  description?: string | null | undefined;
  paymentMethod: string;
}

export class StripeClient extends RestClient {
  /** Stripe's largest page. */
  readonly maxPageSize = 100;
  private readonly cache: ResponseCache;
  private readonly customerPolicy: CachePolicy;
  private readonly paymentsPolicy: CachePolicy;

  constructor(options: StripeClientOptions) {
    super({
      requestIdHeaders: ['request-id'],
      idempotencyHeader: 'idempotency-key',
      ...options,
      defaultHeaders: { 'stripe-version': STRIPE_API_VERSION, ...options.defaultHeaders },
      provider: STRIPE_PROVIDER,
    });
    this.cache = options.cache;
    this.customerPolicy = options.customerCachePolicy ?? { ttlSeconds: 60, staleIfErrorSeconds: 600 };
    this.paymentsPolicy = options.paymentsCachePolicy ?? { ttlSeconds: 15, staleIfErrorSeconds: 300 };
  }

  /** A customer, or null when Stripe does not know it (or it was deleted). */
  getCustomer(id: string, ctx: CallContext): Promise<Customer | null> {
    return this.cachedObject(
      this.key('customer', id),
      this.customerPolicy,
      {
        method: 'GET',
        path: `/v1/customers/${encodeURIComponent(id)}`,
        route: 'GET /v1/customers/:id',
        schema: stripeCustomerSchema,
      },
      (c) => (c.deleted ? null : toCustomer(c)),
      ctx,
    );
  }

  /** One PaymentIntent by id, or null when Stripe does not know it. */
  getPayment(id: string, ctx: CallContext): Promise<Payment | null> {
    return this.cachedObject(
      this.key('payment', id),
      this.paymentsPolicy,
      {
        method: 'GET',
        path: `/v1/payment_intents/${encodeURIComponent(id)}`,
        route: 'GET /v1/payment_intents/:id',
        schema: stripePaymentIntentSchema,
      },
      toPayment,
      ctx,
    );
  }

  /** One object through the shared cache; Stripe's 404 is cached as null (the object does not exist). */
  private async cachedObject<T, R>(
    key: string,
    policy: CachePolicy,
    spec: RequestSpec<T>,
    map: (external: T) => R | null,
    ctx: CallContext,
  ): Promise<R | null> {
    const { value } = await this.cache.getOrLoad<R | null>(
      key,
      this.provider,
      policy,
      async (_stale, loadCtx) => {
        try {
          return { kind: 'value', value: map(await this.request(spec, loadCtx)) };
        } catch (error) {
          if (isUpstreamCode(error, 'NOT_FOUND')) return { kind: 'value', value: null };
          throw error;
        }
      },
      ctx,
    );
    return value;
  }

  /** Forgets a cached PaymentIntent (after a webhook said it changed). */
  invalidatePayment(id: string): void {
    this.cache.invalidate(this.key('payment', id));
  }

  /** One page of a customer's PaymentIntents, newest first; `startingAfter` is a PaymentIntent id. */
  /** A window of a customer's PaymentIntents, newest first, as a connection. */
  paymentsPage(
    customerId: string,
    window: { first: number; after: string | null | undefined },
    ctx: CallContext,
  ): Promise<Connection<Payment>> {
    return paginate({
      namespace: `payments:${customerId}`,
      first: window.first,
      after: window.after,
      maxPageSize: this.maxPageSize,
      fetchPage: (cursor, limit) => this.listPayments(customerId, { limit, startingAfter: cursor }, ctx),
    });
  }

  async listPayments(
    customerId: string,
    page: { limit: number; startingAfter: string | null },
    ctx: CallContext,
  ): Promise<UpstreamPage<Payment>> {
    const { value } = await this.cache.getOrLoad<UpstreamPage<Payment>>(
      this.key('payments', `${customerId}|${page.startingAfter ?? ''}|${page.limit}`),
      this.provider,
      this.paymentsPolicy,
      async (_stale, loadCtx) => {
        const list = await this.request(
          {
            method: 'GET',
            path: '/v1/payment_intents',
            route: 'GET /v1/payment_intents',
            query: {
              customer: customerId,
              limit: page.limit,
              starting_after: page.startingAfter ?? undefined,
            },
            schema: stripePaymentIntentListSchema,
          },
          loadCtx,
        );
        const items = list.data.map(toPayment);
        const last = items.at(-1);
        return { kind: 'value' as const, value: { items, next: list.has_more && last ? last.id : null } };
      },
      ctx,
    );
    return value;
  }

  /**
   * Creates and confirms a PaymentIntent. `idempotencyKey` is sent on the first attempt and every
   * retry, so Stripe creates at most one PaymentIntent however often the request is repeated.
   */
  async createPayment(
    params: CreatePaymentParams,
    idempotencyKey: string,
    ctx: CallContext,
  ): Promise<Payment> {
    const pi = await this.request(
      {
        method: 'POST',
        path: '/v1/payment_intents',
        route: 'POST /v1/payment_intents',
        form: toStripeForm({
          amount: params.amount,
          currency: params.currency,
          customer: params.customerId,
          description: params.description ?? undefined,
          payment_method: params.paymentMethod,
          payment_method_types: ['card'],
          confirm: true,
          metadata: { user_id: params.userId },
        }),
        idempotencyKey,
        schema: stripePaymentIntentSchema,
      },
      ctx,
    );
    this.invalidatePayments(params.customerId);
    return toPayment(pi);
  }

  /** Forgets every cached page of a customer's payments (after a mutation or a webhook). */
  invalidatePayments(customerId: string): void {
    this.cache.invalidatePrefix(this.key('payments', `${customerId}|`));
  }

  invalidateCustomer(customerId: string): void {
    this.cache.invalidate(this.key('customer', customerId));
  }

  private key(resource: string, id: string): string {
    return cacheKey(this.provider, this.credentialId, resource, id);
  }

  /** Reads Stripe's `{error:{type,code,decline_code,message,param}}`. */
  protected override errorFromResponse(
    res: RawResponse,
    spec: Parameters<RestClient['errorFromResponse']>[1],
  ): UpstreamError {
    let body: ReturnType<typeof stripeErrorSchema.parse> | undefined;
    try {
      body = stripeErrorSchema.parse(JSON.parse(res.body));
    } catch {
      // Not Stripe's JSON (an HTML 503 from a proxy): the base mapping, still under Stripe-Should-Retry.
      return super.errorFromResponse(res, spec);
    }
    const e = body.error;
    const details: UpstreamErrorDetails = {
      ...this.responseDetails(res),
      upstreamCode: e.code ?? e.type,
    };
    if (res.status === 401 || res.status === 403) {
      // Stripe's 401 message quotes part of the key: say less.
      return new UpstreamRejectedError(`stripe refused Junction's credentials (${res.status})`, {
        ...details,
      });
    }
    // Stripe writes its other messages for end users (no secrets in them); cap the length anyway.
    const message = (e.message ?? `Stripe ${e.type}`).slice(0, 300);
    if (e.type === 'card_error') {
      return new PaymentDeclinedError(message, {
        ...details,
        detail: e.decline_code ? { declineCode: e.decline_code } : undefined,
      });
    }
    if (res.status === 429 || e.code === 'rate_limit') return new UpstreamRateLimitedError(message, details);
    if (res.status === 404 || e.code === 'resource_missing')
      return new UpstreamNotFoundError(message, details);
    if (e.type === 'idempotency_error') {
      return new UpstreamInputError(message, { ...details, field: 'idempotencyKey' });
    }
    if (e.type === 'invalid_request_error' && res.status === 400 && e.param) {
      return new UpstreamInputError(message, { ...details, field: e.param });
    }
    if (res.status >= 500 || e.type === 'api_error') return new UpstreamUnavailableError(message, details);
    return new UpstreamRejectedError(message, details);
  }

  /** `Stripe-Should-Retry: true|false`: Stripe's word on retrying, which wins over status and body. */
  protected override retrySignal(res: RawResponse): boolean | undefined {
    const raw = res.headers['stripe-should-retry'];
    const value = (Array.isArray(raw) ? raw[0] : raw)?.trim().toLowerCase();
    return value === 'true' ? true : value === 'false' ? false : undefined;
  }
}
