// Twilio shapes -> internal Message. Resolvers never see Twilio field names.
import type { Money } from '../../models/billing.js';
import type { Message, MessageStatus } from '../../models/messaging.js';
import type { TwilioMessage } from './types.js';

export function toMessageStatus(status: TwilioMessage['status']): MessageStatus {
  // Twilio's partially_delivered is for group messages; for one recipient it is a delivery.
  return status === 'partially_delivered' ? 'DELIVERED' : (status.toUpperCase() as MessageStatus);
}

/** Twilio prices are decimal strings of cost, e.g. "-0.00750" USD: to Money in whole minor units (rounded). */
export function toPrice(price: string | null | undefined, unit: string | null | undefined): Money | null {
  if (price === null || price === undefined || price === '') return null;
  const value = Math.abs(Number(price));
  if (!Number.isFinite(value)) return null;
  return { amount: Math.round(value * 100), currency: (unit ?? 'usd').toLowerCase() };
}

/** Twilio dates are RFC 2822 ("Thu, 24 Nov 2026 03:09:14 +0000"). */
export function toDate(value: string | null | undefined): Date | null {
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

export function toMessage(m: TwilioMessage): Message {
  return {
    id: m.sid,
    to: m.to,
    from: m.from,
    body: m.body ?? '',
    status: toMessageStatus(m.status),
    direction: m.direction === 'inbound' ? 'INBOUND' : 'OUTBOUND',
    segments: Number.parseInt(m.num_segments ?? '1', 10) || 1,
    price: toPrice(m.price, m.price_unit),
    errorCode: m.error_code ?? null,
    createdAt: toDate(m.date_created) ?? new Date(0),
    sentAt: toDate(m.date_sent),
  };
}
