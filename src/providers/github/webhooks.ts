// GitHub's webhook intake: verify `X-Hub-Signature-256` (several secrets while rotating), then act
// once per `X-GitHub-Delivery`. `push`, `repository` and `star` mean an account's repositories
// changed: the cached repositories of every Junction user connected to the repository's owner are
// forgotten and `repositoryUpdated` is pushed to them. `github_app_authorization` (revoked) marks
// those connections RECONNECT_REQUIRED. An authentic event is never refused for its shape.
import { repositoryTopic } from '../../models/codeHosting.js';
import type { ProviderWebhooks, WebhookContext, WebhookDelivery } from '../module.js';
import { parseJsonBody } from '../webhookKit.js';
import type { GitHubClient } from './client.js';
import type { githubConfig } from './config.js';
import { toRepository } from './mapping.js';
import { appAuthorizationEventSchema, repositoryEventSchema } from './types.js';
import { verifyGitHubSignature } from './webhookSignature.js';

/** GitHub's delivery ids are GUIDs; anything short and inert is accepted as a dedupe key. */
const DELIVERY_ID = /^[A-Za-z0-9-]{1,64}$/;
const EVENT = /^[a-z_]{1,64}$/;
const REPOSITORY_EVENTS = new Set(['push', 'repository', 'star']);

type Spec = typeof githubConfig;

export const githubWebhooks: ProviderWebhooks<Spec['remote'], Spec['settings'], GitHubClient> = {
  verify(delivery, endpoint) {
    verifyGitHubSignature(
      delivery.rawBody,
      delivery.header('x-hub-signature-256'),
      // The current secrets and, within WEBHOOK_SECRET_GRACE_SECONDS of a rotation, the replaced ones.
      endpoint.settings.webhookSecrets.accepted().flat(),
    );
  },
  async handle(_verified, delivery, ctx) {
    const id = delivery.header('x-github-delivery') ?? '';
    const event = delivery.header('x-github-event') ?? '';
    if (!DELIVERY_ID.test(id) || !EVENT.test(event)) {
      ctx.unusable('no readable X-GitHub-Delivery or X-GitHub-Event');
      return { status: 200, body: { received: true, duplicate: false } };
    }
    const { duplicate } = await ctx.once(`github:${id}`, () => onEvent(event, delivery, ctx));
    if (duplicate) ctx.duplicate();
    return { status: 200, body: { received: true, duplicate } };
  },
};

async function onEvent(event: string, delivery: WebhookDelivery, ctx: WebhookContext<GitHubClient>) {
  if (REPOSITORY_EVENTS.has(event)) {
    const parsed = repositoryEventSchema.safeParse(parseJsonBody(delivery.rawBody));
    if (!parsed.success) {
      ctx.unusable(`${event} event without a readable repository`);
      return;
    }
    const repository = toRepository(parsed.data.repository);
    // A failure here (the database down) answers 5xx: GitHub's redelivery will find it up again.
    const users = await ctx.client.repositoriesChanged(String(parsed.data.repository.owner.id));
    for (const userId of users) ctx.publish(repositoryTopic(userId), repository);
    delivery.log.info({ provider: 'github', event, users: users.length }, 'repository event');
    return;
  }
  if (event === 'github_app_authorization') {
    const parsed = appAuthorizationEventSchema.safeParse(parseJsonBody(delivery.rawBody));
    if (!parsed.success) {
      ctx.unusable('github_app_authorization event without a sender');
      return;
    }
    if (parsed.data.action !== 'revoked') return;
    const users = await ctx.client.accountRevoked(String(parsed.data.sender.id));
    delivery.log.info({ provider: 'github', event, users: users.length }, 'app authorization revoked');
  }
  // Anything else (ping, ...) is acknowledged: nothing of ours depends on it.
}
