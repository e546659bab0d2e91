// SendGrid client: one domain verb, sendEmail. A 202 with X-Message-Id is the receipt; SendGrid's
// errors[] become BAD_USER_INPUT naming the field.
import { z } from 'zod';
import type { EmailReceipt } from '../../models/messaging.js';
import type { CallContext } from '../../upstream/callContext.js';
import { type RawResponse, RestClient, type RestClientOptions } from '../../upstream/client.js';
import {
  UpstreamBadResponseError,
  type UpstreamError,
  UpstreamInputError,
  UpstreamRateLimitedError,
  UpstreamRejectedError,
} from '../../upstream/errors.js';
import { type SendGridMail, sendgridErrorSchema } from './types.js';

export const SENDGRID_PROVIDER = 'sendgrid';

export interface EmailRequest {
  to: string;
  toName?: string | undefined;
  /** Default: the configured sender (`SENDGRID_FROM_EMAIL`). */
  from?: string | undefined;
  subject: string;
  text?: string | null | undefined;
  html?: string | null | undefined;
  /** Echoed back in event webhooks: how Junction ties events to users. */
  customArgs?: Record<string, string> | undefined;
}

/** The mail/send body for `request` (exported for the contract test against SendGrid's OpenAPI). */
export function toMailSendBody(request: EmailRequest & { from: string }): SendGridMail {
  const content: SendGridMail['content'] = [];
  // SendGrid requires text/plain before text/html when both are present.
  if (request.text) content.push({ type: 'text/plain', value: request.text });
  if (request.html) content.push({ type: 'text/html', value: request.html });
  return {
    personalizations: [
      {
        to: [{ email: request.to, ...(request.toName ? { name: request.toName } : {}) }],
        // Per-personalization custom_args is an object in SendGrid's schema (the top-level one is a string).
        ...(request.customArgs ? { custom_args: request.customArgs } : {}),
      },
    ],
    from: { email: request.from },
    subject: request.subject,
    content,
  };
}

export interface SendGridClientOptions extends Omit<RestClientOptions, 'provider'> {
  /** The sender of every email that names none. */
  fromEmail?: string;
}

export class SendGridClient extends RestClient {
  private readonly fromEmail: string | undefined;

  constructor(options: SendGridClientOptions) {
    super({ requestIdHeaders: ['x-message-id', 'x-request-id'], ...options, provider: SENDGRID_PROVIDER });
    this.fromEmail = options.fromEmail;
  }

  /** Hands an email to SendGrid. Not retried once it may have arrived: mail/send has no idempotency key. */
  async sendEmail(request: EmailRequest, ctx: CallContext): Promise<EmailReceipt> {
    const from = request.from ?? this.fromEmail;
    if (from === undefined) throw new TypeError('SendGridClient: sendEmail needs a sender (fromEmail)');
    const res = await this.send(
      {
        method: 'POST',
        path: '/v3/mail/send',
        route: 'POST /v3/mail/send',
        json: toMailSendBody({ ...request, from }),
        schema: z.unknown(),
        allowEmptyBody: true,
      },
      ctx,
    );
    const messageId = res.headers['x-message-id'];
    if (res.status !== 202 || typeof messageId !== 'string' || messageId === '') {
      throw new UpstreamBadResponseError(`sendgrid answered ${res.status} without an X-Message-Id`, {
        provider: this.provider,
        status: res.status,
      });
    }
    return { id: messageId, to: request.to, acceptedAt: new Date() };
  }

  /** Reads `{errors:[{message, field, help}]}`. */
  protected override errorFromResponse(
    res: RawResponse,
    spec: Parameters<RestClient['errorFromResponse']>[1],
  ): UpstreamError {
    const details = this.responseDetails(res);
    if (res.status === 401 || res.status === 403) {
      return new UpstreamRejectedError(`sendgrid refused Junction's credentials (${res.status})`, {
        ...details,
      });
    }
    if (res.status === 429) return new UpstreamRateLimitedError('sendgrid rate limited', details);
    if (res.status === 400 || res.status === 413) {
      const parsed = sendgridErrorSchema.safeParse(safeJson(res.body));
      const first = parsed.success ? parsed.data.errors[0] : undefined;
      const field = first?.field ?? undefined;
      return new UpstreamInputError((first?.message ?? 'sendgrid rejected the email').slice(0, 300), {
        ...details,
        field: field === null ? undefined : toInputField(field),
      });
    }
    return super.errorFromResponse(res, spec);
  }
}

/** SendGrid names fields by their JSON path; point at the GraphQL input field a caller can fix. */
function toInputField(field: string | undefined): string | undefined {
  if (field === undefined) return undefined;
  if (field.startsWith('personalizations') && field.includes('.to')) return 'to';
  if (field === 'subject' || field.startsWith('subject')) return 'subject';
  if (field.startsWith('content')) return 'text';
  if (field.startsWith('from')) return 'from';
  return field;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
