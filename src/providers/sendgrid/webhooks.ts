// SendGrid's event webhook: verify the ECDSA signature over timestamp + payload, then log each
// event once (by `sg_event_id`). Events without an id are authentic but unusable: acknowledged,
// counted, never retried for.
import { z } from 'zod';
import type { ProviderWebhooks } from '../module.js';
import { parseJsonBody, verifyWithAny } from '../webhookKit.js';
import type { SendGridClient } from './client.js';
import type { sendgridConfig } from './config.js';
import { sendgridPublicKey, verifySendGridSignature } from './webhookSignature.js';

const eventSchema = z.looseObject({
  sg_event_id: z.string().min(1).max(255),
  event: z.string().regex(/^[a-z_]{1,32}$/),
});

/** Most events looked at in one delivery (SendGrid batches a few hundred at most). */
const MAX_EVENTS = 10_000;

type Spec = typeof sendgridConfig;

export const sendgridWebhooks: ProviderWebhooks<Spec['remote'], Spec['settings'], SendGridClient> = {
  verify(delivery, endpoint, ctx) {
    // The current key and, within WEBHOOK_SECRET_GRACE_SECONDS of a rotation, the replaced one.
    const keys = endpoint.settings.webhookPublicKey?.map(sendgridPublicKey).accepted() ?? [];
    verifyWithAny('sendgrid', keys, (publicKey) =>
      verifySendGridSignature(
        delivery.rawBody,
        delivery.header('x-twilio-email-event-webhook-signature'),
        delivery.header('x-twilio-email-event-webhook-timestamp'),
        { publicKey, now: ctx.now },
      ),
    );
  },
  async handle(_verified, delivery, ctx) {
    const body = parseJsonBody(delivery.rawBody);
    if (!Array.isArray(body)) {
      ctx.unusable('not a JSON array of events');
      return { status: 200, body: { received: 0, duplicates: 0, unusable: 1 } };
    }
    let received = 0;
    let duplicates = 0;
    let unreadable = Math.max(0, body.length - MAX_EVENTS);
    for (const item of body.slice(0, MAX_EVENTS)) {
      const event = eventSchema.safeParse(item);
      if (!event.success) {
        unreadable += 1;
        continue;
      }
      received += 1;
      const { sg_event_id: id, event: kind } = event.data;
      const { duplicate } = await ctx.once(`sendgrid:${id}`, async () => {
        delivery.log.info({ provider: 'sendgrid', event: kind }, 'email event');
      });
      if (duplicate) {
        duplicates += 1;
        ctx.duplicate();
      }
    }
    if (unreadable > 0) ctx.unusable('events without sg_event_id or event', unreadable);
    return { status: 200, body: { received, duplicates, unusable: unreadable } };
  },
};
