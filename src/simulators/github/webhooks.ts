// GitHub webhook deliveries as GitHub sends them: the JSON payload signed with HMAC-SHA256 of the raw
// body in `X-Hub-Signature-256: sha256=<hex>` (and the legacy SHA-1 `X-Hub-Signature`), with the event
// in `X-GitHub-Event` and a GUID in `X-GitHub-Delivery`; and the payloads of the events Junction uses.
import { createHmac, randomBytes } from 'node:crypto';
import type { OutboxMessage } from '../shared/outbox.js';
import type { GitHubUrls } from './objects.js';
import { isoSeconds, toPushRepository, toSimpleUser, toWebhookRepository } from './objects.js';
import type { GitHubRepoRecord, GitHubUserRecord } from './seed.js';

/** Where the simulator POSTs events and the webhook secret it signs them with. */
export interface GitHubWebhookTarget {
  /** Receiver URL, e.g. Junction's `http://127.0.0.1:4000/webhooks/github`. */
  url: string;
  /**
   * The webhook's secret. GitHub signs every delivery with the webhook's one current secret; to model a
   * rotation, call `setWebhook` with the new secret (and keep the old one on the receiver's side).
   */
  secret: string;
}

/** One event the simulator sent (or tried to), kept for redelivery and for tests. */
export interface GitHubWebhookDelivery {
  /** `X-GitHub-Delivery`: a GUID, the same on a redelivery. */
  guid: string;
  /** `X-GitHub-Event`, e.g. `push`. */
  event: string;
  /** The exact body that is signed and sent. */
  body: string;
  /** The parsed payload. */
  payload: unknown;
}

/** `sha256=<hex HMAC-SHA256 of body>`, the value of `X-Hub-Signature-256`. */
export function signatureSha256(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

/** `sha1=<hex HMAC-SHA1 of body>`, the legacy `X-Hub-Signature` GitHub still sends alongside. */
export function signatureSha1(body: string, secret: string): string {
  return `sha1=${createHmac('sha1', secret).update(body, 'utf8').digest('hex')}`;
}

/** Identifies the webhook in the delivery headers, like GitHub's hook and app ids. */
export interface GitHubHookIdentity {
  hookId: number;
  /** The app the webhook belongs to (`X-GitHub-Hook-Installation-Target-ID`, type `integration`). */
  appId: number;
}

/** The delivery of `delivery` to `target`; GitHub signs each attempt of the same body identically. */
export function githubWebhookMessage(
  delivery: GitHubWebhookDelivery,
  target: GitHubWebhookTarget,
  hook: GitHubHookIdentity,
  secret: string = target.secret,
): OutboxMessage {
  return {
    url: target.url,
    label: delivery.event,
    build: () => ({
      headers: {
        'content-type': 'application/json',
        'user-agent': 'GitHub-Hookshot/5a1b5e7',
        'x-github-delivery': delivery.guid,
        'x-github-event': delivery.event,
        'x-github-hook-id': String(hook.hookId),
        'x-github-hook-installation-target-id': String(hook.appId),
        'x-github-hook-installation-target-type': 'integration',
        'x-hub-signature': signatureSha1(delivery.body, secret),
        'x-hub-signature-256': signatureSha256(delivery.body, secret),
      },
      body: delivery.body,
    }),
  };
}

function sha(): string {
  return randomBytes(20).toString('hex');
}

/** `repository` with `action: created`. */
export function repositoryCreatedPayload(repo: GitHubRepoRecord, owner: GitHubUserRecord, urls: GitHubUrls) {
  return {
    action: 'created',
    repository: toWebhookRepository(repo, owner, urls),
    sender: toSimpleUser(owner, urls),
  };
}

/** A `push` of one commit to the default branch (the first push when `created`). */
export function pushPayload(
  repo: GitHubRepoRecord,
  owner: GitHubUserRecord,
  urls: GitHubUrls,
  opts: { message: string; at: number; created: boolean; files?: readonly string[] },
) {
  const fullName = `${repo.ownerLogin}/${repo.name}`;
  const after = sha();
  const before = opts.created ? '0'.repeat(40) : sha();
  const person = { name: owner.name ?? owner.login, email: owner.email, username: owner.login };
  const commit = {
    id: after,
    tree_id: sha(),
    distinct: true,
    message: opts.message,
    timestamp: isoSeconds(opts.at),
    url: `${urls.web}/${fullName}/commit/${after}`,
    author: person,
    committer: person,
    added: [...(opts.files ?? ['README.md'])],
    removed: [],
    modified: [],
  };
  return {
    ref: `refs/heads/${repo.defaultBranch}`,
    before,
    after,
    repository: toPushRepository(repo, owner, urls),
    pusher: { name: owner.login, email: owner.email },
    sender: toSimpleUser(owner, urls),
    created: opts.created,
    deleted: false,
    forced: false,
    base_ref: null,
    compare: opts.created
      ? `${urls.web}/${fullName}/commit/${after}`
      : `${urls.web}/${fullName}/compare/${before.slice(0, 12)}...${after.slice(0, 12)}`,
    commits: [commit],
    head_commit: commit,
  };
}

/** `star` with `action: created` (by `starrer`) or `deleted` (`starred_at` null). */
export function starPayload(
  action: 'created' | 'deleted',
  repo: GitHubRepoRecord,
  owner: GitHubUserRecord,
  starrer: GitHubUserRecord,
  urls: GitHubUrls,
  at: number,
) {
  return {
    action,
    starred_at: action === 'created' ? isoSeconds(at) : null,
    repository: toWebhookRepository(repo, owner, urls),
    sender: toSimpleUser(starrer, urls),
  };
}

/** `github_app_authorization` with `action: revoked`: the user revoked the app's authorization. */
export function appAuthorizationRevokedPayload(user: GitHubUserRecord, urls: GitHubUrls) {
  return { action: 'revoked', sender: toSimpleUser(user, urls) };
}
