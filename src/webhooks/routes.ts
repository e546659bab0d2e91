// Webhook intake: POST /webhooks/{stripe,twilio,sendgrid}. Each route reads the raw body byte for
// byte, verifies the provider's signature, acts on each event once (dedupe), and answers 2xx only
// after the effects ran (cache invalidation, subscription pushes); a failed effect answers 5xx so
// the provider retries. A rejected delivery processes nothing and is counted and logged.
import type { KeyObject } from 'node:crypto';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Services } from '../graphql/context.js';
import { type Tracing, traceWebhookIntake } from '../observability/tracing.js';
import { toPayment } from '../providers/stripe/mapping.js';
import { stripePaymentIntentSchema } from '../providers/stripe/types.js';
import type { EventDeduper } from './dedupe.js';
import { isWebhookVerificationError, WebhookVerificationError } from './errors.js';
import { messageTopic, type PubSub, paymentTopic } from './pubsub.js';
import { verifySendGridSignature } from './verifySendGrid.js';
import { verifyStripeSignature } from './verifyStripe.js';
import { verifyTwilioSignature } from './verifyTwilio.js';

export interface WebhookSecrets {
  stripeSecrets: readonly string[];
  twilioAuthToken: string;
  /** Returns the current public base URL (it is known only after listen in demo mode). */
  publicBaseUrl: () => string | undefined;
  sendgridPublicKey: KeyObject | undefined;
}

export interface WebhookObserver {
  received(provider: string): void;
  rejected(provider: string, reason: string): void;
  duplicate(provider: string): void;
}

export interface WebhookDeps {
  services: Services;
  pubsub: PubSub;
  deduper: EventDeduper;
  secrets: WebhookSecrets;
  observer?: WebhookObserver | undefined;
  /** Largest accepted webhook body in bytes; larger gets 413. Default 256 KiB. */
  maxBodyBytes?: number;
  /** Clock in ms for signature timestamps. Default Date.now. */
  now?: () => number;
  /** One span per delivery when tracing is on. Default undefined: none. */
  tracing?: Tracing | undefined;
}

const stripeEventSchema = z.looseObject({
  id: z.string().min(1).max(255),
  type: z.string().min(1),
  data: z.looseObject({ object: z.looseObject({}) }),
});

const sendgridEventsSchema = z
  .array(
    z.looseObject({
      sg_event_id: z.string().min(1).max(255),
      event: z.string(),
      email: z.string().optional(),
    }),
  )
  .max(1000);

const SID = /^[A-Z]{2}[0-9a-fA-F]{32}$/;

export async function registerWebhookRoutes(server: FastifyInstance, deps: WebhookDeps): Promise<void> {
  const maxBodyBytes = deps.maxBodyBytes ?? 256 * 1024; // 256 KiB
  const now = deps.now ?? Date.now;
  const observe = deps.observer;

  await server.register(async (scope) => {
    if (deps.tracing) traceWebhookIntake(scope, deps.tracing);
    // Raw bytes for every content type: signatures cover the exact payload.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: maxBodyBytes }, (_req, body, done) =>
      done(null, body),
    );

    scope.setErrorHandler((error: Error & { statusCode?: number; provider?: string }, request, reply) => {
      const provider = providerOf(request);
      if (isWebhookVerificationError(error)) {
        observe?.rejected(error.provider, error.reason);
        request.log.warn({ provider: error.provider, reason: error.reason }, 'webhook rejected');
        return reply.code(error.status).send({ error: error.reason });
      }
      if (error.statusCode === 413) {
        observe?.rejected(provider, 'body_too_large');
        return reply.code(413).send({ error: 'body_too_large', limitBytes: maxBodyBytes });
      }
      if (error.statusCode !== undefined && error.statusCode < 500) {
        observe?.rejected(provider, 'bad_request');
        return reply.code(error.statusCode).send({ error: 'bad_request' });
      }
      // Effects failed: 5xx makes the provider deliver again later.
      request.log.error({ provider, err: error }, 'webhook processing failed');
      return reply.code(500).send({ error: 'processing_failed' });
    });

    scope.post('/webhooks/stripe', async (request, reply) => {
      const raw = rawBody(request);
      verifyStripeSignature(raw, header(request, 'stripe-signature'), {
        secrets: deps.secrets.stripeSecrets,
        now,
      });
      const event = parseJson(raw, stripeEventSchema, 'stripe');
      observe?.received('stripe');
      const { duplicate } = await deps.deduper.once(`stripe:${event.id}`, () =>
        onStripeEvent(event, deps, request.log),
      );
      if (duplicate) observe?.duplicate('stripe');
      return reply.code(200).send({ received: true, duplicate });
    });

    scope.post('/webhooks/twilio', async (request, reply) => {
      const base = deps.secrets.publicBaseUrl();
      if (!base) throw new WebhookVerificationError('twilio', 'not_configured');
      const params = verifyTwilioSignature({
        authToken: deps.secrets.twilioAuthToken,
        url: new URL(request.url, base).toString(),
        signature: header(request, 'x-twilio-signature'),
        contentType: header(request, 'content-type'),
        rawBody: rawBody(request),
      });
      const sid = params.get('MessageSid') ?? '';
      const status = params.get('MessageStatus') ?? '';
      if (!SID.test(sid) || !/^[a-z_]{1,32}$/.test(status))
        throw new WebhookVerificationError('twilio', 'malformed_body');
      observe?.received('twilio');
      const userId = new URL(request.url, 'http://x').searchParams.get('userId');
      const { duplicate } = await deps.deduper.once(`twilio:${sid}:${status}`, () =>
        onTwilioStatus({ sid, to: params.get('To'), userId }, deps, request.log),
      );
      if (duplicate) observe?.duplicate('twilio');
      // Twilio ignores the body; an empty TwiML-free 204 is the conventional answer.
      return reply.code(204).send();
    });

    scope.post('/webhooks/sendgrid', async (request, reply) => {
      const raw = rawBody(request);
      verifySendGridSignature(
        raw,
        header(request, 'x-twilio-email-event-webhook-signature'),
        header(request, 'x-twilio-email-event-webhook-timestamp'),
        { publicKey: deps.secrets.sendgridPublicKey, now },
      );
      const events = parseJson(raw, sendgridEventsSchema, 'sendgrid');
      observe?.received('sendgrid');
      let duplicates = 0;
      for (const event of events) {
        const { duplicate } = await deps.deduper.once(`sendgrid:${event.sg_event_id}`, async () => {
          request.log.info({ provider: 'sendgrid', event: event.event }, 'email event');
        });
        if (duplicate) {
          duplicates += 1;
          observe?.duplicate('sendgrid');
        }
      }
      return reply.code(200).send({ received: events.length, duplicates });
    });
  });
}

async function onStripeEvent(
  event: z.infer<typeof stripeEventSchema>,
  deps: WebhookDeps,
  log: FastifyBaseLogger,
): Promise<void> {
  if (!event.type.startsWith('payment_intent.')) return; // acknowledged, nothing of ours depends on it
  const parsed = stripePaymentIntentSchema.safeParse(event.data.object);
  if (!parsed.success) throw new WebhookVerificationError('stripe', 'malformed_body', 'payment_intent');
  const payment = toPayment(parsed.data);
  deps.services.stripe.invalidatePayment(payment.id);
  if (payment.customerId) {
    deps.services.stripe.invalidatePayments(payment.customerId);
    deps.services.stripe.invalidateCustomer(payment.customerId);
  }
  if (payment.userId) deps.pubsub.publish(paymentTopic(payment.userId), payment);
  log.info({ provider: 'stripe', type: event.type, status: payment.status }, 'payment event');
}

async function onTwilioStatus(
  update: { sid: string; to: string | null; userId: string | null },
  deps: WebhookDeps,
  log: FastifyBaseLogger,
): Promise<void> {
  if (update.to) deps.services.twilio.invalidateMessages(update.to);
  if (update.userId && deps.pubsub.subscriberCount(messageTopic(update.userId)) > 0) {
    // The callback carries the status but not the message: fetch it once, for the watchers.
    const message = await deps.services.twilio.getMessage(update.sid, {});
    deps.pubsub.publish(messageTopic(update.userId), message);
  }
  log.info({ provider: 'twilio' }, 'message status');
}

function providerOf(request: FastifyRequest): string {
  return request.url.split('?')[0]?.split('/')[2] ?? 'unknown';
}

function rawBody(request: FastifyRequest): Buffer {
  return Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function parseJson<T>(raw: Buffer, schema: z.ZodType<T>, provider: string): T {
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new WebhookVerificationError(provider, 'malformed_body', 'not JSON');
  }
  const result = schema.safeParse(value);
  if (!result.success) throw new WebhookVerificationError(provider, 'malformed_body');
  return result.data;
}
