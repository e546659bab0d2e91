// Stripe webhook signing, byte for byte as Stripe does it: `Stripe-Signature: t=<unix>,v1=<hex>` where
// v1 is HMAC-SHA256 keyed with the whole endpoint secret (`whsec_...`) over `${t}.${payload}`.
import { createHmac } from 'node:crypto';
import type { OutboxMessage } from '../shared/outbox.js';
import type { StripeEvent } from './objects.js';
import { nowSeconds } from './objects.js';

/** Where the simulator POSTs events, and the endpoint secret it signs them with. */
export interface StripeWebhookTarget {
  /** Receiver URL, e.g. Junction's `http://127.0.0.1:4000/webhooks/stripe`. */
  url: string;
  /** Endpoint signing secret (`whsec_...`), the same string the receiver verifies with. */
  secret: string;
}

/** Hex HMAC-SHA256 of `${timestamp}.${payload}` keyed with `secret`. */
export function computeStripeSignature(payload: string, secret: string, timestamp: number): string {
  return createHmac('sha256', secret).update(`${timestamp}.${payload}`, 'utf8').digest('hex');
}

/** The `Stripe-Signature` header value for `payload` signed at `timestamp` (unix seconds). */
export function stripeSignatureHeader(payload: string, secret: string, timestamp = nowSeconds()): string {
  return `t=${timestamp},v1=${computeStripeSignature(payload, secret, timestamp)}`;
}

/**
 * The delivery of one event to `target`: pretty-printed JSON like Stripe's, re-signed with a fresh
 * timestamp on every attempt (Stripe signs each retry anew).
 */
export function stripeEventDelivery(event: StripeEvent, target: StripeWebhookTarget): OutboxMessage {
  const payload = JSON.stringify(event, null, 2);
  return {
    url: target.url,
    label: event.type,
    build: () => ({
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
        'cache-control': 'no-cache',
        'stripe-signature': stripeSignatureHeader(payload, target.secret),
      },
      body: payload,
    }),
  };
}
