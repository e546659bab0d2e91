// Twilio's status callbacks: verify `X-Twilio-Signature` over the URL Twilio called (rebuilt from
// PUBLIC_BASE_URL, never from the Host header) and the form, then act once per (message, status):
// invalidate the recipient's cached messages and push `messageUpdated` to the user whose id rides
// in the signed callback URL.
import { messageTopic } from '../../models/messaging.js';
import type { ProviderWebhooks, WebhookContext, WebhookDelivery } from '../module.js';
import { bounded, verifyWithAny, WebhookVerificationError } from '../webhookKit.js';
import type { TwilioClient } from './client.js';
import type { twilioConfig } from './config.js';
import { verifyTwilioSignature } from './webhookSignature.js';

const SID = /^[A-Z]{2}[0-9a-fA-F]{32}$/;
const STATUS = /^[a-z_]{1,32}$/;

type Spec = typeof twilioConfig;

export const twilioWebhooks: ProviderWebhooks<
  Spec['remote'],
  Spec['settings'],
  TwilioClient,
  URLSearchParams
> = {
  verify(delivery, endpoint, ctx) {
    const base = ctx.publicBaseUrl();
    if (!base) throw new WebhookVerificationError('twilio', 'not_configured');
    // The current token and, within WEBHOOK_SECRET_GRACE_SECONDS of a rotation, the replaced one.
    return verifyWithAny('twilio', endpoint.remote.authToken.accepted(), (authToken) =>
      verifyTwilioSignature({
        authToken,
        url: new URL(delivery.url, base).toString(),
        signature: delivery.header('x-twilio-signature'),
        contentType: delivery.header('content-type'),
        rawBody: delivery.rawBody,
      }),
    );
  },
  async handle(params, delivery, ctx) {
    const sid = params.get('MessageSid') ?? '';
    if (!SID.test(sid)) {
      ctx.unusable('no MessageSid');
      return { status: 204 };
    }
    const status = params.get('MessageStatus') ?? '';
    const to = bounded(params.get('To'), 64);
    const userId = bounded(new URL(delivery.url, 'http://x').searchParams.get('userId'), 255);
    const run = () => onStatus({ sid, to, userId }, delivery, ctx);
    if (STATUS.test(status)) {
      const { duplicate } = await ctx.once(`twilio:${sid}:${status}`, run);
      if (duplicate) ctx.duplicate();
    } else {
      // A status we cannot read is still news about this message: its effects fetch the message
      // itself, so they hold whatever the callback said. Without a status there is no dedupe key.
      delivery.log.warn({ provider: 'twilio' }, 'message status not readable: used as a signal');
      await run();
    }
    // Twilio ignores the body; an empty TwiML-free 204 is the conventional answer.
    return { status: 204 };
  },
};

async function onStatus(
  update: { sid: string; to: string | null; userId: string | null },
  delivery: WebhookDelivery,
  ctx: WebhookContext<TwilioClient>,
): Promise<void> {
  if (update.to) ctx.client.invalidateMessages(update.to);
  if (update.userId && ctx.mayHaveSubscribers(messageTopic(update.userId))) {
    // The callback carries the status but not the message: fetch it once, for the watchers.
    const message = await ctx.client.getMessage(update.sid, { requestId: delivery.requestId });
    ctx.publish(messageTopic(update.userId), message);
  }
  delivery.log.info({ provider: 'twilio' }, 'message status');
}
