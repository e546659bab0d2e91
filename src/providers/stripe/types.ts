// Stripe's wire shapes (the subset Junction reads), validated with zod. Unknown fields pass.
import { z } from 'zod';

export const stripeCustomerSchema = z.looseObject({
  id: z.string().startsWith('cus_'),
  object: z.literal('customer'),
  email: z.string().nullable(),
  name: z.string().nullable(),
  balance: z.number().int(),
  currency: z.string().nullable().optional(),
  delinquent: z.boolean().nullable(),
  created: z.number().int(),
  deleted: z.boolean().optional(),
});
export type StripeCustomer = z.infer<typeof stripeCustomerSchema>;

export const stripePaymentIntentSchema = z.looseObject({
  id: z.string().startsWith('pi_'),
  object: z.literal('payment_intent'),
  amount: z.number().int(),
  amount_received: z.number().int(),
  currency: z.string(),
  customer: z.string().nullable(),
  description: z.string().nullable(),
  status: z.enum([
    'requires_payment_method',
    'requires_confirmation',
    'requires_action',
    'processing',
    'requires_capture',
    'canceled',
    'succeeded',
  ]),
  created: z.number().int(),
  canceled_at: z.number().int().nullable(),
  metadata: z.record(z.string(), z.string()).nullable().optional(),
  last_payment_error: z
    .looseObject({ code: z.string().optional(), decline_code: z.string().optional() })
    .nullable()
    .optional(),
});
export type StripePaymentIntent = z.infer<typeof stripePaymentIntentSchema>;

export const stripeListSchema = <T extends z.ZodType>(item: T) =>
  z.object({ object: z.literal('list'), data: z.array(item), has_more: z.boolean() });

export const stripePaymentIntentListSchema = stripeListSchema(stripePaymentIntentSchema);

/** `{error:{type, code, decline_code, message, param}}`: every Stripe error body. */
export const stripeErrorSchema = z.object({
  error: z.looseObject({
    type: z.string(),
    code: z.string().optional(),
    decline_code: z.string().optional(),
    message: z.string().optional(),
    param: z.string().optional(),
  }),
});
