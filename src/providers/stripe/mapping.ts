// Stripe shapes -> internal billing types. Resolvers never see Stripe field names.
import type { Customer, Payment, PaymentStatus } from '../../models/billing.js';
import type { StripeCustomer, StripePaymentIntent } from './types.js';

export function toCustomer(c: StripeCustomer): Customer {
  return {
    id: c.id,
    email: c.email,
    name: c.name,
    balance: { amount: c.balance, currency: c.currency ?? 'usd' },
    delinquent: c.delinquent ?? false,
    createdAt: new Date(c.created * 1000),
  };
}

export function toPaymentStatus(status: StripePaymentIntent['status']): PaymentStatus {
  return status.toUpperCase() as PaymentStatus;
}

export function toPayment(pi: StripePaymentIntent): Payment {
  return {
    id: pi.id,
    customerId: pi.customer,
    userId: pi.metadata?.user_id ?? null,
    amount: { amount: pi.amount, currency: pi.currency },
    amountReceived: { amount: pi.amount_received, currency: pi.currency },
    status: toPaymentStatus(pi.status),
    description: pi.description,
    createdAt: new Date(pi.created * 1000),
    canceledAt: pi.canceled_at === null ? null : new Date(pi.canceled_at * 1000),
    failureCode: pi.last_payment_error?.decline_code ?? pi.last_payment_error?.code ?? null,
  };
}

/** Stripe's form encoding: nested objects as `a[b]=c`, arrays as `a[]=x`. */
export function toStripeForm(params: Record<string, unknown>): URLSearchParams {
  const form = new URLSearchParams();
  const add = (prefix: string, value: unknown) => {
    if (value === undefined || value === null) return;
    if (Array.isArray(value)) {
      for (const v of value) add(`${prefix}[]`, v);
    } else if (typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) add(`${prefix}[${k}]`, v);
    } else {
      form.append(prefix, String(value));
    }
  };
  for (const [k, v] of Object.entries(params)) add(k, v);
  return form;
}
