// Internal billing types: what the graph works with, whatever Stripe calls its fields.

export interface Money {
  /** Minor units (cents for USD). */
  amount: number;
  /** ISO-4217, lower case. */
  currency: string;
}

export type PaymentStatus =
  | 'REQUIRES_PAYMENT_METHOD'
  | 'REQUIRES_CONFIRMATION'
  | 'REQUIRES_ACTION'
  | 'PROCESSING'
  | 'REQUIRES_CAPTURE'
  | 'CANCELED'
  | 'SUCCEEDED';

export interface Customer {
  id: string;
  email: string | null;
  name: string | null;
  balance: Money;
  delinquent: boolean;
  createdAt: Date;
}

export interface Payment {
  id: string;
  customerId: string | null;
  /** The Junction user the payment was made for (from metadata), when known. */
  userId: string | null;
  amount: Money;
  amountReceived: Money;
  status: PaymentStatus;
  description: string | null;
  createdAt: Date;
  canceledAt: Date | null;
  failureCode: string | null;
}

/** The pub/sub topic a user's payment updates are published on. */
export const paymentTopic = (userId: string) => `payment:${userId}`;
