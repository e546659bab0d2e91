// Webhook intake: `POST /webhooks/<provider>` for every module of the registry that has webhooks.
// Each route reads the raw body byte for byte and hands it to the module, which verifies the
// provider's signature and acts on each event once (dedupe); the answer is 2xx only after the
// effects ran (cache invalidation, subscription pushes), and a failed effect answers 5xx so the
// provider retries. A rejected delivery processes nothing and is counted and logged. An authentic
// event is never refused for its shape: modules count what they cannot use and acknowledge it.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type Tracing, traceWebhookIntake } from '../observability/tracing.js';
import type { ProviderEndpoint, WebhookDelivery } from '../providers/module.js';
import { type Clients, type ProviderName, providerModules } from '../providers/registry.js';
import { isWebhookVerificationError } from '../providers/webhookKit.js';
import type { EventDeduper } from './dedupe.js';
import type { PubSub } from './pubsub.js';

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
  pubsub: PubSub;
  deduper: EventDeduper;
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
        const answer = await webhooks.handle(verified, delivery, {
          client: deps.clients[name],
          once: (id, effect) => deps.deduper.once(id, effect),
          publish: (topic, value) => deps.pubsub.publish(topic, value),
          subscriberCount: (topic) => deps.pubsub.subscriberCount(topic),
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
        return reply.code(answer.status).send(answer.body);
      });
    }
  });
}

function providerOf(request: FastifyRequest): string {
  return request.url.split('?')[0]?.split('/')[2] ?? 'unknown';
}
