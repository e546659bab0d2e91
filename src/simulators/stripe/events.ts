// Stripe events: every change the simulator makes to an object is recorded as an `event` and, while a
// webhook endpoint is set, queued on the outbox for signed delivery (webhooks.ts).
import type { Outbox } from '../shared/outbox.js';
import type { StripeCustomer, StripeEvent, StripeEventType, StripePaymentIntent } from './objects.js';
import { nowSeconds, stripeId } from './objects.js';
import type { StripeWebhookTarget } from './webhooks.js';
import { stripeEventDelivery } from './webhooks.js';

/** The API request that caused an event; both null for changes made through test helpers. */
export type EventRequest = StripeEvent['request'];

export interface StripeEventLog {
  /** Every event since creation, oldest first. */
  readonly events: StripeEvent[];
  /** Records an event about (a snapshot of) `object` and sends it to the webhook, if one is set. */
  emit(type: StripeEventType, object: StripePaymentIntent | StripeCustomer, request: EventRequest): void;
  /** Sets or clears the endpoint for events from now on. */
  setWebhook(target: StripeWebhookTarget | undefined): void;
}

export interface StripeEventLogOptions {
  /** `api_version` stamped on every event. */
  apiVersion: string;
  /** Delivers webhooks (retries, timeouts); the log only queues on it. */
  outbox: Outbox;
  /** Endpoint at creation. Default: none (events are only recorded). */
  webhook?: StripeWebhookTarget;
}

export function createStripeEventLog(opts: StripeEventLogOptions): StripeEventLog {
  const events: StripeEvent[] = [];
  let webhook = opts.webhook;
  return {
    events,
    emit(type, object, request) {
      const event: StripeEvent = {
        id: stripeId('evt'),
        object: 'event',
        api_version: opts.apiVersion,
        created: nowSeconds(),
        data: { object: structuredClone(object) },
        livemode: false,
        pending_webhooks: webhook === undefined ? 0 : 1,
        request,
        type,
      };
      events.push(event);
      if (webhook !== undefined) opts.outbox.send(stripeEventDelivery(event, webhook));
    },
    setWebhook(target) {
      webhook = target;
    },
  };
}
