// Twilio status callbacks: form-encoded POSTs signed in `X-Twilio-Signature` exactly as Twilio signs
// them, base64(HMAC-SHA1(authToken, url + each POST parameter's name and value, sorted by name)).
import { createHmac, randomUUID } from 'node:crypto';
import type { OutboxMessage } from '../shared/outbox.js';
import type { TwilioMessage } from './messages.js';
import { TWILIO_API_VERSION } from './messages.js';

/** The `X-Twilio-Signature` of a form POST of `params` to `url` (the full URL, query included). */
export function twilioSignature(
  authToken: string,
  url: string,
  params: Readonly<Record<string, string>>,
): string {
  const data = Object.keys(params)
    .sort()
    .reduce((acc, key) => acc + key + (params[key] ?? ''), url);
  return createHmac('sha1', authToken).update(Buffer.from(data, 'utf8')).digest('base64');
}

/** The parameters Twilio posts to a message's StatusCallback. */
export function statusCallbackParams(message: TwilioMessage): Record<string, string> {
  const params: Record<string, string> = {
    ApiVersion: TWILIO_API_VERSION,
    AccountSid: message.account_sid,
    From: message.from ?? '',
    To: message.to,
    MessageSid: message.sid,
    MessageStatus: message.status,
    SmsSid: message.sid,
    SmsStatus: message.status,
  };
  if (message.messaging_service_sid !== null) params.MessagingServiceSid = message.messaging_service_sid;
  if (message.error_code !== null) params.ErrorCode = String(message.error_code);
  return params;
}

/** One status callback delivery, signed with the account's auth token. */
export function statusCallbackDelivery(
  message: TwilioMessage,
  url: string,
  authToken: string,
): OutboxMessage {
  const params = statusCallbackParams(message);
  const body = new URLSearchParams(params).toString();
  const idempotencyToken = randomUUID();
  return {
    url,
    label: `message.${message.status}`,
    build: () => ({
      headers: {
        'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
        'user-agent': 'TwilioProxy/1.1',
        'i-twilio-idempotency-token': idempotencyToken,
        'x-twilio-signature': twilioSignature(authToken, url, params),
      },
      body,
    }),
  };
}
