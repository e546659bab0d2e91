// Users service client: domain verbs over the shared REST machinery. Individual users are cached
// per id (keyed by credential); cache misses from all concurrent operations are merged into
// `GET /users?ids=` batches of at most `maxBatch`.
import DataLoader from 'dataloader';
import type { Connection } from '../../models/connection.js';
import type { User } from '../../models/user.js';
import {
  type CachePolicy,
  cacheKey,
  type LoadResult,
  parseCacheControl,
  type ResponseCache,
} from '../../upstream/cache.js';
import type { CallContext } from '../../upstream/callContext.js';
import { RestClient, type RestClientOptions } from '../../upstream/client.js';
import { isUpstreamCode } from '../../upstream/errors.js';
import { paginate, type UpstreamPage } from '../../upstream/pagination.js';
import { SharedCallContext } from '../../upstream/sharedContext.js';
import { usersConfig } from './config.js';
import { toUser } from './mapping.js';
import { type ExternalUser, externalUserSchema, userBatchSchema, userPageSchema } from './types.js';

export interface UsersClientOptions extends Omit<RestClientOptions, 'provider'> {
  cache: ResponseCache;
  cachePolicy: CachePolicy;
  /** Ids per batch call. Default: USERS_MAX_BATCH's (100, the service's own limit). */
  maxBatch?: number;
  /** The service's largest page for `GET /users?limit=`. Default 100. */
  maxPageSize?: number;
}

interface BatchKey {
  id: string;
  ctx: CallContext;
}

interface BatchResult {
  user: ExternalUser | null;
  etag: string | undefined;
  maxAgeSeconds: number | undefined;
  noStore: boolean;
}

export const USERS_PROVIDER = 'users';

export class UsersClient extends RestClient {
  readonly maxBatch: number;
  readonly maxPageSize: number;
  private readonly cache: ResponseCache;
  private readonly cachePolicy: CachePolicy;
  /**
   * Process-wide batcher (no memoization: the cache above it holds results). Loads queued in the
   * same tick, from any number of operations, leave as one call per `maxBatch` ids.
   */
  private readonly batcher: DataLoader<BatchKey, BatchResult, string>;

  constructor(options: UsersClientOptions) {
    super({ ...options, provider: USERS_PROVIDER });
    this.cache = options.cache;
    this.cachePolicy = options.cachePolicy;
    this.maxBatch = options.maxBatch ?? usersConfig.settings.maxBatch.defaultValue({ isProduction: false });
    this.maxPageSize = options.maxPageSize ?? 100;
    this.batcher = new DataLoader<BatchKey, BatchResult, string>((keys) => this.fetchBatch(keys), {
      cache: false,
      maxBatchSize: this.maxBatch,
    });
  }

  /** One user, or null when the service does not know the id. */
  async getUser(id: string, ctx: CallContext): Promise<User | null> {
    const [user] = await this.getUsers([id], ctx);
    return user ?? null;
  }

  /** Users in the order of `ids`; null where the service does not know an id. */
  async getUsers(ids: readonly string[], ctx: CallContext): Promise<(User | null)[]> {
    return Promise.all(ids.map((id) => this.cachedUser(id, ctx)));
  }

  /**
   * One page of all users, in the service's stable order. Pages are cached briefly (the user
   * policy's TTL, no stale serving): a list changes more often than the users in it.
   */
  /** A window of the users list as a connection (`first` after `after`, our opaque cursors). */
  usersPage(
    window: { first: number; after: string | null | undefined },
    ctx: CallContext,
  ): Promise<Connection<User>> {
    return paginate({
      namespace: 'users',
      first: window.first,
      after: window.after,
      maxPageSize: this.maxPageSize,
      fetchPage: (cursor, limit) => this.listUsers({ limit, cursor }, ctx),
    });
  }

  async listUsers(
    page: { limit: number; cursor: string | null },
    ctx: CallContext,
  ): Promise<UpstreamPage<User>> {
    const { value } = await this.cache.getOrLoad<UpstreamPage<User>>(
      cacheKey(this.provider, this.credentialId, 'users-page', `${page.cursor ?? ''}|${page.limit}`),
      this.provider,
      { ttlSeconds: this.cachePolicy.ttlSeconds },
      async (_stale, loadCtx) => {
        const res = await this.send(
          {
            method: 'GET',
            path: '/users',
            route: 'GET /users?limit',
            query: { limit: page.limit, cursor: page.cursor ?? undefined },
            schema: userPageSchema,
          },
          loadCtx,
        );
        const cc = parseCacheControl(res.headers['cache-control']);
        const value = { items: res.data.data.map(toUser), next: res.data.pagination.next_cursor ?? null };
        return { kind: 'value' as const, value, ...cc };
      },
      ctx,
    );
    return value;
  }

  /** Forgets a cached user (after a change the service told us about). */
  invalidateUser(id: string): void {
    this.cache.invalidate(this.userKey(id));
  }

  private userKey(id: string): string {
    return cacheKey(this.provider, this.credentialId, 'user', id);
  }

  private async cachedUser(id: string, ctx: CallContext): Promise<User | null> {
    const { value } = await this.cache.getOrLoad<ExternalUser | null>(
      this.userKey(id),
      this.provider,
      this.cachePolicy,
      (stale, loadCtx) => this.loadUser(id, loadCtx, stale?.etag),
      ctx,
    );
    return value ? toUser(value) : null;
  }

  private async loadUser(
    id: string,
    ctx: CallContext,
    etag: string | undefined,
  ): Promise<LoadResult<ExternalUser | null>> {
    if (etag !== undefined) {
      // A stale entry with an ETag is revalidated on its own: a 304 costs no body.
      const result = await this.fetchOne(id, ctx, etag);
      if (result === 'not-modified') return { kind: 'not-modified', maxAgeSeconds: undefined };
      return { kind: 'value', value: result.user, ...result };
    }
    const result = await this.batcher.load({ id, ctx });
    return { kind: 'value', value: result.user, ...result };
  }

  /** `GET /users/{id}`: used for a batch of one, and to revalidate an entry by its ETag. */
  private async fetchOne(id: string, ctx: CallContext, etag?: string): Promise<BatchResult | 'not-modified'> {
    try {
      const res = await this.send(
        {
          method: 'GET',
          path: `/users/${encodeURIComponent(id)}`,
          route: 'GET /users/:id',
          schema: externalUserSchema,
          etag,
        },
        ctx,
      );
      const cc = parseCacheControl(res.headers['cache-control']);
      if (res.notModified) return 'not-modified';
      return { user: res.data, etag: headerValue(res.headers.etag), ...cc };
    } catch (error) {
      if (isUpstreamCode(error, 'NOT_FOUND'))
        return { user: null, etag: undefined, maxAgeSeconds: undefined, noStore: false };
      throw error;
    }
  }

  private async fetchBatch(keys: readonly BatchKey[]): Promise<(BatchResult | Error)[]> {
    const ids = [...new Set(keys.map((k) => k.id))];
    // The batch serves several loads (often several operations): it forwards the first one's
    // request id and reports to every one of them, but takes no one's signal or deadline (each
    // waiter gives up on its own).
    const shared = new SharedCallContext(keys[0]?.ctx ?? {});
    for (const waiting of new Set(keys.map((k) => k.ctx))) shared.join(waiting);
    const { ctx } = shared;
    if (ids.length === 1 && ids[0] !== undefined) {
      // A batch of one is a by-id fetch, which also brings an ETag for later revalidation.
      const one = await this.fetchOne(ids[0], ctx);
      if (one === 'not-modified') throw new Error('unexpected 304 without If-None-Match');
      return keys.map(() => one);
    }
    const res = await this.send(
      {
        method: 'GET',
        path: '/users',
        route: 'GET /users?ids',
        query: { ids: ids.join(',') },
        schema: userBatchSchema,
      },
      ctx,
    );
    const cc = parseCacheControl(res.headers['cache-control']);
    const byId = new Map(res.data.data.map((u) => [u.user_id, u]));
    return keys.map((k) => ({ user: byId.get(k.id) ?? null, etag: undefined, ...cc }));
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
