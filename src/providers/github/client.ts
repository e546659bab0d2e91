// GitHub client: a connected user's account and repositories, read with that user's own token
// (ConnectedUserAuth, one per call), and the OAuth app's own calls (who a token belongs to, grant
// revocation). Reads go through the shared cache keyed by the user's connection and revalidate by
// ETag once stale (a 304 costs no GitHub quota); `Link` pages become opaque Relay cursors that
// carry only a page number. A 401 to a user's token marks the connection RECONNECT_REQUIRED.
import { z } from 'zod';
import type { AccountIdentity, UserCredentialSource } from '../../accounts/provider.js';
import { ConnectedUserAuth, connectionFingerprint } from '../../accounts/userAuth.js';
import type { CodeHostAccount, Repository } from '../../models/codeHosting.js';
import type { Connection } from '../../models/connection.js';
import type { SecretInput } from '../../secrets.js';
import { BasicAuth, BearerAuth } from '../../upstream/auth.js';
import { type CachePolicy, cacheKey, parseCacheControl, type ResponseCache } from '../../upstream/cache.js';
import type { CallContext } from '../../upstream/callContext.js';
import {
  type RawResponse,
  type RequestSpec,
  RestClient,
  type RestClientOptions,
} from '../../upstream/client.js';
import {
  isUpstreamError,
  type UpstreamError,
  type UpstreamErrorDetails,
  UpstreamNotFoundError,
  UpstreamRateLimitedError,
  UpstreamRejectedError,
  UpstreamUnavailableError,
} from '../../upstream/errors.js';
import { InvalidCursorError, paginate, type UpstreamPage } from '../../upstream/pagination.js';
import { MAX_PAGE, nextPageFrom, toAccount, toRepository } from './mapping.js';
import { githubErrorSchema, githubRepositoryListSchema, githubUserSchema } from './types.js';

export const GITHUB_PROVIDER = 'github';
/** Pinned so GitHub never changes shapes under us; bump deliberately, with the contract tests. */
export const GITHUB_API_VERSION = '2022-11-28';
/** GitHub's largest page: every page is asked at this size, so page numbers stay stable. */
const PER_PAGE = 100;
const REPOS_PATH = '/user/repos';

export interface GitHubClientOptions extends Omit<RestClientOptions, 'provider' | 'auth'> {
  /** The OAuth app's credentials: its own calls (grant revocation) authenticate with them. */
  clientId: string;
  /** The OAuth app's client secret (read per use: it may rotate). */
  clientSecret: SecretInput<string>;
  /** Where each user's current token comes from. */
  accounts: UserCredentialSource;
  cache: ResponseCache;
  /** A user's account and repositories: 60 s (GitHub's max-age), then revalidated by ETag. */
  cachePolicy?: CachePolicy;
}

export class GitHubClient extends RestClient {
  private readonly clientId: string;
  private readonly accounts: UserCredentialSource;
  private readonly cache: ResponseCache;
  private readonly policy: CachePolicy;

  constructor(options: GitHubClientOptions) {
    super({
      requestIdHeaders: ['x-github-request-id'],
      ...options,
      // The app's own credentials; every call for a user passes that user's auth instead.
      auth: new BasicAuth(options.clientId, options.clientSecret),
      defaultHeaders: {
        accept: 'application/vnd.github+json',
        'x-github-api-version': GITHUB_API_VERSION,
        // GitHub refuses requests without a User-Agent.
        'user-agent': 'junction',
        ...options.defaultHeaders,
      },
      provider: GITHUB_PROVIDER,
    });
    this.clientId = options.clientId;
    this.accounts = options.accounts;
    this.cache = options.cache;
    this.policy = options.cachePolicy ?? { ttlSeconds: 60, staleIfErrorSeconds: 300 };
  }

  /**
   * The account `userId` connected. Throws AccountError ACCOUNT_NOT_CONNECTED or RECONNECT_REQUIRED
   * (the resolver decides what each means for its field).
   */
  async getViewerAccount(userId: string, ctx: CallContext): Promise<CodeHostAccount> {
    const auth = await this.userAuth(userId, ctx);
    return this.cachedGet(
      auth,
      'user',
      '',
      { method: 'GET', path: '/user', route: 'GET /user', schema: githubUserSchema },
      (user) => toAccount(user, userId),
      ctx,
    );
  }

  /** A window of the repositories `userId`'s account can see, by full name, as a connection. */
  async repositoriesPage(
    userId: string,
    window: { first: number; after: string | null | undefined },
    ctx: CallContext,
  ): Promise<Connection<Repository>> {
    const auth = await this.userAuth(userId, ctx);
    return paginate({
      namespace: 'repositories',
      first: window.first,
      after: window.after,
      maxPageSize: PER_PAGE,
      fetchPage: (cursor) => this.repositoryPage(auth, cursor, ctx),
    });
  }

  /** One page of 100; `page` (a cursor's upstream part) is a page number from a `Link` header. */
  private repositoryPage(
    auth: ConnectedUserAuth,
    page: string | null,
    ctx: CallContext,
  ): Promise<UpstreamPage<Repository>> {
    if (page !== null && !(/^\d{1,7}$/.test(page) && Number(page) >= 2 && Number(page) <= MAX_PAGE))
      throw new InvalidCursorError(page);
    const number = page ?? '1';
    return this.cachedGet(
      auth,
      'repos',
      `${number}|${PER_PAGE}`,
      {
        method: 'GET',
        path: REPOS_PATH,
        route: 'GET /user/repos',
        query: { sort: 'full_name', per_page: PER_PAGE, page: number },
        schema: githubRepositoryListSchema,
      },
      (repos, headers) => ({ items: repos.map(toRepository), next: nextPageFrom(headers.link, REPOS_PATH) }),
      ctx,
    );
  }

  /** Who `accessToken` belongs to (right after the code exchange; not cached). */
  async identify(accessToken: string, signal: AbortSignal): Promise<AccountIdentity> {
    const user = await this.request(
      {
        method: 'GET',
        path: '/user',
        route: 'GET /user',
        schema: githubUserSchema,
        auth: new BearerAuth(accessToken),
      },
      { signal },
    );
    return { externalId: String(user.id), login: user.login };
  }

  /** Ends the app's grant for the user of `accessToken` (`DELETE /applications/{client_id}/grant`). */
  async revokeGrant(accessToken: string, signal: AbortSignal): Promise<void> {
    await this.request(
      {
        method: 'DELETE',
        path: `/applications/${encodeURIComponent(this.clientId)}/grant`,
        route: 'DELETE /applications/:client_id/grant',
        json: { access_token: accessToken },
        schema: z.unknown(),
        allowEmptyBody: true,
      },
      { signal },
    );
  }

  /**
   * GitHub said the repositories of account `accountId` changed (a webhook): forgets what is cached
   * for every user connected to it, and returns those users.
   */
  async repositoriesChanged(accountId: string): Promise<string[]> {
    const users = await this.accounts.usersOfAccount(GITHUB_PROVIDER, accountId);
    for (const userId of users) this.forget(userId, accountId, 'repos');
    return users;
  }

  /** The account revoked the app: every connection to it must be made again. Returns the users marked. */
  async accountRevoked(accountId: string): Promise<string[]> {
    const users = await this.accounts.markAccountRevoked(GITHUB_PROVIDER, accountId);
    for (const userId of users) {
      this.forget(userId, accountId, 'repos');
      this.forget(userId, accountId, 'user');
    }
    return users;
  }

  private forget(userId: string, accountId: string, resource: string): void {
    const credential = connectionFingerprint(GITHUB_PROVIDER, userId, accountId);
    this.cache.invalidatePrefix(`${cacheKey(this.provider, credential, resource, '')}`);
  }

  private userAuth(userId: string, ctx: CallContext): Promise<ConnectedUserAuth> {
    return ConnectedUserAuth.of(this.accounts, userId, GITHUB_PROVIDER, ctx.signal);
  }

  /**
   * One GET through the shared cache, keyed by the user's connection: a stale entry is revalidated
   * with its ETag, and a 304 keeps it (GitHub does not count a 304 against the quota).
   */
  private async cachedGet<T, R>(
    auth: ConnectedUserAuth,
    resource: string,
    id: string,
    spec: RequestSpec<T>,
    map: (data: T, headers: RawResponse['headers']) => R,
    ctx: CallContext,
  ): Promise<R> {
    const { value } = await this.cache.getOrLoad<R>(
      cacheKey(this.provider, auth.credentialId, resource, id),
      this.provider,
      this.policy,
      async (stale, loadCtx) => {
        const res = await this.sendAs(auth, { ...spec, etag: stale?.etag }, loadCtx);
        const cacheControl = parseCacheControl(res.headers['cache-control']);
        if (res.notModified) return { kind: 'not-modified', maxAgeSeconds: cacheControl.maxAgeSeconds };
        const etag = res.headers.etag;
        return {
          kind: 'value',
          value: map(res.data, res.headers),
          etag: typeof etag === 'string' && etag.length <= 256 ? etag : undefined,
          maxAgeSeconds: cacheControl.maxAgeSeconds,
          noStore: cacheControl.noStore,
        };
      },
      ctx,
    );
    return value;
  }

  /** A call with the user's token; GitHub's 401 to it means the grant is gone (after one retry with a newer token). */
  private async sendAs<T>(auth: ConnectedUserAuth, spec: RequestSpec<T>, ctx: CallContext) {
    try {
      return await this.send({ ...spec, auth }, ctx);
    } catch (error) {
      if (isUpstreamError(error) && error.status === 401) throw await auth.refused();
      throw error;
    }
  }

  /** Reads GitHub's `{message, documentation_url}`; a secondary rate limit (403 with Retry-After) is a 429. */
  protected override errorFromResponse(
    res: RawResponse,
    spec: Parameters<RestClient['errorFromResponse']>[1],
  ): UpstreamError {
    let body: ReturnType<typeof githubErrorSchema.parse>;
    try {
      body = githubErrorSchema.parse(JSON.parse(res.body));
    } catch {
      return super.errorFromResponse(res, spec);
    }
    const docs = body.documentation_url;
    const details: UpstreamErrorDetails = {
      ...this.responseDetails(res),
      ...(docs !== undefined && /^https:\/\/docs\.github\.com\/[\w./#%-]{0,300}$/.test(docs)
        ? { detail: { documentationUrl: docs } }
        : {}),
    };
    // GitHub writes its messages for developers ("Bad credentials", "API rate limit exceeded for
    // user ID 1."): no secrets in them; capped anyway.
    const message = `github: ${body.message.slice(0, 300)}`;
    const header = (name: string) => {
      const value = res.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const throttled =
      res.status === 429 ||
      (res.status === 403 &&
        (header('retry-after') !== undefined ||
          header('x-ratelimit-remaining') === '0' ||
          /rate limit/i.test(body.message)));
    if (throttled) return new UpstreamRateLimitedError(message, details);
    if (res.status === 401)
      return new UpstreamRejectedError('github refused the user’s token (401)', details);
    if (res.status === 404) return new UpstreamNotFoundError(message, details);
    if (res.status >= 500) return new UpstreamUnavailableError(message, details);
    return new UpstreamRejectedError(message, details);
  }
}
