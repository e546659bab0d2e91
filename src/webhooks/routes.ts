// Webhook intake: `POST /webhooks/<provider>` for every module of the registry that has webhooks.
// Each route reads the raw body byte for byte and hands it to the module, which verifies the
// provider's signature and acts on each event once (dedupe); the answer is 2xx only after the
// effects ran (cache invalidation, subscription pushes), and a failed effect answers 5xx so the
// provider retries. A rejected delivery processes nothing and is counted and logged. An authentic
// event is never refused for its shape: modules count what they cannot use and acknowledge it.
// With Redis (state/), the event id is claimed across replicas: a retry landing on another replica
// is a duplicate; one arriving while another replica still runs the event (or after that run failed)
// answers 409/503 with Retry-After, so the provider delivers it again later. Pushes go through the
// shared push bus, so a subscriber on any replica gets them.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type Tracing, traceWebhookIntake } from '../observability/tracing.js';
import type { ProviderEndpoint, WebhookDelivery } from '../providers/module.js';
import { type Clients, type ProviderName, providerModules } from '../providers/registry.js';
import { isWebhookVerificationError } from '../providers/webhookKit.js';
import { type EventDedupe, isEventNotSettledError, type PushBus } from '../state/index.js';

export interface WebhookObserver {
  received(provider: string): void;
  rejected(provider: string, reason: string): void;
  duplicate(provider: string): void;
  /** Verified events Junction could not use at all (acknowledged, so the provider does not retry). */
  unusable(provider: string, count: number): void;
}

export interface WebhookDeps {
  /** Each provider's client, by name. */
  clients: Clients;
  /** Each provider's endpoint (where its secrets are). */
  endpoints: Record<ProviderName, ProviderEndpoint>;
  /** Where subscription pushes go (every replica's subscribers, with Redis). */
  pushes: PushBus;
  /** Claims each event id once (across replicas, with Redis). */
  dedupe: EventDedupe;
  /** The current public base URL (it is known only after listen in demo mode). */
  publicBaseUrl: () => string | undefined;
  observer?: WebhookObserver | undefined;
  /** Largest accepted webhook body in bytes; larger gets 413. Default 256 KiB. */
  maxBodyBytes?: number;
  /** Clock in ms for signature timestamps. Default Date.now. */
  now?: () => number;
  /** One span per delivery when tracing is on. Default undefined: none. */
  tracing?: Tracing | undefined;
}

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

    scope.setErrorHandler((error: Error & { statusCode?: number }, request, reply) => {
      const provider = providerOf(request);
      if (isEventNotSettledError(error)) {
        // Another replica holds this event (still running, or its run failed): not processed here,
        // and not acknowledged, so the provider delivers it again later.
        const inProgress = error.code === 'EVENT_IN_PROGRESS';
        request.log.warn({ provider, code: error.code }, 'webhook event not settled on another replica');
        return reply
          .code(inProgress ? 409 : 503)
          .header('retry-after', String(NOT_SETTLED_RETRY_AFTER_SECONDS))
          .send({ error: inProgress ? 'event_in_progress' : 'event_first_run_failed' });
      }
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

    for (const module of providerModules) {
      const webhooks = module.webhooks;
      if (!webhooks) continue;
      const name = module.name as ProviderName;
      scope.post(`/webhooks/${name}`, async (request, reply) => {
        const delivery: WebhookDelivery = {
          rawBody: Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
          header: (header) => {
            const value = request.headers[header];
            return Array.isArray(value) ? value[0] : value;
          },
          url: request.url,
          requestId: request.id,
          log: request.log,
        };
        const endpoint = deps.endpoints[name];
        const verified = webhooks.verify(delivery, endpoint, { now, publicBaseUrl: deps.publicBaseUrl });
        observe?.received(name);
        // Pushes published by this delivery's effects: the answer waits for them (a push that
        // cannot be sent, too large for the bus, is logged, and does not make the provider retry).
        const pushes: Promise<void>[] = [];
        const answer = await webhooks.handle(verified, delivery, {
          client: deps.clients[name],
          once: (id, effect) =>
            deps.dedupe.once(id, async () => {
              await effect();
              await Promise.all(pushes.splice(0));
            }),
          publish: (topic, value) => {
            pushes.push(
              deps.pushes.publish(topic, value).catch((error: unknown) => {
                request.log.error({ provider: name, err: error }, 'subscription push not sent');
              }),
            );
          },
          mayHaveSubscribers: (topic) => deps.pushes.mayHaveSubscribers(topic),
          unusable: (reason, count = 1) => {
            observe?.unusable(name, count);
            // One line per delivery, never the payload: it may hold personal data.
            request.log.warn(
              { provider: name, reason, count },
              'webhook event unusable: acknowledged, nothing done',
            );
          },
          duplicate: () => observe?.duplicate(name),
        });
        await Promise.all(pushes.splice(0));
        return reply.code(answer.status).send(answer.body);
      });
    }
  });
}

/** Retry-After of a delivery whose event another replica holds: about one processing claim. */
const NOT_SETTLED_RETRY_AFTER_SECONDS = 5;

function providerOf(request: FastifyRequest): string {
  return request.url.split('?')[0]?.split('/')[2] ?? 'unknown';
}
