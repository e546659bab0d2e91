// SendGrid's signed Event Webhook: a JSON array of events POSTed with X-Twilio-Email-Event-Webhook-Signature,
// base64 of an ECDSA P-256 / SHA-256 DER signature over timestamp + payload, exactly as SendGrid signs.
import type { KeyObject } from 'node:crypto';
import { createPrivateKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import type { OutboxMessage } from '../shared/outbox.js';

export const SIGNATURE_HEADER = 'X-Twilio-Email-Event-Webhook-Signature';
export const TIMESTAMP_HEADER = 'X-Twilio-Email-Event-Webhook-Timestamp';

/** Where the simulator POSTs events, and the key it signs them with. */
export interface SendGridEventWebhookTarget {
  /** Receiver URL, e.g. Junction's `http://127.0.0.1:4000/webhooks/sendgrid`. */
  url: string;
  /** P-256 private key (KeyObject or PEM) whose public half the receiver verifies with. */
  privateKey: KeyObject | string;
}

/** One event as SendGrid posts it; custom_args of the mail appear as extra top-level members. */
export interface SendGridEvent {
  email: string;
  timestamp: number;
  event: 'processed' | 'delivered';
  'smtp-id': string;
  sg_event_id: string;
  sg_message_id: string;
  category?: string[];
  sg_template_id?: string;
  response?: string;
  tls?: number;
  ip?: string;
  [customArg: string]: unknown;
}

export interface EventWebhookKeyPair {
  /** Base64 DER (SPKI) public key, the form SendGrid shows under Mail Settings > Signed Event Webhook. */
  publicKey: string;
  /** PKCS#8 PEM private key, for `eventWebhook.privateKey`. */
  privateKeyPem: string;
}

/** A fresh P-256 key pair for signing the Event Webhook, in the forms SendGrid and its verifier use. */
export function generateEventWebhookKeyPair(): EventWebhookKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    publicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** base64 DER ECDSA-SHA256 signature of `timestamp + payload`, as SendGrid computes it. */
export function signEventPayload(payload: string, timestamp: string, privateKey: KeyObject | string): string {
  const key = typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey;
  return sign('sha256', Buffer.from(timestamp + payload, 'utf8'), key).toString('base64');
}

/** A unique `sg_event_id` (22 URL-safe base64 characters, like SendGrid's). */
export function eventId(): string {
  return randomBytes(16).toString('base64url');
}

/** The delivery of one batch of events, signed anew (fresh timestamp) on every attempt. */
export function eventWebhookDelivery(
  events: SendGridEvent[],
  target: SendGridEventWebhookTarget,
): OutboxMessage {
  const payload = JSON.stringify(events);
  const key = typeof target.privateKey === 'string' ? createPrivateKey(target.privateKey) : target.privateKey;
  return {
    url: target.url,
    label: events.map((e) => e.event).join(','),
    build: () => {
      const timestamp = String(Math.floor(Date.now() / 1000));
      return {
        headers: {
          'content-type': 'application/json',
          'user-agent': 'SendGrid Event API',
          [TIMESTAMP_HEADER]: timestamp,
          [SIGNATURE_HEADER]: signEventPayload(payload, timestamp, key),
        },
        body: payload,
      };
    },
  };
}
