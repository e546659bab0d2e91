// GitHub simulator: one loopback server playing github.com (the OAuth web flow of one app: consent page,
// token endpoint with PKCE and rotating refresh tokens, grant revocation) and api.github.com (`GET /user`,
// `GET /user/repos` paged by `Link`, ETag/304 that costs no quota, x-ratelimit-* per user, API version
// and media type checks, GitHub's error bodies), plus signed webhooks and the shared fault injector.
import { createHash, randomUUID } from 'node:crypto';
import type { FaultRule } from '../shared/faults.js';
import type { DeliveryAttempt } from '../shared/outbox.js';
import { createOutbox } from '../shared/outbox.js';
import { providerFaultController, withProviderError } from '../shared/providerFaults.js';
import type { Route, SimRequest, SimResponse, Simulator } from '../shared/simulator.js';
import { createSimulator, delegateSimulator } from '../shared/simulator.js';
import { consentPage, errorPage } from './authorizePage.js';
import { badCredentials, GITHUB_DOCS, githubError, githubFaultError, JSON_HEADERS } from './errors.js';
import type { TokenOwner, TokenResponseBody } from './oauth.js';
import { createGitHubOAuth, parseScopes, randomToken } from './oauth.js';
import type { GitHubUrls, OwnedRepoCounts } from './objects.js';
import { avatarSvg, toPrivateUser, toPublicUser, toRepository } from './objects.js';
import type { RateLimitSnapshot } from './rateLimit.js';
import { createRateLimiter, rateLimitHeaders } from './rateLimit.js';
import type { GitHubRepoRecord, GitHubSeedAccount, GitHubUserRecord } from './seed.js';
import {
  checkLogin,
  checkRepoName,
  DEFAULT_GITHUB_PRNG_SEED,
  DEFAULT_GITHUB_SEED,
  seedGitHub,
} from './seed.js';
import type { GitHubWebhookDelivery, GitHubWebhookTarget } from './webhooks.js';
import {
  appAuthorizationRevokedPayload,
  githubWebhookMessage,
  pushPayload,
  repositoryCreatedPayload,
  starPayload,
} from './webhooks.js';

export type { TokenResponseBody } from './oauth.js';
export type { RateLimitSnapshot } from './rateLimit.js';
export type { GitHubWebhookDelivery, GitHubWebhookTarget } from './webhooks.js';

export interface GitHubSimulatorOptions {
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
  /** Interface to listen on. Default: `127.0.0.1`. */
  host?: string;
  /** Port to listen on. Default: 0 (random). */
  port?: number;
  /** Fault rules installed at creation; 403/429 answer as GitHub's secondary rate limit with `retry-after`. Default: none. */
  faults?: readonly FaultRule[];
}

export interface GitHubSimulator extends Simulator {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly appName: string;
  readonly redirectUris: readonly string[];
  /** Live accounts by login; tests may edit records. */
  readonly accounts: Map<string, GitHubUserRecord>;
  /** The repositories `login` owns, in creation order. */
  repositories(login: string): GitHubRepoRecord[];
  /** Adds an account (no repositories) and returns it. */
  addAccount(account: { login: string; name?: string }): GitHubUserRecord;
  /** Creates a repository for `login` and sends the `repository` (created) and `push` (first commit) events. */
  addRepository(
    login: string,
    repo: {
      name: string;
      description?: string | null;
      private?: boolean;
      language?: string | null;
      topics?: string[];
    },
  ): GitHubRepoRecord;
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
const DEFAULT_PER_PAGE = 30;
const MAX_PER_PAGE = 100;
const MAX_WEBHOOKS_KEPT = 1_000;
const HOOK = { hookId: 4_200_001, appId: 1_000_001 } as const;
/** Seconds the anonymous /rate_limit reports (GitHub's unauthenticated limit). */
const ANONYMOUS_LIMIT = 60;

const API_CACHE_CONTROL = 'private, max-age=60, s-maxage=60';
const API_VARY = 'Accept, Authorization, Cookie, X-GitHub-OTP, Accept-Encoding';

export function createGitHubSimulator(opts: GitHubSimulatorOptions = {}): GitHubSimulator {
  const now = opts.now ?? Date.now;
  const clientId = opts.clientId ?? DEFAULT_GITHUB_CLIENT_ID;
  const clientSecret = opts.clientSecret ?? randomToken('', 40);
  const appName = opts.appName ?? 'Junction (simulated)';
  const redirectUris = [...(opts.redirectUris ?? DEFAULT_GITHUB_REDIRECT_URIS)];
  if (redirectUris.length === 0) throw new TypeError('redirectUris must name at least one callback URL');
  for (const uri of redirectUris) checkAbsoluteUrl(uri, 'redirectUris entry');
  const apiVersions = [...(opts.apiVersions ?? DEFAULT_GITHUB_API_VERSIONS)];
  const defaultApiVersion = apiVersions[0];
  if (defaultApiVersion === undefined) throw new TypeError('apiVersions must name at least one version');

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

  const seeded = seedGitHub(opts.accounts ?? DEFAULT_GITHUB_SEED, opts.seed ?? DEFAULT_GITHUB_PRNG_SEED);
  const accounts = new Map(seeded.users.map((u) => [u.login, u]));
  const reposByOwner = new Map<string, GitHubRepoRecord[]>(seeded.users.map((u) => [u.login, []]));
  for (const repo of seeded.repos) reposByOwner.get(repo.ownerLogin)?.push(repo);
  let nextUserId = seeded.nextUserId;
  let nextRepoId = seeded.nextRepoId;

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

  const findAccount = (login: string): GitHubUserRecord => {
    const account = accounts.get(login);
    if (account === undefined) throw new TypeError(`no GitHub account with login ${JSON.stringify(login)}`);
    return account;
  };

  const ownedCounts = (login: string): OwnedRepoCounts => {
    const repos = reposByOwner.get(login) ?? [];
    const privateRepos = repos.filter((r) => r.private).length;
    return {
      publicRepos: repos.length - privateRepos,
      privateRepos,
      diskUsageKb: repos.reduce((sum, r) => sum + r.size, 0),
    };
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
    if (webhook === undefined) return;
    deliver(record(event, payload));
  };

  // ---- github.com: the OAuth web flow ------------------------------------------------------------

  const authorize = (req: SimRequest): SimResponse => {
    const check = oauth.checkAuthorizationRequest(req.query);
    if (check.kind === 'unknown_client') {
      return errorPage(404, 'Page not found', 'No OAuth application is registered with that client_id.');
    }
    if (check.kind === 'redirect') return redirect(check.location);
    const { request } = check;
    const logins = [...accounts.keys()];
    const selected = request.login !== null && accounts.has(request.login) ? request.login : logins[0];
    if (selected === undefined) return errorPage(500, 'No accounts', 'The simulator has no GitHub accounts.');
    if (opts.autoApprove) return redirect(oauth.approve(request, selected));
    return consentPage({
      appName,
      scopes: request.scopes,
      logins,
      selected,
      requestId: oauth.holdRequest(request),
      action: '/login/oauth/authorize',
      redirectUri: request.redirectUri,
    });
  };

  const decide = (req: SimRequest): SimResponse => {
    const form = req.form();
    const request = oauth.takeRequest(form.get('request_id') ?? '');
    if (request === undefined) {
      return errorPage(
        400,
        'Authorization expired',
        'This authorization request is unknown or expired; start again.',
      );
    }
    const decision = form.get('decision');
    if (decision === 'cancel') return redirect(oauth.deny(request));
    const login = form.get('login') ?? '';
    if (decision !== 'authorize' || !accounts.has(login)) {
      return errorPage(400, 'Bad request', 'Choose an account and press Authorize or Cancel.');
    }
    return redirect(oauth.approve(request, login));
  };

  const accessToken = (req: SimRequest): SimResponse => {
    const params = new URLSearchParams(req.query);
    for (const [key, value] of bodyParams(req)) params.set(key, value);
    const result = oauth.token(params);
    // GitHub answers the token endpoint's errors with 200 too; only the body tells them apart.
    const fields: Record<string, string | number> = { ...result.body };
    return { status: 200, ...formatTokenBody(fields, req.headers.accept) };
  };

  /** Basic client auth of the /applications routes; GitHub answers 404 to anything but the app's own. */
  const authenticateApp = (req: SimRequest, docs: string): SimResponse | undefined => {
    const basic = basicCredentials(req.headers.authorization);
    if (
      basic === undefined ||
      req.params.client_id !== clientId ||
      !oauth.checkClient(basic.user, basic.password)
    ) {
      return githubError(404, 'Not Found', docs);
    }
    return undefined;
  };

  const tokenFromBody = (req: SimRequest, docs: string): string | SimResponse => {
    const body: unknown = req.rawBody.length === 0 ? {} : req.json();
    const token =
      typeof body === 'object' && body !== null && 'access_token' in body ? body.access_token : undefined;
    if (typeof token !== 'string' || token === '') {
      return githubError(422, 'Invalid request.\n\n"access_token" wasn\'t supplied.', docs);
    }
    return token;
  };

  const deleteGrant = (req: SimRequest): SimResponse => {
    const denied = authenticateApp(req, GITHUB_DOCS.deleteGrant);
    if (denied) return denied;
    const token = tokenFromBody(req, GITHUB_DOCS.deleteGrant);
    if (typeof token !== 'string') return token;
    // The app ending its own grant: GitHub sends no github_app_authorization event for that.
    if (oauth.revokeGrantOf(token) === undefined)
      return githubError(404, 'Not Found', GITHUB_DOCS.deleteGrant);
    return { status: 204 };
  };

  const deleteToken = (req: SimRequest): SimResponse => {
    const denied = authenticateApp(req, GITHUB_DOCS.deleteToken);
    if (denied) return denied;
    const token = tokenFromBody(req, GITHUB_DOCS.deleteToken);
    if (typeof token !== 'string') return token;
    if (!oauth.revokeToken(token)) return githubError(404, 'Not Found', GITHUB_DOCS.deleteToken);
    return { status: 204 };
  };

  // ---- api.github.com ------------------------------------------------------------------------------

  interface ApiContext {
    owner: TokenOwner;
    version: string;
  }
  interface ApiAnswer {
    body: unknown;
    headers?: Record<string, string>;
    /** For If-Modified-Since, in ms. */
    lastModified?: number;
  }

  /** Version, media type and token checks, then the quota: a 304 only peeks at it, a 200 spends one. */
  const apiRoute = (
    path: string,
    docs: string,
    handler: (req: SimRequest, ctx: ApiContext) => ApiAnswer | SimResponse,
  ): Route => ({
    method: 'GET',
    path,
    handler: (req) => {
      const checked = checkVersionAndMedia(req, apiVersions, defaultApiVersion);
      if (typeof checked !== 'string') return checked;
      const version = checked;
      const token = apiToken(req.headers.authorization);
      if (token === undefined) return githubError(401, 'Requires authentication', docs);
      const owner = oauth.authenticate(token);
      if (owner === undefined) return badCredentials();

      const common = {
        'x-oauth-scopes': owner.scopes.join(', '),
        'x-github-api-version-selected': version,
      };
      const before = limiter.peek(owner.login);
      if (before.remaining === 0) {
        return githubError(
          403,
          `API rate limit exceeded for user ID ${accounts.get(owner.login)?.id ?? 0}.`,
          GITHUB_DOCS.rateLimits,
          { ...common, ...rateLimitHeaders(before) },
        );
      }
      const answer = handler(req, { owner, version });
      if ('status' in answer) return answer;

      const body = JSON.stringify(answer.body);
      const etag = `W/"${createHash('sha256').update(body).digest('hex')}"`;
      const headers: Record<string, string> = {
        ...common,
        'cache-control': API_CACHE_CONTROL,
        vary: API_VARY,
        etag,
        ...(answer.lastModified === undefined
          ? {}
          : { 'last-modified': new Date(answer.lastModified).toUTCString() }),
        ...answer.headers,
      };
      if (notModified(req, etag, answer.lastModified)) {
        // A conditional request answered 304 costs nothing (GitHub's documented rule).
        return { status: 304, headers: { ...headers, ...rateLimitHeaders(before) } };
      }
      const { snapshot } = limiter.take(owner.login);
      return { status: 200, headers: { ...JSON_HEADERS, ...headers, ...rateLimitHeaders(snapshot) }, body };
    },
  });

  const getUser = (_req: SimRequest, { owner }: ApiContext): ApiAnswer | SimResponse => {
    const user = accounts.get(owner.login);
    if (user === undefined) return badCredentials();
    const counts = ownedCounts(user.login);
    const privateView = owner.scopes.includes('user') || owner.scopes.includes('read:user');
    return {
      body: privateView ? toPrivateUser(user, counts, urls()) : toPublicUser(user, counts, urls()),
      lastModified: user.updatedAt,
    };
  };

  const listRepos = (req: SimRequest, { owner }: ApiContext): ApiAnswer | SimResponse => {
    const user = accounts.get(owner.login);
    if (user === undefined) return badCredentials();
    const q = req.query;
    const invalid = (field: string) => githubValidationFailed(field, GITHUB_DOCS.listReposForUser);

    const type = q.get('type');
    if (type !== null && (q.has('visibility') || q.has('affiliation'))) return invalid('type');
    const visibility = q.get('visibility') ?? 'all';
    if (!['all', 'public', 'private'].includes(visibility)) return invalid('visibility');
    const affiliation = (q.get('affiliation') ?? 'owner,collaborator,organization_member').split(',');
    if (!affiliation.every((a) => ['owner', 'collaborator', 'organization_member'].includes(a.trim()))) {
      return invalid('affiliation');
    }
    if (type !== null && !['all', 'owner', 'public', 'private', 'member'].includes(type))
      return invalid('type');
    const sort = q.get('sort') ?? 'full_name';
    if (!['created', 'updated', 'pushed', 'full_name'].includes(sort)) return invalid('sort');
    const direction = q.get('direction') ?? (sort === 'full_name' ? 'asc' : 'desc');
    if (direction !== 'asc' && direction !== 'desc') return invalid('direction');
    const since = parseTime(q.get('since'));
    const before = parseTime(q.get('before'));
    if (since === null) return invalid('since');
    if (before === null) return invalid('before');

    // Every seeded repository is owned by its user: collaborator/member affiliations add nothing.
    const ownerIncluded = affiliation.some((a) => a.trim() === 'owner') && type !== 'member';
    // Private repositories need the `repo` scope.
    const seesPrivate = owner.scopes.includes('repo');
    const wanted = type === 'public' ? 'public' : type === 'private' ? 'private' : visibility;
    const repos = (ownerIncluded ? (reposByOwner.get(user.login) ?? []) : []).filter(
      (r) =>
        (seesPrivate || !r.private) &&
        (wanted === 'all' || (wanted === 'private') === r.private) &&
        (since === undefined || r.updatedAt >= since) &&
        (before === undefined || r.updatedAt < before),
    );
    const key = (r: GitHubRepoRecord): number | string =>
      sort === 'created'
        ? r.createdAt
        : sort === 'updated'
          ? r.updatedAt
          : sort === 'pushed'
            ? (r.pushedAt ?? 0)
            : `${r.ownerLogin}/${r.name}`.toLowerCase();
    const sign = direction === 'asc' ? 1 : -1;
    repos.sort((a, b) => {
      const ka = key(a);
      const kb = key(b);
      return (ka < kb ? -1 : ka > kb ? 1 : a.id - b.id) * sign;
    });

    const perPage = clampPerPage(q.get('per_page'));
    const page = parsePage(q.get('page'));
    const lastPage = Math.max(1, Math.ceil(repos.length / perPage));
    const slice = repos.slice((page - 1) * perPage, page * perPage);
    const link = linkHeader(`${urls().api}${req.path}`, q, page, lastPage);
    return {
      body: slice.map((r) => toRepository(r, user, urls())),
      headers: link === undefined ? {} : { link },
    };
  };

  /** `GET /rate_limit` never counts against the limit; without a token it shows the anonymous limit. */
  const rateLimitRoute = (req: SimRequest): SimResponse => {
    const checked = checkVersionAndMedia(req, apiVersions, defaultApiVersion);
    if (typeof checked !== 'string') return checked;
    const token = apiToken(req.headers.authorization);
    const owner = token === undefined ? undefined : oauth.authenticate(token);
    if (token !== undefined && owner === undefined) return badCredentials();
    const snapshot: RateLimitSnapshot =
      owner === undefined
        ? {
            limit: ANONYMOUS_LIMIT,
            remaining: ANONYMOUS_LIMIT,
            used: 0,
            reset: Math.ceil(now() / 1000) + 3600,
            resource: 'core',
          }
        : limiter.peek(owner.login);
    const core = {
      limit: snapshot.limit,
      remaining: snapshot.remaining,
      reset: snapshot.reset,
      used: snapshot.used,
    };
    const search = { limit: 30, remaining: 30, reset: Math.ceil(now() / 1000) + 60, used: 0 };
    // Version 2026-03-10 dropped the top-level `rate` (a copy of `resources.core`).
    const body =
      checked === '2022-11-28'
        ? { resources: { core, search }, rate: core }
        : { resources: { core, search } };
    return {
      status: 200,
      headers: {
        ...JSON_HEADERS,
        'cache-control': 'no-cache',
        'x-github-api-version-selected': checked,
        ...rateLimitHeaders(snapshot),
      },
      body: JSON.stringify(body),
    };
  };

  const avatar = (req: SimRequest): SimResponse => {
    const id = Number(req.params.id);
    const user = [...accounts.values()].find((u) => u.id === id);
    if (user === undefined)
      return { status: 404, headers: { 'content-type': 'text/plain' }, body: 'Not Found' };
    return {
      status: 200,
      headers: { 'content-type': 'image/svg+xml', 'cache-control': 'max-age=300' },
      body: avatarSvg(user),
    };
  };

  const sim = createSimulator({
    name: 'github',
    host: opts.host,
    port: opts.port,
    requestIdHeader: 'x-github-request-id',
    faults: opts.faults?.map((rule) => withProviderError(rule, githubFaultError)),
    routes: [
      { method: 'GET', path: '/login/oauth/authorize', handler: authorize },
      { method: 'POST', path: '/login/oauth/authorize', handler: decide },
      { method: 'POST', path: '/login/oauth/access_token', handler: accessToken },
      { method: 'DELETE', path: '/applications/:client_id/grant', handler: deleteGrant },
      { method: 'DELETE', path: '/applications/:client_id/token', handler: deleteToken },
      apiRoute('/user', GITHUB_DOCS.getAuthenticatedUser, getUser),
      apiRoute('/user/repos', GITHUB_DOCS.listReposForUser, listRepos),
      { method: 'GET', path: '/rate_limit', handler: rateLimitRoute },
      { method: 'GET', path: '/avatars/u/:id', handler: avatar },
    ],
  });
  const faults = providerFaultController(sim.faults, githubFaultError);

  // ---- test-side controls ------------------------------------------------------------------------

  const addRepository: GitHubSimulator['addRepository'] = (login, spec) => {
    const owner = findAccount(login);
    const name = checkRepoName(spec.name);
    const owned = reposByOwner.get(login) ?? [];
    if (owned.some((r) => r.name.toLowerCase() === name.toLowerCase())) {
      throw new TypeError(`${login} already has a repository named ${name}`);
    }
    const at = now();
    const repo: GitHubRepoRecord = {
      id: nextRepoId++,
      ownerLogin: login,
      name,
      description: spec.description ?? null,
      homepage: null,
      private: spec.private ?? false,
      fork: false,
      archived: false,
      language: spec.language ?? null,
      topics: [...(spec.topics ?? [])],
      license: null,
      defaultBranch: 'main',
      stargazers: 0,
      forks: 0,
      openIssues: 0,
      size: 0,
      createdAt: at,
      updatedAt: at,
      pushedAt: at,
    };
    owned.push(repo);
    reposByOwner.set(login, owned);
    emit('repository', repositoryCreatedPayload(repo, owner, urls()));
    emit('push', pushPayload(repo, owner, urls(), { message: 'Initial commit', at, created: true }));
    return repo;
  };

  const own: Omit<GitHubSimulator, keyof Simulator> = {
    clientId,
    clientSecret,
    appName,
    redirectUris,
    accounts,
    repositories: (login) => [...(reposByOwner.get(login) ?? [])],
    addAccount(account) {
      const login = checkLogin(account.login);
      if ([...accounts.keys()].some((l) => l.toLowerCase() === login.toLowerCase())) {
        throw new TypeError(`a GitHub account named ${login} exists already`);
      }
      const at = now();
      const user: GitHubUserRecord = {
        id: nextUserId++,
        login,
        name: account.name ?? null,
        email: null,
        company: null,
        blog: '',
        location: null,
        bio: null,
        twitterUsername: null,
        hireable: null,
        followers: 0,
        following: 0,
        publicGists: 0,
        privateGists: 0,
        createdAt: at,
        updatedAt: at,
      };
      accounts.set(login, user);
      reposByOwner.set(login, []);
      return user;
    },
    addRepository,
    starRepository(fullName, byLogin) {
      const [ownerLogin, name] = fullName.split('/');
      const repo = (reposByOwner.get(ownerLogin ?? '') ?? []).find((r) => r.name === name);
      if (repo === undefined) throw new TypeError(`no repository ${JSON.stringify(fullName)}`);
      const starrer = findAccount(byLogin);
      const at = now();
      repo.stargazers += 1;
      repo.updatedAt = at;
      emit('star', starPayload('created', repo, findAccount(repo.ownerLogin), starrer, urls(), at));
      return repo;
    },
    issueUserToken(login, scopes = ['read:user', 'repo']) {
      findAccount(login);
      return oauth.issueTokens(login, parseScopes(scopes.join(' ')));
    },
    revokeGrant(login) {
      const user = findAccount(login);
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

  const base = delegateSimulator(sim, {
    onClose: () => outbox.close(),
    onReset: () => oauth.resetCounters(),
    faults,
  });
  const closeBase = base.close;
  // start() and close() also keep the base URL that REST objects and Link headers are built on.
  return Object.assign(base, own, {
    async start() {
      baseUrl = await sim.start();
      return baseUrl;
    },
    async close() {
      await closeBase();
      baseUrl = undefined;
    },
  });
}

function redirect(location: string): SimResponse {
  return { status: 302, headers: { location, 'cache-control': 'no-store' } };
}

/** A bearer token in GitHub's two spellings: `token <t>` (classic) and `Bearer <t>`. */
function apiToken(authorization: string | undefined): string | undefined {
  return /^(?:token|bearer)\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
}

function basicCredentials(authorization: string | undefined): { user: string; password: string } | undefined {
  const encoded = /^Basic\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
  if (encoded === undefined) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** The token endpoint's parameters from a form or JSON body (numbers in JSON are read as strings). */
function bodyParams(req: SimRequest): Array<[string, string]> {
  if (req.rawBody.length === 0) return [];
  const type = String(req.headers['content-type'] ?? '').toLowerCase();
  if (!type.startsWith('application/json')) return [...req.form()];
  const body = req.json();
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return [];
  return Object.entries(body).flatMap(
    ([key, value]): Array<[string, string]> =>
      typeof value === 'string' || typeof value === 'number' ? [[key, String(value)]] : [],
  );
}

/** GitHub answers the token endpoint in the format `Accept` asks for: JSON, XML, or (default) a form string. */
function formatTokenBody(
  fields: Record<string, string | number>,
  accept: string | undefined,
): { headers: Record<string, string>; body: string } {
  const wants = (accept ?? '').toLowerCase();
  if (wants.includes('application/json')) {
    return {
      headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
      body: JSON.stringify(fields),
    };
  }
  if (wants.includes('application/xml')) {
    const xml = Object.entries(fields)
      .map(
        ([key, value]) =>
          `<${key}>${String(value).replace(/[&<>]/g, (c) => `&#${c.charCodeAt(0)};`)}</${key}>`,
      )
      .join('');
    return {
      headers: { 'content-type': 'application/xml; charset=utf-8', 'cache-control': 'no-store' },
      body: `<OAuth>${xml}</OAuth>`,
    };
  }
  const form = new URLSearchParams(Object.entries(fields).map(([k, v]): [string, string] => [k, String(v)]));
  return {
    headers: {
      'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
      'cache-control': 'no-store',
    },
    body: form.toString(),
  };
}

/** The selected API version, or GitHub's 400 for an unsupported version / 415 for an unacceptable `Accept`. */
function checkVersionAndMedia(
  req: SimRequest,
  versions: readonly string[],
  defaultVersion: string,
): string | SimResponse {
  const header = req.headers['x-github-api-version'];
  const version = Array.isArray(header) ? header[0] : header;
  if (version !== undefined && !versions.includes(version)) {
    return githubError(400, `API version ${version.slice(0, 32)} is not supported.`, GITHUB_DOCS.apiVersions);
  }
  const accept = req.headers.accept;
  if (accept !== undefined && accept.trim() !== '' && !acceptsJson(accept)) {
    return githubError(
      415,
      `Unsupported 'Accept' header: ${JSON.stringify(accept.slice(0, 100))}. Must accept 'application/json'.`,
      GITHUB_DOCS.mediaTypes,
    );
  }
  return version ?? defaultVersion;
}

/** True when one media range of `Accept` admits JSON: `*\/*`, `application/*`, `application/json` or a `vnd.github` type. */
function acceptsJson(accept: string): boolean {
  return accept.split(',').some((range) => {
    const type = (range.split(';')[0] ?? '').trim().toLowerCase();
    return (
      type === '*/*' ||
      type === 'application/*' ||
      type === 'application/json' ||
      type.startsWith('application/vnd.github')
    );
  });
}

/** If-None-Match (weak comparison) first; If-Modified-Since only when there is no If-None-Match (RFC 9110 §13.2.2). */
function notModified(req: SimRequest, etag: string, lastModified: number | undefined): boolean {
  const ifNoneMatch = req.headers['if-none-match'];
  if (ifNoneMatch !== undefined) {
    const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
    return ifNoneMatch.trim() === '*' || ifNoneMatch.split(',').some((c) => opaque(c) === opaque(etag));
  }
  const since = req.headers['if-modified-since'];
  if (since === undefined || lastModified === undefined) return false;
  const sinceMs = Date.parse(since);
  return Number.isFinite(sinceMs) && Math.floor(lastModified / 1000) * 1000 <= sinceMs;
}

function githubValidationFailed(field: string, docs: string): SimResponse {
  return {
    status: 422,
    headers: { ...JSON_HEADERS },
    body: JSON.stringify({
      message: 'Validation Failed',
      errors: [{ resource: 'Repository', field, code: 'invalid' }],
      documentation_url: docs,
      status: '422',
    }),
  };
}

/** `per_page`: GitHub reads what it can, defaults to 30 and caps at 100. */
function clampPerPage(raw: string | null): number {
  const n = raw !== null && /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(n >= 1)) return DEFAULT_PER_PAGE;
  return Math.min(n, MAX_PER_PAGE);
}

/** `page`: 1-based; anything unreadable is page 1; capped at 1e9 so offsets stay exact integers. */
function parsePage(raw: string | null): number {
  const n = raw !== null && /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  return n >= 1 ? Math.min(n, 1e9) : 1;
}

/** An ISO 8601 time in ms; undefined when absent, null when unreadable. */
function parseTime(raw: string | null): number | undefined | null {
  if (raw === null) return undefined;
  const ms = Date.parse(raw);
  return raw.length <= 40 && Number.isFinite(ms) ? ms : null;
}

/**
 * GitHub's `Link` header: `prev` and `first` from page 2 on, `next` and `last` before the last page,
 * in that order, each the request's own URL with `page` replaced; undefined when there is one page.
 */
function linkHeader(
  base: string,
  query: URLSearchParams,
  page: number,
  lastPage: number,
): string | undefined {
  const to = (n: number) => {
    const params = new URLSearchParams(query);
    params.set('page', String(n));
    return `${base}?${params.toString()}`;
  };
  const links: string[] = [];
  if (page > 1) links.push(`<${to(page - 1)}>; rel="prev"`);
  if (page < lastPage) links.push(`<${to(page + 1)}>; rel="next"`, `<${to(lastPage)}>; rel="last"`);
  if (page > 1) links.push(`<${to(1)}>; rel="first"`);
  return links.length === 0 ? undefined : links.join(', ');
}

function checkPositiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new TypeError(`${name} must be an integer >= 1, but got: ${String(value)}`);
  }
  return value;
}

function checkAbsoluteUrl(value: string, name: string): void {
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new TypeError(`${name} must be an absolute http(s) URL, but got: ${JSON.stringify(value)}`);
  }
}
