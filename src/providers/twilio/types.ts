// Twilio's Message wire shape (the subset Junction reads), validated with zod.
import { z } from 'zod';

export const twilioMessageSchema = z.looseObject({
  sid: z.string().min(1),
  to: z.string(),
  from: z.string().nullable(),
  body: z.string().nullable(),
  status: z.enum([
    'queued',
    'sending',
    'sent',
    'failed',
    'delivered',
    'undelivered',
    'receiving',
    'received',
    'accepted',
    'scheduled',
    'read',
    'partially_delivered',
    'canceled',
  ]),
  direction: z.string(),
  num_segments: z.string().nullable().optional(),
  price: z.string().nullable().optional(),
  price_unit: z.string().nullable().optional(),
  error_code: z.number().int().nullable().optional(),
  date_created: z.string().nullable(),
  date_sent: z.string().nullable().optional(),
});
export type TwilioMessage = z.infer<typeof twilioMessageSchema>;

export const twilioMessageListSchema = z.looseObject({
  messages: z.array(twilioMessageSchema),
  next_page_uri: z.string().nullable(),
});

/** `{code, message, more_info, status}`: every Twilio error body. */
export const twilioErrorSchema = z.looseObject({
  code: z.number().int(),
  message: z.string().optional(),
  more_info: z.string().optional(),
  status: z.number().int().optional(),
});
