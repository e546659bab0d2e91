// Simulator of the internal users service: an OAuth2 client-credentials token endpoint whose bearer
// tokens really expire, and the /users routes (by id, batch by ids, cursor pages) over seeded data.
import { randomBytes } from 'node:crypto';
import type { ProviderSimulatorOptions, Simulator } from '../shared/simulator.js';
import { createSimulator } from '../shared/simulator.js';
import type { SimRequest, SimResponse } from '../shared/wire.js';
import type { SimUserRecord } from './seed.js';
import { seedUsers } from './seed.js';

export interface UsersSimulatorOptions extends ProviderSimulatorOptions {
  /** Number of seeded users `usr_0001`..; 0 starts empty. Default: 1000. */
  seedCount?: number;
  /** OAuth2 client id accepted by `POST /oauth/token`. Default: `junction-demo`. */
  clientId?: string;
  /** OAuth2 client secret accepted by `POST /oauth/token`. Default: `demo-secret`. */
  clientSecret?: string;
  /** Lifetime of issued tokens in whole seconds (>= 1), checked against the wall clock at use. Default: 3600. */
  tokenTtlSeconds?: number;
  /** Most ids one `GET /users?ids=` may ask for; more is a 400 `too_many_ids`. Default: 100. */
  maxIds?: number;
}

export interface UsersSimulator extends Simulator {
  /** The live user table keyed by `user_id`; tests may add or delete entries. */
  readonly users: Map<string, SimUserRecord>;
  readonly credentials: { readonly clientId: string; readonly clientSecret: string };
  /** Tokens issued since creation or the last `resetCounters()`. */
  tokensIssued(): number;
  /** Makes every token issued so far invalid, as if it had expired; new tokens work. */
  expireTokens(): void;
  /** Same effect as `expireTokens()` (the service reports both as `invalid_token`). */
  revokeTokens(): void;
  /** Lifetime of tokens issued from now on, in whole seconds (>= 1). */
  setTokenTtl(seconds: number): void;
}

/** Route names, for counters and fault matching. */
export const USERS_ROUTES = {
  token: 'POST /oauth/token',
  userById: 'GET /users/:id',
  users: 'GET /users',
} as const;

const DEFAULT_PAGE_SIZE = 20;
const MAX_PAGE_SIZE = 100;
const USER_CACHE_CONTROL = 'private, max-age=30';

export function createUsersSimulator(opts: UsersSimulatorOptions = {}): UsersSimulator {
  const credentials = {
    clientId: opts.clientId ?? 'junction-demo',
    clientSecret: opts.clientSecret ?? 'demo-secret',
  } as const;
  const maxIds = opts.maxIds ?? 100;
  let tokenTtlSeconds = checkTtl(opts.tokenTtlSeconds ?? 3600); // 1h
  const users = new Map<string, SimUserRecord>(seedUsers(opts.seedCount ?? 1000).map((u) => [u.user_id, u]));

  /** access token -> expiry (ms since epoch). */
  const tokens = new Map<string, number>();
  let issued = 0;

  const issueToken = (req: SimRequest): SimResponse => {
    const contentType = req.headers['content-type'] ?? '';
    if (!contentType.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
      return oauthError(400, 'invalid_request', 'body must be application/x-www-form-urlencoded');
    }
    const form = req.form();
    const client = clientFrom(req.headers.authorization, form);
    if (client === 'conflict') {
      return oauthError(400, 'invalid_request', 'use one client authentication method, not both');
    }
    if (
      client === undefined ||
      client.id !== credentials.clientId ||
      client.secret !== credentials.clientSecret
    ) {
      return oauthError(401, 'invalid_client', 'client authentication failed', {
        'www-authenticate': 'Basic realm="users"',
      });
    }
    const grantType = form.get('grant_type');
    if (grantType === null) return oauthError(400, 'invalid_request', 'grant_type is required');
    if (grantType !== 'client_credentials') {
      return oauthError(400, 'unsupported_grant_type', `grant_type ${grantType} is not supported`);
    }

    const now = Date.now();
    for (const [token, expiresAt] of tokens) if (expiresAt <= now) tokens.delete(token);
    const accessToken = `utk_${randomBytes(24).toString('base64url')}`;
    tokens.set(accessToken, now + tokenTtlSeconds * 1000);
    issued += 1;
    const scope = form.get('scope');
    return {
      status: 200,
      headers: { 'cache-control': 'no-store', pragma: 'no-cache' },
      body: {
        access_token: accessToken,
        token_type: 'Bearer',
        expires_in: tokenTtlSeconds,
        ...(scope === null ? {} : { scope }),
      },
    };
  };

  /** Returns a 401 response when the request lacks a valid, unexpired bearer token. */
  const rejectUnauthorized = (req: SimRequest): SimResponse | undefined => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    const token = match?.[1];
    if (token === undefined) return invalidToken('missing bearer token');
    const expiresAt = tokens.get(token);
    if (expiresAt === undefined) return invalidToken('unknown access token');
    if (Date.now() >= expiresAt) return invalidToken('access token expired');
    return undefined;
  };

  const getUser = (req: SimRequest): SimResponse => {
    const denied = rejectUnauthorized(req);
    if (denied) return denied;
    const id = req.params.id ?? '';
    const user = users.get(id);
    if (user === undefined) return apiError(404, 'user_not_found', `no user with id ${id}`);
    return ok(user);
  };

  const listUsers = (req: SimRequest): SimResponse => {
    const denied = rejectUnauthorized(req);
    if (denied) return denied;
    return req.query.has('ids') ? batch(req.query) : page(req.query);
  };

  const batch = (query: URLSearchParams): SimResponse => {
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
    if (ids.size > maxIds) {
      return apiError(400, 'too_many_ids', `at most ${maxIds} ids per request, got ${ids.size}`);
    }
    // Sorted by user_id rather than request order: callers must not rely on positions.
    const data = [...ids]
      .sort()
      .map((id) => users.get(id))
      .filter((u) => u !== undefined);
    return ok({ data });
  };

  const page = (query: URLSearchParams): SimResponse => {
    const limitRaw = query.get('limit');
    let limit = DEFAULT_PAGE_SIZE;
    if (limitRaw !== null) {
      limit = /^\d+$/.test(limitRaw) ? Number(limitRaw) : Number.NaN;
      if (!(limit >= 1 && limit <= MAX_PAGE_SIZE)) {
        return apiError(
          400,
          'invalid_limit',
          `limit must be an integer 1..${MAX_PAGE_SIZE}, got ${limitRaw}`,
        );
      }
    }
    const cursorRaw = query.get('cursor');
    let after: string | undefined;
    if (cursorRaw !== null && cursorRaw !== '') {
      after = decodeCursor(cursorRaw);
      if (after === undefined)
        return apiError(400, 'invalid_cursor', 'cursor is not one this service issued');
    }
    // Keyset pagination on user_id: stable even when users are added or removed between pages.
    const ids = [...users.keys()].sort();
    const start = after === undefined ? 0 : firstIndexAfter(ids, after);
    const pageIds = ids.slice(start, start + limit);
    const last = pageIds.at(-1);
    const hasMore = start + limit < ids.length;
    return ok({
      data: pageIds.map((id) => users.get(id)),
      pagination: { next_cursor: hasMore && last !== undefined ? encodeCursor(last) : null },
    });
  };

  const sim = createSimulator({
    name: 'users',
    host: opts.host,
    port: opts.port,
    etag: true,
    faults: opts.faults,
    routes: [
      { method: 'POST', path: '/oauth/token', handler: issueToken },
      { method: 'GET', path: '/users/:id', handler: getUser },
      { method: 'GET', path: '/users', handler: listUsers },
    ],
    onReset: () => {
      issued = 0;
    },
  });

  const expireTokens = (): void => {
    for (const token of tokens.keys()) tokens.set(token, 0);
  };

  const own: Omit<UsersSimulator, keyof Simulator> = {
    users,
    credentials,
    tokensIssued: () => issued,
    expireTokens,
    revokeTokens: expireTokens,
    setTokenTtl(seconds: number) {
      tokenTtlSeconds = checkTtl(seconds);
    },
  };
  return Object.assign(sim, own);
}

function checkTtl(seconds: number): number {
  if (!Number.isInteger(seconds) || seconds < 1) {
    throw new TypeError(`token TTL must be an integer number of seconds >= 1, but got: ${String(seconds)}`);
  }
  return seconds;
}

/** Client credentials from HTTP Basic or the form (RFC 6749 §2.3.1); 'conflict' when both are used. */
function clientFrom(
  authorization: string | undefined,
  form: URLSearchParams,
): { id: string; secret: string } | 'conflict' | undefined {
  const formId = form.get('client_id');
  const formSecret = form.get('client_secret');
  const basic = /^Basic\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
  if (basic !== undefined) {
    if (formSecret !== null) return 'conflict';
    const decoded = Buffer.from(basic, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    try {
      // Both parts are form-urlencoded before base64 (RFC 6749 §2.3.1).
      const formDecode = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
      return { id: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) };
    } catch {
      return undefined;
    }
  }
  if (formId === null || formSecret === null) return undefined;
  return { id: formId, secret: formSecret };
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

function invalidToken(message: string): SimResponse {
  return {
    status: 401,
    headers: { 'www-authenticate': `Bearer error="invalid_token", error_description="${message}"` },
    body: { error: { code: 'invalid_token', message } },
  };
}

function oauthError(
  status: number,
  error: string,
  description: string,
  headers: Record<string, string> = {},
): SimResponse {
  return {
    status,
    headers: { 'cache-control': 'no-store', pragma: 'no-cache', ...headers },
    body: { error, error_description: description },
  };
}
