// GitHub simulator: one loopback server playing github.com (the OAuth web flow of one app: consent page,
// token endpoint with PKCE and rotating refresh tokens, grant revocation) and api.github.com (`GET /user`,
// `GET /user/repos` paged by `Link`, ETag/304 that costs no quota, x-ratelimit-* per user, API version
// and media type checks, GitHub's error bodies), plus signed webhooks and the shared fault injector.
import { randomUUID } from 'node:crypto';
import type { DeliveryAttempt } from '../shared/outbox.js';
import { createOutbox } from '../shared/outbox.js';
import type { ProviderSimulatorOptions, Simulator } from '../shared/simulator.js';
import { createSimulator } from '../shared/simulator.js';
import { createApiRoutes } from './apiRoutes.js';
import { githubFaultError } from './errors.js';
import type { TokenResponseBody } from './oauth.js';
import { createGitHubOAuth, parseScopes, randomToken } from './oauth.js';
import { createOAuthRoutes } from './oauthRoutes.js';
import type { GitHubUrls } from './objects.js';
import type { RateLimitSnapshot } from './rateLimit.js';
import { createRateLimiter } from './rateLimit.js';
import type { GitHubRepoRecord, GitHubSeedAccount, GitHubUserRecord } from './seed.js';
import { DEFAULT_GITHUB_PRNG_SEED, DEFAULT_GITHUB_SEED } from './seed.js';
import type { NewRepository } from './store.js';
import { createGitHubStore } from './store.js';
import type { GitHubWebhookDelivery, GitHubWebhookTarget } from './webhooks.js';
import {
  appAuthorizationRevokedPayload,
  githubWebhookMessage,
  pushPayload,
  repositoryCreatedPayload,
  starPayload,
} from './webhooks.js';

export type { GitHubWebhookDelivery, GitHubWebhookTarget } from './webhooks.js';

export interface GitHubSimulatorOptions extends ProviderSimulatorOptions {
  /** Accounts and how many repositories each owns, seeded deterministically. Default: DEFAULT_GITHUB_SEED (one account with 250 repositories). */
  accounts?: readonly GitHubSeedAccount[];
  /** PRNG seed of the generated data. Default: DEFAULT_GITHUB_PRNG_SEED. */
  seed?: number;
  /** The OAuth app's client id. Default: `Iv1.junctiondemo0001`. */
  clientId?: string;
  /** The OAuth app's client secret. Default: random per simulator (read it from `clientSecret`); never a constant in the source. */
  clientSecret?: string;
  /** App name on the consent page. Default: `Junction (simulated)`. */
  appName?: string;
  /** Registered callback URLs; `redirect_uri` must equal one, the first is the default. Default: Junction's demo callback on 127.0.0.1:4000 and localhost:4000. */
  redirectUris?: readonly string[];
  /** Lifetime of user access tokens in seconds. Default: 28800 (8 h, GitHub's). */
  tokenTtlSeconds?: number;
  /** Lifetime of refresh tokens in seconds. Default: 15811200 (about 6 months, GitHub's). */
  refreshTokenTtlSeconds?: number;
  /** Skip the consent page: `GET /login/oauth/authorize` redirects with a code at once. For tests only. Default: false. */
  autoApprove?: boolean;
  /** Primary rate limit per user and window. Default: 5000 (GitHub's for user tokens). */
  rateLimit?: number;
  /** Length of the rate-limit window in seconds. Default: 3600. */
  rateLimitWindowSeconds?: number;
  /** Accepted `X-GitHub-Api-Version` values; a request without the header gets the first. Default: `2022-11-28`, `2026-03-10`. */
  apiVersions?: readonly string[];
  /** Endpoint that receives events, signed with its secret; change it later with `setWebhook`. Default: none. */
  webhook?: GitHubWebhookTarget;
  /** Waits before retries of a failed delivery, in ms. Default: [] (GitHub does not retry; use `redeliverWebhook`). */
  webhookRetryDelaysMs?: readonly number[];
  /** Timeout of one delivery attempt, in ms. Default: 10000 (GitHub's 10 s). */
  webhookTimeoutMs?: number;
  /** Clock in ms since the epoch, for token, code and rate-limit expiry and payload times. Default: Date.now. */
  now?: () => number;
}

export interface GitHubSimulator extends Simulator {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly appName: string;
  /** The registered callback URLs (live: `setRedirectUris` changes them). */
  readonly redirectUris: readonly string[];
  /** Replaces the registered callback URLs, e.g. once the app's own port is known; codes already issued keep theirs. */
  setRedirectUris(uris: readonly string[]): void;
  /** Live accounts by login; tests may edit records. */
  readonly accounts: Map<string, GitHubUserRecord>;
  /** The repositories `login` owns, in creation order. */
  repositories(login: string): GitHubRepoRecord[];
  /** Adds an account (no repositories) and returns it. */
  addAccount(account: { login: string; name?: string }): GitHubUserRecord;
  /** Creates a repository for `login` and sends the `repository` (created) and `push` (first commit) events. */
  addRepository(login: string, repo: NewRepository): GitHubRepoRecord;
  /** `byLogin` stars `owner/name`: the count rises and a `star` (created) event is sent. */
  starRepository(fullName: string, byLogin: string): GitHubRepoRecord;
  /** Issues a token pair for `login` as if it had gone through the web flow. Default scopes: `read:user`, `repo`. */
  issueUserToken(login: string, scopes?: readonly string[]): TokenResponseBody;
  /** The user revokes the app in their settings: every token stops working and `github_app_authorization` (revoked) is sent. */
  revokeGrant(login: string): boolean;
  /** The user's access tokens expire now (their refresh tokens still work); returns how many. */
  expireTokens(login: string): number;
  /** The rate-limit bucket behind `accessToken` (shared by every token of its user), or undefined for a token that does not authenticate. */
  quota(accessToken: string): RateLimitSnapshot | undefined;
  /** Token pairs issued since creation or `resetCounters()`. */
  tokensIssued(): number;
  /** Signs and sends `payload` as event `event`; `secret` overrides the webhook's (to test a wrong or rotated one). */
  sendWebhook(event: string, payload: unknown, opts?: { secret?: string }): GitHubWebhookDelivery;
  /** Sends an earlier delivery again with the same GUID and body, like GitHub's "Redeliver". */
  redeliverWebhook(guid: string): GitHubWebhookDelivery;
  /** Sets or clears the webhook for events from now on. */
  setWebhook(target: GitHubWebhookTarget | undefined): void;
  /** Events sent since creation (at most the last 1000), oldest first. */
  readonly webhooksSent: GitHubWebhookDelivery[];
  /** Every delivery attempt, in the order they finished. */
  readonly webhookDeliveries: DeliveryAttempt[];
  /** Resolves once every delivery queued so far has finished. */
  flushWebhooks(): Promise<void>;
}

/** Route names, for counters and fault matching. */
export const GITHUB_ROUTES = {
  authorize: 'GET /login/oauth/authorize',
  authorizeDecision: 'POST /login/oauth/authorize',
  accessToken: 'POST /login/oauth/access_token',
  deleteGrant: 'DELETE /applications/:client_id/grant',
  deleteToken: 'DELETE /applications/:client_id/token',
  user: 'GET /user',
  userRepos: 'GET /user/repos',
  rateLimit: 'GET /rate_limit',
  avatar: 'GET /avatars/u/:id',
} as const;

export const DEFAULT_GITHUB_CLIENT_ID = 'Iv1.junctiondemo0001';
export const DEFAULT_GITHUB_REDIRECT_URIS: readonly string[] = [
  'http://127.0.0.1:4000/oauth/github/callback',
  'http://localhost:4000/oauth/github/callback',
];
export const DEFAULT_GITHUB_API_VERSIONS: readonly string[] = ['2022-11-28', '2026-03-10'];
const DEFAULT_TOKEN_TTL_SECONDS = 8 * 60 * 60; // 8h
const DEFAULT_REFRESH_TOKEN_TTL_SECONDS = 15_811_200; // 183 days, GitHub's "6 months"
const DEFAULT_RATE_LIMIT = 5_000; // per user per hour
const DEFAULT_RATE_LIMIT_WINDOW_SECONDS = 60 * 60; // 1h
const DEFAULT_WEBHOOK_TIMEOUT_MS = 10_000; // 10s
const MAX_WEBHOOKS_KEPT = 1_000;
const HOOK = { hookId: 4_200_001, appId: 1_000_001 } as const;

export function createGitHubSimulator(opts: GitHubSimulatorOptions = {}): GitHubSimulator {
  const now = opts.now ?? Date.now;
  const clientId = opts.clientId ?? DEFAULT_GITHUB_CLIENT_ID;
  const clientSecret = opts.clientSecret ?? randomToken('', 40);
  const appName = opts.appName ?? 'Junction (simulated)';
  // One array, shared with the OAuth side and replaced in place by setRedirectUris.
  const redirectUris = checkRedirectUris(opts.redirectUris ?? DEFAULT_GITHUB_REDIRECT_URIS);
  const apiVersions = [...(opts.apiVersions ?? DEFAULT_GITHUB_API_VERSIONS)];
  if (apiVersions.length === 0) throw new TypeError('apiVersions must name at least one version');

  const store = createGitHubStore(
    opts.accounts ?? DEFAULT_GITHUB_SEED,
    opts.seed ?? DEFAULT_GITHUB_PRNG_SEED,
  );
  const oauth = createGitHubOAuth({
    app: { clientId, clientSecret, name: appName, redirectUris },
    tokenTtlSeconds: checkPositiveInteger(
      opts.tokenTtlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS,
      'tokenTtlSeconds',
    ),
    refreshTokenTtlSeconds: checkPositiveInteger(
      opts.refreshTokenTtlSeconds ?? DEFAULT_REFRESH_TOKEN_TTL_SECONDS,
      'refreshTokenTtlSeconds',
    ),
    now,
  });
  const limiter = createRateLimiter({
    limit: checkPositiveInteger(opts.rateLimit ?? DEFAULT_RATE_LIMIT, 'rateLimit'),
    windowSeconds: checkPositiveInteger(
      opts.rateLimitWindowSeconds ?? DEFAULT_RATE_LIMIT_WINDOW_SECONDS,
      'rateLimitWindowSeconds',
    ),
    now,
  });

  let webhook = opts.webhook;
  if (webhook !== undefined) checkAbsoluteUrl(webhook.url, 'webhook.url');
  const webhooksSent: GitHubWebhookDelivery[] = [];
  const outbox = createOutbox({
    retryDelaysMs: opts.webhookRetryDelaysMs ?? [],
    timeoutMs: opts.webhookTimeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS,
  });

  let baseUrl: string | undefined;
  // Before start() the URLs in objects point at a reserved name; nothing is served there.
  const urls = (): GitHubUrls => {
    const base = baseUrl ?? 'http://github.invalid';
    return { api: base, web: base };
  };

  const deliver = (delivery: GitHubWebhookDelivery, secret?: string): void => {
    if (webhook === undefined) return;
    outbox.send(githubWebhookMessage(delivery, webhook, HOOK, secret));
  };

  const record = (event: string, payload: unknown): GitHubWebhookDelivery => {
    const delivery = { guid: randomUUID(), event, body: JSON.stringify(payload), payload };
    webhooksSent.push(delivery);
    if (webhooksSent.length > MAX_WEBHOOKS_KEPT)
      webhooksSent.splice(0, webhooksSent.length - MAX_WEBHOOKS_KEPT);
    return delivery;
  };

  /** Sends an event the simulator itself caused, when a webhook is set. */
  const emit = (event: string, payload: unknown): void => {
    if (webhook !== undefined) deliver(record(event, payload));
  };

  const sim = createSimulator({
    name: 'github',
    host: opts.host,
    port: opts.port,
    requestIdHeader: 'x-github-request-id',
    faults: opts.faults,
    errorShape: githubFaultError,
    onClose: () => outbox.close(),
    onReset: () => oauth.resetCounters(),
    routes: [
      ...createOAuthRoutes({ oauth, store, clientId, appName, autoApprove: opts.autoApprove ?? false }),
      ...createApiRoutes({ oauth, limiter, store, urls, apiVersions, now }),
    ],
  });

  const own: Omit<GitHubSimulator, keyof Simulator> = {
    clientId,
    clientSecret,
    appName,
    redirectUris,
    setRedirectUris(uris) {
      redirectUris.splice(0, redirectUris.length, ...checkRedirectUris(uris));
    },
    accounts: store.accounts,
    repositories: (login) => [...store.owned(login)],
    addAccount: (account) => store.addAccount(account, now()),
    addRepository(login, spec) {
      const at = now();
      const repo = store.addRepository(login, spec, at);
      const owner = store.account(login);
      emit('repository', repositoryCreatedPayload(repo, owner, urls()));
      emit('push', pushPayload(repo, owner, urls(), { message: 'Initial commit', at, created: true }));
      return repo;
    },
    starRepository(fullName, byLogin) {
      const repo = store.repository(fullName);
      const starrer = store.account(byLogin);
      const at = now();
      repo.stargazers += 1;
      repo.updatedAt = at;
      emit('star', starPayload('created', repo, store.account(repo.ownerLogin), starrer, urls(), at));
      return repo;
    },
    issueUserToken(login, scopes = ['read:user', 'repo']) {
      store.account(login);
      return oauth.issueTokens(login, parseScopes(scopes.join(' ')));
    },
    revokeGrant(login) {
      const user = store.account(login);
      const had = oauth.revokeGrant(login);
      if (had) emit('github_app_authorization', appAuthorizationRevokedPayload(user, urls()));
      return had;
    },
    expireTokens: (login) => oauth.expireTokens(login),
    quota(token) {
      const owner = oauth.authenticate(token);
      return owner === undefined ? undefined : limiter.peek(owner.login);
    },
    tokensIssued: () => oauth.issuedCount(),
    sendWebhook(event, payload, sendOpts = {}) {
      if (webhook === undefined) throw new Error('no webhook is set; call setWebhook({ url, secret }) first');
      if (!/^[a-z_]{1,64}$/.test(event)) {
        throw new TypeError(`event must be a GitHub event name like push, but got: ${JSON.stringify(event)}`);
      }
      const delivery = record(event, payload);
      deliver(delivery, sendOpts.secret);
      return delivery;
    },
    redeliverWebhook(guid) {
      const delivery = webhooksSent.find((d) => d.guid === guid);
      if (delivery === undefined) throw new TypeError(`no delivery with GUID ${JSON.stringify(guid)}`);
      if (webhook === undefined) throw new Error('no webhook is set; call setWebhook({ url, secret }) first');
      deliver(delivery);
      return delivery;
    },
    setWebhook(target) {
      if (target !== undefined) checkAbsoluteUrl(target.url, 'webhook url');
      webhook = target;
    },
    webhooksSent,
    webhookDeliveries: outbox.attempts,
    flushWebhooks: () => outbox.flush(),
  };

  const { start: startSim, close: closeSim } = sim;
  // start() and close() also keep the base URL that REST objects and Link headers are built on.
  return Object.assign(sim, own, {
    async start() {
      baseUrl = await startSim();
      return baseUrl;
    },
    async close() {
      await closeSim();
      baseUrl = undefined;
    },
  });
}

function checkPositiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new TypeError(`${name} must be an integer >= 1, but got: ${String(value)}`);
  }
  return value;
}

function checkRedirectUris(uris: readonly string[]): string[] {
  if (uris.length === 0) throw new TypeError('redirectUris must name at least one callback URL');
  for (const uri of uris) checkAbsoluteUrl(uri, 'redirectUris entry');
  return [...uris];
}

function checkAbsoluteUrl(value: string, name: string): void {
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new TypeError(`${name} must be an absolute http(s) URL, but got: ${JSON.stringify(value)}`);
  }
}
