// The users service's own wire shapes (snake_case), validated at the edge with zod.
import { z } from 'zod';

export const externalUserSchema = z.object({
  user_id: z.string().min(1),
  email_address: z.string(),
  first_name: z.string(),
  last_name: z.string(),
  phone_number: z.string().nullable().optional(),
  stripe_customer_id: z.string().nullable().optional(),
  /** Unix seconds, or an ISO-8601 string (both are seen in the wild; both are accepted). */
  created_timestamp: z.union([
    z.number().finite(),
    z.string().refine((s) => /^\d+$/.test(s) || !Number.isNaN(Date.parse(s)), 'not a timestamp'),
  ]),
});
export type ExternalUser = z.infer<typeof externalUserSchema>;

export const userBatchSchema = z.object({ data: z.array(externalUserSchema) });

export const userPageSchema = z.object({
  data: z.array(externalUserSchema),
  pagination: z.object({ next_cursor: z.string().nullable().optional() }),
});
