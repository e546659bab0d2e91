// Reading the user table: one user by id, a batch by ids, and keyset pages on user_id with opaque
// cursors; answers carry the service's cache headers, errors its `{error:{code, message}}` body.
import type { SimRequest, SimResponse } from '../shared/wire.js';
import type { SimUserRecord } from './seed.js';

const DEFAULT_PAGE_SIZE = 20;
const MAX_PAGE_SIZE = 100;
const USER_CACHE_CONTROL = 'private, max-age=30';

export interface UserTable {
  readonly users: Map<string, SimUserRecord>;
  /** Most ids one `GET /users?ids=` may ask for; more is a 400 `too_many_ids`. */
  readonly maxIds: number;
}

/** `GET /users/:id` */
export function getUser(table: UserTable, req: SimRequest): SimResponse {
  const id = req.params.id ?? '';
  const user = table.users.get(id);
  if (user === undefined) return apiError(404, 'user_not_found', `no user with id ${id}`);
  return ok(user);
}

/** `GET /users?ids=a,b` (a batch) or `GET /users?limit=&cursor=` (a page). */
export function listUsers(table: UserTable, req: SimRequest): SimResponse {
  return req.query.has('ids') ? batch(table, req.query) : page(table, req.query);
}

function batch(table: UserTable, query: URLSearchParams): SimResponse {
  if (query.has('limit') || query.has('cursor')) {
    return apiError(400, 'invalid_request', 'ids cannot be combined with limit or cursor');
  }
  const ids = new Set(
    query
      .getAll('ids')
      .flatMap((value) => value.split(','))
      .map((id) => id.trim())
      .filter((id) => id !== ''),
  );
  if (ids.size > table.maxIds) {
    return apiError(400, 'too_many_ids', `at most ${table.maxIds} ids per request, got ${ids.size}`);
  }
  // Sorted by user_id rather than request order: callers must not rely on positions.
  const data = [...ids]
    .sort()
    .map((id) => table.users.get(id))
    .filter((u) => u !== undefined);
  return ok({ data });
}

function page(table: UserTable, query: URLSearchParams): SimResponse {
  const limitRaw = query.get('limit');
  let limit = DEFAULT_PAGE_SIZE;
  if (limitRaw !== null) {
    limit = /^\d+$/.test(limitRaw) ? Number(limitRaw) : Number.NaN;
    if (!(limit >= 1 && limit <= MAX_PAGE_SIZE)) {
      return apiError(400, 'invalid_limit', `limit must be an integer 1..${MAX_PAGE_SIZE}, got ${limitRaw}`);
    }
  }
  const cursorRaw = query.get('cursor');
  let after: string | undefined;
  if (cursorRaw !== null && cursorRaw !== '') {
    after = decodeCursor(cursorRaw);
    if (after === undefined) return apiError(400, 'invalid_cursor', 'cursor is not one this service issued');
  }
  // Keyset pagination on user_id: stable even when users are added or removed between pages.
  const ids = [...table.users.keys()].sort();
  const start = after === undefined ? 0 : firstIndexAfter(ids, after);
  const pageIds = ids.slice(start, start + limit);
  const last = pageIds.at(-1);
  const hasMore = start + limit < ids.length;
  return ok({
    data: pageIds.map((id) => table.users.get(id)),
    pagination: { next_cursor: hasMore && last !== undefined ? encodeCursor(last) : null },
  });
}

function firstIndexAfter(sortedIds: readonly string[], after: string): number {
  let lo = 0;
  let hi = sortedIds.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sortedIds[mid] ?? '') <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function encodeCursor(afterId: string): string {
  return Buffer.from(JSON.stringify({ v: 1, after: afterId }), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      typeof parsed === 'object' &&
      parsed !== null &&
      'after' in parsed &&
      typeof parsed.after === 'string'
    ) {
      return parsed.after;
    }
  } catch {
    // fall through: not a cursor we issued
  }
  return undefined;
}

function ok(body: unknown): SimResponse {
  return { status: 200, headers: { 'cache-control': USER_CACHE_CONTROL, vary: 'Authorization' }, body };
}

function apiError(status: number, code: string, message: string): SimResponse {
  return { status, body: { error: { code, message } } };
}
