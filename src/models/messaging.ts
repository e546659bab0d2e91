// Internal messaging types: SMS and email receipts, whatever Twilio and SendGrid call things.
import type { Money } from './billing.js';

export type MessageStatus =
  | 'ACCEPTED'
  | 'SCHEDULED'
  | 'QUEUED'
  | 'SENDING'
  | 'SENT'
  | 'DELIVERED'
  | 'UNDELIVERED'
  | 'FAILED'
  | 'RECEIVING'
  | 'RECEIVED'
  | 'READ'
  | 'CANCELED';

export interface Message {
  id: string;
  to: string;
  from: string | null;
  body: string;
  status: MessageStatus;
  direction: 'INBOUND' | 'OUTBOUND';
  segments: number;
  price: Money | null;
  errorCode: number | null;
  createdAt: Date;
  sentAt: Date | null;
}

export interface EmailReceipt {
  id: string;
  to: string;
  acceptedAt: Date;
}

/** The pub/sub topic a user's message status updates are published on. */
export const messageTopic = (userId: string) => `message:${userId}`;
