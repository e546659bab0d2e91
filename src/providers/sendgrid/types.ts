// SendGrid v3 wire shapes: the mail/send request Junction builds and the error body it reads.
import { z } from 'zod';

export interface SendGridAddress {
  email: string;
  name?: string;
}

/** The subset of `POST /v3/mail/send` Junction sends (checked against SendGrid's OpenAPI in contract tests). */
export interface SendGridMail {
  personalizations: Array<{ to: SendGridAddress[]; custom_args?: Record<string, string> }>;
  from: SendGridAddress;
  subject: string;
  content: Array<{ type: 'text/plain' | 'text/html'; value: string }>;
}

/** `{errors:[{message, field, help}]}`: SendGrid's error body. */
export const sendgridErrorSchema = z.object({
  errors: z
    .array(
      z.looseObject({
        message: z.string().optional(),
        field: z.string().nullable().optional(),
        help: z.unknown().optional(),
      }),
    )
    .min(1),
});
