// Per-request Stripe loaders: one call per distinct customer (or payments page) per operation.
import DataLoader from 'dataloader';
import type { Customer, Payment } from '../../models/billing.js';
import type { CallContext } from '../../upstream/callContext.js';
import type { UpstreamPage } from '../../upstream/pagination.js';
import type { StripeClient } from './client.js';

export interface PaymentsPageKey {
  customerId: string;
  limit: number;
  startingAfter: string | null;
}

export function createCustomerLoader(
  client: StripeClient,
  ctx: CallContext,
): DataLoader<string, Customer | null> {
  // Stripe has no batch retrieve: the loader dedupes, the pipeline bounds the concurrency.
  return new DataLoader<string, Customer | null>((ids) =>
    Promise.all(ids.map((id) => client.getCustomer(id, ctx).catch((e: unknown) => e as Error))),
  );
}

export function createPaymentLoader(
  client: StripeClient,
  ctx: CallContext,
): DataLoader<string, Payment | null> {
  return new DataLoader<string, Payment | null>((ids) =>
    Promise.all(ids.map((id) => client.getPayment(id, ctx).catch((e: unknown) => e as Error))),
  );
}

export function createPaymentsLoader(
  client: StripeClient,
  ctx: CallContext,
): DataLoader<PaymentsPageKey, UpstreamPage<Payment>, string> {
  return new DataLoader<PaymentsPageKey, UpstreamPage<Payment>, string>(
    (keys) =>
      Promise.all(
        keys.map((k) =>
          client
            .listPayments(k.customerId, { limit: k.limit, startingAfter: k.startingAfter }, ctx)
            .catch((e: unknown) => e as Error),
        ),
      ),
    { cacheKeyFn: (k) => `${k.customerId}|${k.limit}|${k.startingAfter ?? ''}` },
  );
}
