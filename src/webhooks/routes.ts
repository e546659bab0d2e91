// Webhook intake: POST /webhooks/{stripe,twilio,sendgrid}. Each route reads the raw body byte for
// byte, verifies the provider's signature, acts on each event once (dedupe), and answers 2xx only
// after the effects ran (cache invalidation, subscription pushes); a failed effect answers 5xx so
// the provider retries. A rejected delivery processes nothing and is counted and logged.
// An authentic event is never refused for its shape (a retry carries the same body, and providers
// disable endpoints that keep failing): an object Junction cannot read is a signal to fetch the
// current one by id; an event with nothing usable is acknowledged, counted and logged.
import type { KeyObject } from 'node:crypto';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Services } from '../graphql/context.js';
import type { Payment } from '../models/billing.js';
import { toPayment } from '../providers/stripe/mapping.js';
import { stripePaymentIntentSchema } from '../providers/stripe/types.js';
import type { EventDeduper } from './dedupe.js';
import { isWebhookVerificationError, WebhookVerificationError } from './errors.js';
import { messageTopic, type PubSub, paymentTopic } from './pubsub.js';
import { verifySendGridSignature } from './verifySendGrid.js';
import { verifyStripeSignature } from './verifyStripe.js';
import { verifyTwilioSignature } from './verifyTwilio.js';

/**
 * What verifies each provider's deliveries, asked for per delivery: secrets rotate while Junction
 * runs, and during the grace period after a rotation the replaced value is accepted too.
 */
export interface WebhookSecrets {
  /** Stripe signing secrets accepted now (empty: Stripe webhooks are refused as not configured). */
  stripeSecrets: () => readonly string[];
  /** Twilio auth tokens accepted now (current first). */
  twilioAuthTokens: () => readonly string[];
  /** Returns the current public base URL (it is known only after listen in demo mode). */
  publicBaseUrl: () => string | undefined;
  /** SendGrid event webhook public keys accepted now (empty: refused as not configured). */
  sendgridPublicKeys: () => readonly KeyObject[];
}

export interface WebhookObserver {
  received(provider: string): void;
  rejected(provider: string, reason: string): void;
  duplicate(provider: string): void;
  /** Verified events Junction could not use at all (acknowledged, so the provider does not retry). */
  unusable(provider: string, count: number): void;
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
}

const stripeEventSchema = z.looseObject({
  id: z.string().min(1).max(255),
  type: z.string().min(1),
  data: z.looseObject({ object: z.looseObject({}) }),
});

const sendgridEventSchema = z.looseObject({
  sg_event_id: z.string().min(1).max(255),
  event: z.string().regex(/^[a-z_]{1,32}$/),
});

/** Ids read from an event that failed its schema, before they are used to fetch anything. */
const PAYMENT_INTENT_ID = /^pi_[A-Za-z0-9_]{1,250}$/;
const SID = /^[A-Z]{2}[0-9a-fA-F]{32}$/;
const TWILIO_STATUS = /^[a-z_]{1,32}$/;
/** Event type names worth a log field (Stripe's are dotted lower case). */
const EVENT_TYPE = /^[a-z_.]{1,64}$/;
/** Most SendGrid events looked at in one delivery (SendGrid batches a few hundred at most). */
const MAX_SENDGRID_EVENTS = 10_000;

export async function registerWebhookRoutes(server: FastifyInstance, deps: WebhookDeps): Promise<void> {
  const maxBodyBytes = deps.maxBodyBytes ?? 256 * 1024; // 256 KiB
  const now = deps.now ?? Date.now;
  const observe = deps.observer;
  // One metric and one log line per delivery, never the payload: it may hold personal data.
  const unusable: Unusable = (provider, reason, log, count = 1) => {
    observe?.unusable(provider, count);
    log.warn({ provider, reason, count }, 'webhook event unusable: acknowledged, nothing done');
  };

  await server.register(async (scope) => {
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
        secrets: deps.secrets.stripeSecrets(),
        now,
      });
      observe?.received('stripe');
      const event = stripeEventSchema.safeParse(parseJson(raw));
      if (!event.success) {
        unusable('stripe', 'not an event envelope (id, type, data.object)', request.log);
        return reply.code(200).send({ received: true, duplicate: false });
      }
      const { duplicate } = await deps.deduper.once(`stripe:${event.data.id}`, () =>
        onStripeEvent(event.data, deps, { log: request.log, requestId: request.id, unusable }),
      );
      if (duplicate) observe?.duplicate('stripe');
      return reply.code(200).send({ received: true, duplicate });
    });

    scope.post('/webhooks/twilio', async (request, reply) => {
      const base = deps.secrets.publicBaseUrl();
      if (!base) throw new WebhookVerificationError('twilio', 'not_configured');
      const params = verifyWithAny('twilio', deps.secrets.twilioAuthTokens(), (authToken) =>
        verifyTwilioSignature({
          authToken,
          url: new URL(request.url, base).toString(),
          signature: header(request, 'x-twilio-signature'),
          contentType: header(request, 'content-type'),
          rawBody: rawBody(request),
        }),
      );
      observe?.received('twilio');
      const sid = params.get('MessageSid') ?? '';
      if (!SID.test(sid)) {
        unusable('twilio', 'no MessageSid', request.log);
        return reply.code(204).send();
      }
      const status = params.get('MessageStatus') ?? '';
      const to = bounded(params.get('To'), 64);
      const userId = bounded(new URL(request.url, 'http://x').searchParams.get('userId'), 255);
      const run = () => onTwilioStatus({ sid, to, userId }, deps, request.log, request.id);
      if (TWILIO_STATUS.test(status)) {
        const { duplicate } = await deps.deduper.once(`twilio:${sid}:${status}`, run);
        if (duplicate) observe?.duplicate('twilio');
      } else {
        // A status we cannot read is still news about this message: its effects fetch the message
        // itself, so they hold whatever the callback said. Without a status there is no dedupe key.
        request.log.warn({ provider: 'twilio' }, 'message status not readable: used as a signal');
        await run();
      }
      // Twilio ignores the body; an empty TwiML-free 204 is the conventional answer.
      return reply.code(204).send();
    });

    scope.post('/webhooks/sendgrid', async (request, reply) => {
      const raw = rawBody(request);
      verifyWithAny('sendgrid', deps.secrets.sendgridPublicKeys(), (publicKey) =>
        verifySendGridSignature(
          raw,
          header(request, 'x-twilio-email-event-webhook-signature'),
          header(request, 'x-twilio-email-event-webhook-timestamp'),
          { publicKey, now },
        ),
      );
      observe?.received('sendgrid');
      const body = parseJson(raw);
      if (!Array.isArray(body)) {
        unusable('sendgrid', 'not a JSON array of events', request.log);
        return reply.code(200).send({ received: 0, duplicates: 0, unusable: 1 });
      }
      let received = 0;
      let duplicates = 0;
      let unreadable = Math.max(0, body.length - MAX_SENDGRID_EVENTS);
      for (const item of body.slice(0, MAX_SENDGRID_EVENTS)) {
        const event = sendgridEventSchema.safeParse(item);
        if (!event.success) {
          unreadable += 1;
          continue;
        }
        received += 1;
        const { sg_event_id: id, event: kind } = event.data;
        const { duplicate } = await deps.deduper.once(`sendgrid:${id}`, async () => {
          request.log.info({ provider: 'sendgrid', event: kind }, 'email event');
        });
        if (duplicate) {
          duplicates += 1;
          observe?.duplicate('sendgrid');
        }
      }
      if (unreadable > 0)
        unusable('sendgrid', 'events without sg_event_id or event', request.log, unreadable);
      return reply.code(200).send({ received, duplicates, unusable: unreadable });
    });
  });
}

type Unusable = (provider: string, reason: string, log: FastifyBaseLogger, count?: number) => void;

async function onStripeEvent(
  event: z.infer<typeof stripeEventSchema>,
  deps: WebhookDeps,
  run: { log: FastifyBaseLogger; requestId: string; unusable: Unusable },
): Promise<void> {
  if (!event.type.startsWith('payment_intent.')) return; // acknowledged, nothing of ours depends on it
  const type = EVENT_TYPE.test(event.type) ? event.type : 'payment_intent.?';
  const parsed = stripePaymentIntentSchema.safeParse(event.data.object);
  let payment: Payment | null;
  if (parsed.success) {
    payment = toPayment(parsed.data);
    deps.services.stripe.invalidatePayment(payment.id);
  } else {
    // A trimmed payload, or one rendered in another API version: the event still says this
    // PaymentIntent changed. Fetch it as it is now, in the pinned version, and act on that.
    const id = event.data.object.id;
    if (typeof id !== 'string' || !PAYMENT_INTENT_ID.test(id)) {
      run.unusable('stripe', 'payment_intent event without a PaymentIntent id', run.log);
      return;
    }
    run.log.warn(
      { provider: 'stripe', type },
      'payment event object not in the pinned API version shape: fetching the current PaymentIntent',
    );
    deps.services.stripe.invalidatePayment(id);
    // A failure here (Stripe down) answers 5xx: Stripe's retry will find Stripe up again.
    payment = await deps.services.stripe.getPayment(id, { requestId: run.requestId });
    if (payment === null) {
      run.unusable('stripe', 'the PaymentIntent is unknown to Stripe', run.log);
      return;
    }
  }
  if (payment.customerId) {
    deps.services.stripe.invalidatePayments(payment.customerId);
    deps.services.stripe.invalidateCustomer(payment.customerId);
  }
  if (payment.userId) deps.pubsub.publish(paymentTopic(payment.userId), payment);
  run.log.info({ provider: 'stripe', type, status: payment.status }, 'payment event');
}

async function onTwilioStatus(
  update: { sid: string; to: string | null; userId: string | null },
  deps: WebhookDeps,
  log: FastifyBaseLogger,
  requestId: string,
): Promise<void> {
  if (update.to) deps.services.twilio.invalidateMessages(update.to);
  if (update.userId && deps.pubsub.subscriberCount(messageTopic(update.userId)) > 0) {
    // The callback carries the status but not the message: fetch it once, for the watchers.
    const message = await deps.services.twilio.getMessage(update.sid, { requestId });
    deps.pubsub.publish(messageTopic(update.userId), message);
  }
  log.info({ provider: 'twilio' }, 'message status');
}

/**
 * `verify` with each key in turn (the current one first, then one replaced within the grace
 * period): the first that verifies wins. A delivery is refused for a mismatch only when no key
 * matches; any other refusal (a missing or malformed signature, a stale timestamp) is the same
 * for every key and comes from the first.
 */
function verifyWithAny<K, R>(provider: string, keys: readonly K[], verify: (key: K) => R): R {
  if (keys.length === 0) throw new WebhookVerificationError(provider, 'not_configured');
  let mismatch: WebhookVerificationError | undefined;
  for (const key of keys) {
    try {
      return verify(key);
    } catch (error) {
      if (!isWebhookVerificationError(error) || error.reason !== 'signature_mismatch') throw error;
      mismatch ??= error;
    }
  }
  throw mismatch;
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

/** The verified body as JSON, or undefined when it is not JSON (the caller counts it unusable). */
function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
}

function bounded(value: string | null, maxLength: number): string | null {
  return value !== null && value.length > 0 && value.length <= maxLength ? value : null;
}
