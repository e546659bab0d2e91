// Per-request Stripe loaders: one call per distinct customer, payment or payments page per operation.
import type DataLoader from 'dataloader';
import type { Customer, Payment } from '../../models/billing.js';
import type { CallContext } from '../../upstream/callContext.js';
import type { UpstreamPage } from '../../upstream/pagination.js';
import { perKeyLoader } from '../perKeyLoader.js';
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
  return perKeyLoader((id: string) => client.getCustomer(id, ctx));
}

export function createPaymentLoader(
  client: StripeClient,
  ctx: CallContext,
): DataLoader<string, Payment | null> {
  return perKeyLoader((id: string) => client.getPayment(id, ctx));
}

export function createPaymentsLoader(
  client: StripeClient,
  ctx: CallContext,
): DataLoader<PaymentsPageKey, UpstreamPage<Payment>, string> {
  return perKeyLoader(
    (k: PaymentsPageKey) =>
      client.listPayments(k.customerId, { limit: k.limit, startingAfter: k.startingAfter }, ctx),
    (k) => `${k.customerId}|${k.limit}|${k.startingAfter ?? ''}`,
  );
}
