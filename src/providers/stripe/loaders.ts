// Per-request Stripe loaders: one call per distinct customer or payment per operation.
import type DataLoader from 'dataloader';
import type { Customer, Payment } from '../../models/billing.js';
import type { CallContext } from '../../upstream/callContext.js';
import { perKeyLoader } from '../perKeyLoader.js';
import type { StripeClient } from './client.js';

export interface BillingLoaders {
  customer: DataLoader<string, Customer | null>;
  payment: DataLoader<string, Payment | null>;
}

export function createBillingLoaders(client: StripeClient, ctx: CallContext): BillingLoaders {
  return {
    customer: perKeyLoader((id: string) => client.getCustomer(id, ctx)),
    payment: perKeyLoader((id: string) => client.getPayment(id, ctx)),
  };
}
