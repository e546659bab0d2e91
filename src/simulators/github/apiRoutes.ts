// api.github.com's routes Junction uses, behind one gate: the API version and media type, the user's
// token, then the quota. A conditional request answered 304 only peeks at the quota; a 200 spends one.
import { createHash } from 'node:crypto';
import type { Route } from '../shared/router.js';
import type { SimRequest, SimResponse } from '../shared/wire.js';
import { badCredentials, GITHUB_DOCS, githubError, JSON_HEADERS } from './errors.js';
import { apiToken, checkVersionAndMedia, notModified } from './http.js';
import type { GitHubOAuth, TokenOwner } from './oauth.js';
import type { GitHubUrls } from './objects.js';
import { avatarSvg, toPrivateUser, toPublicUser, toRepository } from './objects.js';
import type { RateLimiter, RateLimitSnapshot } from './rateLimit.js';
import { rateLimitHeaders } from './rateLimit.js';
import { listRepositories } from './repoListing.js';
import type { GitHubStore } from './store.js';

export interface ApiRoutesDeps {
  oauth: GitHubOAuth;
  limiter: RateLimiter;
  store: GitHubStore;
  urls: () => GitHubUrls;
  /** Accepted `X-GitHub-Api-Version` values; the first is used when the header is absent. */
  apiVersions: readonly string[];
  now: () => number;
}

interface ApiContext {
  owner: TokenOwner;
  version: string;
}

/** What a route handler answers before the gate adds ETag, caching and rate-limit headers. */
interface ApiAnswer {
  body: unknown;
  headers?: Record<string, string>;
  /** For Last-Modified and If-Modified-Since, in ms. */
  lastModified?: number;
}

const API_CACHE_CONTROL = 'private, max-age=60, s-maxage=60';
const API_VARY = 'Accept, Authorization, Cookie, X-GitHub-OTP, Accept-Encoding';
/** GitHub's limit for unauthenticated requests, shown by an anonymous /rate_limit. */
const ANONYMOUS_LIMIT = 60;

export function createApiRoutes(deps: ApiRoutesDeps): Route[] {
  const { oauth, limiter, store, urls, apiVersions, now } = deps;

  const gated = (
    path: string,
    docs: string,
    handler: (req: SimRequest, ctx: ApiContext) => ApiAnswer | SimResponse,
  ): Route => ({
    method: 'GET',
    path,
    handler: (req) => {
      const version = checkVersionAndMedia(req, apiVersions);
      if (typeof version !== 'string') return version;
      const token = apiToken(req.headers.authorization);
      if (token === undefined) return githubError(401, 'Requires authentication', docs);
      const owner = oauth.authenticate(token);
      if (owner === undefined) return badCredentials();

      const common = { 'x-oauth-scopes': owner.scopes.join(', '), 'x-github-api-version-selected': version };
      const before = limiter.peek(owner.login);
      if (before.remaining === 0) {
        return githubError(
          403,
          `API rate limit exceeded for user ID ${store.accounts.get(owner.login)?.id ?? 0}.`,
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
        // GitHub's documented rule: a conditional request answered 304 does not count.
        return { status: 304, headers: { ...headers, ...rateLimitHeaders(before) } };
      }
      const { snapshot } = limiter.take(owner.login);
      return { status: 200, headers: { ...JSON_HEADERS, ...headers, ...rateLimitHeaders(snapshot) }, body };
    },
  });

  const getUser = (_req: SimRequest, { owner }: ApiContext): ApiAnswer | SimResponse => {
    const user = store.accounts.get(owner.login);
    if (user === undefined) return badCredentials();
    const counts = store.counts(user.login);
    // The private view (plan, private counters, 2FA) needs the `user` or `read:user` scope.
    const privateView = owner.scopes.includes('user') || owner.scopes.includes('read:user');
    return {
      body: privateView ? toPrivateUser(user, counts, urls()) : toPublicUser(user, counts, urls()),
      lastModified: user.updatedAt,
    };
  };

  const listRepos = (req: SimRequest, { owner }: ApiContext): ApiAnswer | SimResponse => {
    const user = store.accounts.get(owner.login);
    if (user === undefined) return badCredentials();
    // Private repositories need the `repo` scope.
    const listed = listRepositories(
      store.owned(user.login),
      req.query,
      owner.scopes.includes('repo'),
      `${urls().api}${req.path}`,
    );
    if ('status' in listed) return listed;
    return {
      body: listed.repos.map((r) => toRepository(r, user, urls())),
      headers: listed.link === undefined ? {} : { link: listed.link },
    };
  };

  /** `GET /rate_limit` never counts against the limit; without a token it shows the anonymous limit. */
  const rateLimit = (req: SimRequest): SimResponse => {
    const version = checkVersionAndMedia(req, apiVersions);
    if (typeof version !== 'string') return version;
    const token = apiToken(req.headers.authorization);
    const owner = token === undefined ? undefined : oauth.authenticate(token);
    if (token !== undefined && owner === undefined) return badCredentials();
    const nowSeconds = Math.ceil(now() / 1000);
    const snapshot: RateLimitSnapshot =
      owner === undefined
        ? {
            limit: ANONYMOUS_LIMIT,
            remaining: ANONYMOUS_LIMIT,
            used: 0,
            reset: nowSeconds + 3600,
            resource: 'core',
          }
        : limiter.peek(owner.login);
    const core = {
      limit: snapshot.limit,
      remaining: snapshot.remaining,
      reset: snapshot.reset,
      used: snapshot.used,
    };
    const search = { limit: 30, remaining: 30, reset: nowSeconds + 60, used: 0 };
    // API version 2026-03-10 removed the top-level `rate` (a copy of `resources.core`).
    const body =
      version === '2022-11-28'
        ? { resources: { core, search }, rate: core }
        : { resources: { core, search } };
    return {
      status: 200,
      headers: {
        ...JSON_HEADERS,
        'cache-control': 'no-cache',
        'x-github-api-version-selected': version,
        ...rateLimitHeaders(snapshot),
      },
      body: JSON.stringify(body),
    };
  };

  /** The avatars the user objects point at, so a page showing them has something to show. */
  const avatar = (req: SimRequest): SimResponse => {
    const user = store.accountById(Number(req.params.id));
    if (user === undefined)
      return { status: 404, headers: { 'content-type': 'text/plain' }, body: 'Not Found' };
    return {
      status: 200,
      headers: { 'content-type': 'image/svg+xml', 'cache-control': 'max-age=300' },
      body: avatarSvg(user),
    };
  };

  return [
    gated('/user', GITHUB_DOCS.getAuthenticatedUser, getUser),
    gated('/user/repos', GITHUB_DOCS.listReposForUser, listRepos),
    { method: 'GET', path: '/rate_limit', handler: rateLimit },
    { method: 'GET', path: '/avatars/u/:id', handler: avatar },
  ];
}
