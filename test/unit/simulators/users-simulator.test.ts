// The users-service simulator over real sockets: OAuth2 client credentials, expiring tokens, the
// /users routes, ETags, and the deterministic seed.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SimUserRecord } from '../../../src/simulators/users/seed.js';
import { seedUsers } from '../../../src/simulators/users/seed.js';
import type { UsersSimulator } from '../../../src/simulators/users/simulator.js';
import { createUsersSimulator, USERS_ROUTES } from '../../../src/simulators/users/simulator.js';

interface TokenBody {
  access_token: string;
  token_type: string;
  expires_in: number;
  scope?: string;
}
interface Page {
  data: SimUserRecord[];
  pagination: { next_cursor: string | null };
}
interface ApiError {
  error: { code: string; message: string };
}

let sim: UsersSimulator;
let base: string;

beforeEach(async () => {
  sim = createUsersSimulator();
  base = await sim.start();
});

afterEach(async () => {
  await sim.close();
});

function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
}

function requestToken(form: Record<string, string>, authorization?: string): Promise<Response> {
  return fetch(`${base}/oauth/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(authorization ? { authorization } : {}),
    },
    body: new URLSearchParams(form).toString(),
  });
}

async function token(): Promise<string> {
  const res = await requestToken(
    { grant_type: 'client_credentials' },
    basic(sim.credentials.clientId, sim.credentials.clientSecret),
  );
  expect(res.status).toBe(200);
  return ((await res.json()) as TokenBody).access_token;
}

function get(path: string, accessToken: string | undefined, headers: Record<string, string> = {}) {
  return fetch(`${base}${path}`, {
    headers: { ...(accessToken ? { authorization: `Bearer ${accessToken}` } : {}), ...headers },
  });
}

describe('POST /oauth/token (client credentials)', () => {
  it('issues a bearer token to a client using HTTP Basic, with no-store caching', async () => {
    const res = await requestToken(
      { grant_type: 'client_credentials', scope: 'users:read' },
      basic('junction-demo', 'demo-secret'),
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as TokenBody;
    expect(body).toEqual({
      access_token: expect.any(String),
      token_type: 'Bearer',
      expires_in: 3600,
      scope: 'users:read',
    });
    expect(sim.tokensIssued()).toBe(1);
  });

  it('accepts client_id/client_secret in the form body instead', async () => {
    const res = await requestToken({
      grant_type: 'client_credentials',
      client_id: 'junction-demo',
      client_secret: 'demo-secret',
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as TokenBody).token_type).toBe('Bearer');
  });

  it('rejects a bad client with 401 invalid_client', async () => {
    for (const res of [
      await requestToken({ grant_type: 'client_credentials' }, basic('junction-demo', 'wrong')),
      await requestToken({ grant_type: 'client_credentials', client_id: 'someone', client_secret: 'x' }),
      await requestToken({ grant_type: 'client_credentials' }),
    ]) {
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: string }).error).toBe('invalid_client');
    }
    expect(sim.tokensIssued()).toBe(0);
  });

  it('rejects other grants with 400 unsupported_grant_type, and a missing grant with invalid_request', async () => {
    const auth = basic('junction-demo', 'demo-secret');
    const wrongGrant = await requestToken({ grant_type: 'password' }, auth);
    expect(wrongGrant.status).toBe(400);
    expect(((await wrongGrant.json()) as { error: string }).error).toBe('unsupported_grant_type');

    const noGrant = await requestToken({}, auth);
    expect(noGrant.status).toBe(400);
    expect(((await noGrant.json()) as { error: string }).error).toBe('invalid_request');
  });

  it('honours custom credentials', async () => {
    const custom = createUsersSimulator({ clientId: 'svc', clientSecret: 's3cr:et', seedCount: 1 });
    try {
      const url = await custom.start();
      const res = await fetch(`${url}/oauth/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: basic('svc', encodeURIComponent('s3cr:et')),
        },
        body: 'grant_type=client_credentials',
      });
      expect(res.status).toBe(200);
    } finally {
      await custom.close();
    }
  });
});

describe('bearer auth on /users routes', () => {
  it('requires a token: 401 invalid_token with WWW-Authenticate', async () => {
    for (const res of [await get('/users/usr_0001', undefined), await get('/users?limit=5', 'not-a-token')]) {
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
      expect(((await res.json()) as ApiError).error.code).toBe('invalid_token');
    }
    expect(sim.count({ route: USERS_ROUTES.userById })).toBe(1);
    expect(sim.count({ route: USERS_ROUTES.users })).toBe(1);
  });

  it('tokens really expire after their TTL (1 s, real wait)', async () => {
    sim.setTokenTtl(1);
    const res = await requestToken(
      { grant_type: 'client_credentials' },
      basic('junction-demo', 'demo-secret'),
    );
    const body = (await res.json()) as TokenBody;
    expect(body.expires_in).toBe(1);
    expect((await get('/users/usr_0001', body.access_token)).status).toBe(200);

    await new Promise((r) => setTimeout(r, 1100));
    const expired = await get('/users/usr_0001', body.access_token);
    expect(expired.status).toBe(401);
    expect(((await expired.json()) as ApiError).error.message).toMatch(/expired/);
  });

  it('expireTokens() invalidates issued tokens; a fresh token works', async () => {
    const old = await token();
    sim.expireTokens();
    expect((await get('/users/usr_0001', old)).status).toBe(401);
    expect((await get('/users/usr_0001', await token())).status).toBe(200);
    expect(sim.tokensIssued()).toBe(2);
    sim.resetCounters();
    expect(sim.tokensIssued()).toBe(0);
    expect(sim.count()).toBe(0);
  });
});

describe('GET /users/:id', () => {
  it('returns the user in snake_case with private caching', async () => {
    const res = await get('/users/usr_0042', await token());
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('private, max-age=30');
    const user = (await res.json()) as SimUserRecord;
    expect(user).toEqual(sim.users.get('usr_0042'));
    expect(Object.keys(user).sort()).toEqual([
      'created_timestamp',
      'email_address',
      'first_name',
      'last_name',
      'phone_number',
      'stripe_customer_id',
      'user_id',
    ]);
  });

  it('answers 404 user_not_found for an unknown or deleted id', async () => {
    const t = await token();
    const res = await get('/users/usr_9999', t);
    expect(res.status).toBe(404);
    expect(((await res.json()) as ApiError).error.code).toBe('user_not_found');

    sim.users.delete('usr_0001');
    expect((await get('/users/usr_0001', t)).status).toBe(404);
  });

  it('sends an ETag and answers 304 to a matching If-None-Match', async () => {
    const t = await token();
    const first = await get('/users/usr_0007', t);
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^"[0-9a-f]{40}"$/);
    const again = await get('/users/usr_0007', t, { 'if-none-match': etag ?? '' });
    expect(again.status).toBe(304);

    const user = sim.users.get('usr_0007');
    if (user) sim.users.set('usr_0007', { ...user, first_name: 'Changed' });
    const changed = await get('/users/usr_0007', t, { 'if-none-match': etag ?? '' });
    expect(changed.status).toBe(200);
    expect(((await changed.json()) as SimUserRecord).first_name).toBe('Changed');
  });
});

describe('GET /users?ids= (batch)', () => {
  it('returns known users, leaves unknown ids out and counts one request', async () => {
    const t = await token();
    sim.resetCounters();
    const res = await get('/users?ids=usr_0003,usr_nope,usr_0001,usr_0003', t);
    expect(res.status).toBe(200);
    const { data } = (await res.json()) as { data: SimUserRecord[] };
    expect(data.map((u) => u.user_id).sort()).toEqual(['usr_0001', 'usr_0003']);
    expect(sim.count({ route: USERS_ROUTES.users })).toBe(1);
  });

  it('rejects more than maxIds ids with 400 too_many_ids', async () => {
    const t = await token();
    const ids = Array.from({ length: 101 }, (_, i) => `usr_${String(i + 1).padStart(4, '0')}`);
    const res = await get(`/users?ids=${ids.join(',')}`, t);
    expect(res.status).toBe(400);
    expect(((await res.json()) as ApiError).error.code).toBe('too_many_ids');

    const atLimit = await get(`/users?ids=${ids.slice(0, 100).join(',')}`, t);
    expect(atLimit.status).toBe(200);
    expect(((await atLimit.json()) as { data: unknown[] }).data).toHaveLength(100);
  });
});

describe('GET /users?limit=&cursor= (pages)', () => {
  it('walks all 1000 users exactly once, in user_id order', async () => {
    const t = await token();
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
      const res = await get(`/users?limit=100${query}`, t);
      expect(res.status).toBe(200);
      const page = (await res.json()) as Page;
      seen.push(...page.data.map((u) => u.user_id));
      cursor = page.pagination.next_cursor;
      pages += 1;
    } while (cursor !== null && pages < 50);

    expect(pages).toBe(10);
    expect(seen).toHaveLength(1000);
    expect(new Set(seen).size).toBe(1000);
    expect(seen).toEqual([...seen].sort());
  });

  it('defaults to 20 per page and rejects a limit over 100 or a forged cursor', async () => {
    const t = await token();
    const first = (await (await get('/users', t)).json()) as Page;
    expect(first.data).toHaveLength(20);
    expect(first.data[0]?.user_id).toBe('usr_0001');
    expect(first.pagination.next_cursor).toEqual(expect.any(String));

    const tooMany = await get('/users?limit=101', t);
    expect(tooMany.status).toBe(400);
    expect(((await tooMany.json()) as ApiError).error.code).toBe('invalid_limit');

    const forged = await get('/users?cursor=not-a-cursor', t);
    expect(forged.status).toBe(400);
    expect(((await forged.json()) as ApiError).error.code).toBe('invalid_cursor');
  });

  it('ends with next_cursor null on the last page', async () => {
    const small = createUsersSimulator({ seedCount: 3 });
    try {
      const url = await small.start();
      const tok = await fetch(`${url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials&client_id=junction-demo&client_secret=demo-secret',
      });
      const { access_token } = (await tok.json()) as TokenBody;
      const res = await fetch(`${url}/users?limit=3`, {
        headers: { authorization: `Bearer ${access_token}` },
      });
      const page = (await res.json()) as Page;
      expect(page.data).toHaveLength(3);
      expect(page.pagination.next_cursor).toBeNull();
    } finally {
      await small.close();
    }
  });
});

describe('faults on the users simulator', () => {
  it('a 503 on the token route does not touch the user routes', async () => {
    sim.faults.add({ match: { route: USERS_ROUTES.token }, status: 503, times: 1 });
    const failed = await requestToken(
      { grant_type: 'client_credentials' },
      basic('junction-demo', 'demo-secret'),
    );
    expect(failed.status).toBe(503);
    expect(sim.tokensIssued()).toBe(0);
    expect((await get('/users/usr_0001', await token())).status).toBe(200);
  });
});

describe('seedUsers', () => {
  const users = seedUsers(1000);

  it('is deterministic and prefix-stable', () => {
    expect(seedUsers(1000)).toEqual(users);
    expect(seedUsers(10)).toEqual(users.slice(0, 10));
    expect(seedUsers(10, 7)).not.toEqual(users.slice(0, 10));
  });

  it('has zero-padded ids, unique E.164 phones and emails, rising timestamps and ~10% without Stripe', () => {
    expect(users[0]?.user_id).toBe('usr_0001');
    expect(users[999]?.user_id).toBe('usr_1000');
    expect(new Set(users.map((u) => u.phone_number)).size).toBe(1000);
    expect(new Set(users.map((u) => u.email_address)).size).toBe(1000);
    for (const u of users) {
      expect(u.phone_number).toMatch(/^\+1555\d{7}$/);
      expect(u.email_address).toMatch(/^[a-z.]+\d*@example\.(com|org|net)$/);
      expect(Number.isInteger(u.created_timestamp)).toBe(true);
      if (u.stripe_customer_id !== null) expect(u.stripe_customer_id).toMatch(/^cus_[A-Za-z0-9]{14}$/);
    }
    const timestamps = users.map((u) => u.created_timestamp);
    expect(timestamps).toEqual([...timestamps].sort((a, b) => a - b));
    const withoutStripe = users.filter((u) => u.stripe_customer_id === null).length;
    expect(withoutStripe).toBeGreaterThan(50);
    expect(withoutStripe).toBeLessThan(150);
  });
});
