// Stripe's webhook intake: verify `Stripe-Signature`, then act once per event id. A PaymentIntent
// event invalidates the customer's cached payments and pushes `paymentUpdated` to its user (the
// user id rides in the PaymentIntent's metadata). An authentic event is never refused for its
// shape: an object Junction cannot read is a signal to fetch the PaymentIntent as it is now.
import { z } from 'zod';
import { type Payment, paymentTopic } from '../../models/billing.js';
import type { ProviderWebhooks, WebhookContext, WebhookDelivery } from '../module.js';
import { parseJsonBody } from '../webhookKit.js';
import type { StripeClient } from './client.js';
import type { stripeConfig } from './config.js';
import { toPayment } from './mapping.js';
import { stripePaymentIntentSchema } from './types.js';
import { verifyStripeSignature } from './webhookSignature.js';

const eventSchema = z.looseObject({
  id: z.string().min(1).max(255),
  type: z.string().min(1),
  data: z.looseObject({ object: z.looseObject({}) }),
});

/** Ids read from an event that failed its schema, before they are used to fetch anything. */
const PAYMENT_INTENT_ID = /^pi_[A-Za-z0-9_]{1,250}$/;
/** Event type names worth a log field (Stripe's are dotted lower case). */
const EVENT_TYPE = /^[a-z_.]{1,64}$/;

type Spec = typeof stripeConfig;

export const stripeWebhooks: ProviderWebhooks<Spec['remote'], Spec['settings'], StripeClient> = {
  verify(delivery, endpoint, ctx) {
    verifyStripeSignature(delivery.rawBody, delivery.header('stripe-signature'), {
      // The current secrets and, within WEBHOOK_SECRET_GRACE_SECONDS of a rotation, the replaced ones.
      secrets: endpoint.settings.webhookSecrets.accepted().flat(),
      now: ctx.now,
    });
  },
  async handle(_verified, delivery, ctx) {
    const event = eventSchema.safeParse(parseJsonBody(delivery.rawBody));
    if (!event.success) {
      ctx.unusable('not an event envelope (id, type, data.object)');
      return { status: 200, body: { received: true, duplicate: false } };
    }
    const { duplicate } = await ctx.once(`stripe:${event.data.id}`, () => onEvent(event.data, delivery, ctx));
    if (duplicate) ctx.duplicate();
    return { status: 200, body: { received: true, duplicate } };
  },
};

async function onEvent(
  event: z.infer<typeof eventSchema>,
  delivery: WebhookDelivery,
  ctx: WebhookContext<StripeClient>,
): Promise<void> {
  if (!event.type.startsWith('payment_intent.')) return; // acknowledged, nothing of ours depends on it
  const type = EVENT_TYPE.test(event.type) ? event.type : 'payment_intent.?';
  const parsed = stripePaymentIntentSchema.safeParse(event.data.object);
  let payment: Payment | null;
  if (parsed.success) {
    payment = toPayment(parsed.data);
    ctx.client.invalidatePayment(payment.id);
  } else {
    // A trimmed payload, or one rendered in another API version: the event still says this
    // PaymentIntent changed. Fetch it as it is now, in the pinned version, and act on that.
    const id = event.data.object.id;
    if (typeof id !== 'string' || !PAYMENT_INTENT_ID.test(id)) {
      ctx.unusable('payment_intent event without a PaymentIntent id');
      return;
    }
    delivery.log.warn(
      { provider: 'stripe', type },
      'payment event object not in the pinned API version shape: fetching the current PaymentIntent',
    );
    ctx.client.invalidatePayment(id);
    // A failure here (Stripe down) answers 5xx: Stripe's retry will find Stripe up again.
    payment = await ctx.client.getPayment(id, { requestId: delivery.requestId });
    if (payment === null) {
      ctx.unusable('the PaymentIntent is unknown to Stripe');
      return;
    }
  }
  if (payment.customerId) {
    ctx.client.invalidatePayments(payment.customerId);
    ctx.client.invalidateCustomer(payment.customerId);
  }
  if (payment.userId) ctx.publish(paymentTopic(payment.userId), payment);
  delivery.log.info({ provider: 'stripe', type, status: payment.status }, 'payment event');
}
