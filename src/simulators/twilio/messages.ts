// Twilio's Message resource as the 2010-04-01 API returns it (schema `api.v2010.account.message`):
// RFC 2822 dates, numbers as strings, nullable price, and the helpers that fill those fields.
import { randomBytes } from 'node:crypto';

export const TWILIO_API_VERSION = '2010-04-01';

export type TwilioMessageStatus =
  | 'accepted'
  | 'scheduled'
  | 'canceled'
  | 'queued'
  | 'sending'
  | 'sent'
  | 'failed'
  | 'delivered'
  | 'undelivered'
  | 'receiving'
  | 'received'
  | 'read';

export interface TwilioMessage {
  account_sid: string;
  api_version: string;
  body: string;
  /** RFC 2822 in GMT, e.g. `Thu, 24 Nov 2026 03:09:14 +0000`. */
  date_created: string;
  date_sent: string | null;
  date_updated: string;
  direction: 'inbound' | 'outbound-api' | 'outbound-call' | 'outbound-reply';
  error_code: number | null;
  error_message: string | null;
  from: string | null;
  messaging_service_sid: string | null;
  num_media: string;
  num_segments: string;
  /** Negative decimal string such as `-0.00790`, null until sent. */
  price: string | null;
  price_unit: string | null;
  sid: string;
  status: TwilioMessageStatus;
  subresource_uris: { media: string; feedback: string };
  to: string;
  uri: string;
}

/** Price per outbound SMS segment, in USD (a negative amount, as Twilio bills it). */
export const PRICE_PER_SEGMENT = 0.0079;

/** Delivery failure Twilio reports for an unreachable handset. */
export const UNREACHABLE = { code: 30003, message: 'Unreachable destination handset' } as const;

/** Twilio's E.164 rule: `+`, a non-zero digit, at most 15 digits in all. */
export function isE164(value: string): boolean {
  return /^\+[1-9]\d{1,14}$/.test(value);
}

/** `date` as Twilio writes it: RFC 2822 in GMT with a `+0000` zone. */
export function rfc2822(date: Date | number): string {
  return new Date(date).toUTCString().replace(/GMT$/, '+0000');
}

/** A Twilio SID: two-letter prefix + 32 lower-case hex digits, from `random` (seeded) or crypto. */
export function twilioSid(prefix: string, random?: () => number): string {
  if (random === undefined) return `${prefix}${randomBytes(16).toString('hex')}`;
  let hex = '';
  for (let i = 0; i < 32; i++) hex += Math.floor(random() * 16).toString(16);
  return `${prefix}${hex}`;
}

// The GSM 03.38 basic set plus its extension table; anything else forces UCS-2 encoding.
const GSM_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM_EXTENDED = '^{}\\[~]|€\f';

/** Segments an SMS body needs: 160/153 GSM-7 characters (extension characters count twice) or 70/67 UCS-2 units. */
export function segmentCount(body: string): number {
  const chars = [...body];
  const gsm = chars.every((c) => GSM_BASIC.includes(c) || GSM_EXTENDED.includes(c));
  if (gsm) {
    const septets = chars.reduce((n, c) => n + (GSM_EXTENDED.includes(c) ? 2 : 1), 0);
    return septets <= 160 ? 1 : Math.ceil(septets / 153);
  }
  const units = body.length; // UTF-16 code units
  return units <= 70 ? 1 : Math.ceil(units / 67);
}

/** `-0.00790` for one segment: Twilio's price string. */
export function priceFor(segments: number): string {
  return (-PRICE_PER_SEGMENT * segments).toFixed(5);
}

export interface NewMessage {
  sid: string;
  accountSid: string;
  to: string;
  from: string | null;
  body: string;
  messagingServiceSid: string | null;
  status: TwilioMessageStatus;
  /** Creation instant, ms since epoch. */
  createdAt: number;
}

export function buildMessage(m: NewMessage): TwilioMessage {
  const base = `/${TWILIO_API_VERSION}/Accounts/${m.accountSid}/Messages/${m.sid}`;
  return {
    account_sid: m.accountSid,
    api_version: TWILIO_API_VERSION,
    body: m.body,
    date_created: rfc2822(m.createdAt),
    date_sent: null,
    date_updated: rfc2822(m.createdAt),
    direction: 'outbound-api',
    error_code: null,
    error_message: null,
    from: m.from,
    messaging_service_sid: m.messagingServiceSid,
    num_media: '0',
    num_segments: String(segmentCount(m.body)),
    price: null,
    price_unit: 'USD',
    sid: m.sid,
    status: m.status,
    subresource_uris: { media: `${base}/Media.json`, feedback: `${base}/Feedback.json` },
    to: m.to,
    uri: `${base}.json`,
  };
}

/** A copy of `message` in `status` at `at` (ms): sending stamps `date_sent` and the price, failures `error`. */
export function withMessageStatus(
  message: TwilioMessage,
  status: TwilioMessageStatus,
  at: number,
  error: { code: number; message: string } = UNREACHABLE,
): TwilioMessage {
  const next: TwilioMessage = { ...message, status, date_updated: rfc2822(at) };
  if (
    (status === 'sent' || status === 'delivered' || status === 'undelivered') &&
    message.date_sent === null
  ) {
    next.date_sent = rfc2822(at);
    next.price = priceFor(Number(message.num_segments));
  }
  if (status === 'undelivered' || status === 'failed') {
    next.error_code = error.code;
    next.error_message = error.message;
  }
  return next;
}
