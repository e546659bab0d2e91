// The public edge: one list of rules (src/graphql/edge.ts) whose hostile cases run as a table over
// HTTP and the WebSocket (each refusal a 4xx / an `error` message with a named limit, before any
// upstream call), what the cost really counts, per-client budgets, then body size, batching,
// production hardening, persisted queries and GraphQL over HTTP.
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { EdgeRuleName } from '../../src/graphql/edge.js';
import { type Harness, startHarness } from '../helpers/harness.js';
import { connectWs, until } from '../helpers/ws.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const upstreamCalls = (harness: Harness) =>
  harness.users.requests.length +
  harness.stripe.requests.length +
  harness.twilio.requests.length +
  harness.sendgrid.requests.length;

const PRODUCTION_ENV = {
  NODE_ENV: 'production',
  JWT_SECRET: 'a-production-secret-that-is-long-enough-1234',
  STRIPE_SECRET_KEY: 'sk_test_config_only',
  STRIPE_WEBHOOK_SECRET: 'whsec_config_only',
  GITHUB_WEBHOOK_SECRET: 'github_config_only',
  TWILIO_ACCOUNT_SID: 'AC00000000000000000000000000000000',
  TWILIO_AUTH_TOKEN: 'config-only',
  TWILIO_FROM_NUMBER: '+15005550006',
  PUBLIC_BASE_URL: 'https://junction.example.com',
  SENDGRID_API_KEY: 'SG.config-only',
  SENDGRID_FROM_EMAIL: 'noreply@example.com',
  SENDGRID_WEBHOOK_PUBLIC_KEY:
    'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEkBP93U+to8skDfqHs69p9iz5jQ/MwTLUdd/qaaYkFYcVeMXLTdz1YHGuEVE83chBKwGdLTM1PgA8dpf9NbXzQ==',
  DATABASE_URL: 'postgres://junction@127.0.0.1:5432/junction', // config only: nothing connects yet
  TOKEN_ENCRYPTION_KEYS: 'k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
};

/** A persisted query manifest registering `body`, in a fresh temporary file. */
function manifestFile(body: string): string {
  const id = createHash('sha256').update(body).digest('hex');
  const dir = mkdtempSync(join(tmpdir(), 'junction-allowlist-'));
  const path = join(dir, 'manifest.json');
  writeFileSync(
    path,
    JSON.stringify({
      format: 'apollo-persisted-query-manifest',
      version: 1,
      operations: [{ id, name: 'Me', type: 'query', body }],
    }),
  );
  return path;
}

const SUBSCRIBE_FIELDS = (fields: string) =>
  `subscription { paymentUpdated(userId: "usr_0001") { ${fields} } }`;

interface EdgeCase {
  env?: Record<string, string>;
  /** Accepted operations sent first (the same query, or subscription), to spend a budget. */
  warmup?: number;
  query: string;
  /** The same rule's hostile case as a subscription (only the WebSocket serves those). */
  subscription?: string;
  /** HTTP status of the refusal. */
  status: number;
  /** What the first error's extensions must hold, on every transport. */
  extensions: Record<string, unknown>;
  /** What the first error's message must (not) say. */
  message?: RegExp;
  notMessage?: RegExp;
}

/** One hostile case per rule of the edge: a rule without a case fails the first test below. */
const CASES: Record<EdgeRuleName, EdgeCase> = {
  maxTokens: {
    query: `{ _entities(representations: [${Array.from({ length: 1000 }, (_, i) => `{ __typename: "User", id: "usr_${i}" }`).join(', ')}]) { __typename } }`,
    subscription: SUBSCRIBE_FIELDS('id '.repeat(5001)),
    status: 400,
    extensions: { code: 'GRAPHQL_PARSE_FAILED', limit: 'maxTokens' },
  },
  maxDepth: {
    env: { GRAPHQL_MAX_DEPTH: '2' },
    query: '{ users(first: 1) { edges { node { id } } } }',
    subscription: SUBSCRIBE_FIELDS('amount { amount }'),
    status: 400,
    extensions: { code: 'GRAPHQL_VALIDATION_FAILED', limit: 'maxDepth' },
  },
  maxAliases: {
    query: `{ ${Array.from({ length: 101 }, (_, i) => `a${i}: _junction`).join(' ')} }`,
    subscription: SUBSCRIBE_FIELDS(Array.from({ length: 101 }, (_, i) => `a${i}: id`).join(' ')),
    status: 400,
    extensions: { code: 'GRAPHQL_VALIDATION_FAILED', limit: 'maxAliases' },
  },
  maxDirectives: {
    query: `{ _junction ${'@include(if: true) '.repeat(51)} }`,
    subscription: SUBSCRIBE_FIELDS(`id ${'@include(if: true) '.repeat(51)}`),
    status: 400,
    extensions: { code: 'GRAPHQL_VALIDATION_FAILED', limit: 'maxDirectives' },
  },
  introspection: {
    env: { GRAPHQL_INTROSPECTION: 'false' },
    query: '{ __schema { types { name } } }',
    status: 400,
    extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    message: /introspection/i,
  },
  suggestions: {
    env: PRODUCTION_ENV,
    query: '{ usr(id: "usr_0001") { id } }',
    subscription: 'subscription { paymentUpdatd(userId: "usr_0001") { id } }',
    status: 400,
    extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    message: /Cannot query field/,
    notMessage: /Did you mean/,
  },
  maxCost: {
    env: { GRAPHQL_MAX_COST: '4' },
    query: '{ users(first: 2) { nodes { id } } }', // 1 + 2 * (1 + 1) = 5
    subscription: SUBSCRIBE_FIELDS('id status amount { amount }'), // 1 + 1 + 1 + (1 + 1) = 5
    status: 400,
    extensions: { code: 'GRAPHQL_VALIDATION_FAILED', limit: 'maxCost', max: 4, cost: 5 },
  },
  allowlist: {
    env: { GRAPHQL_ALLOWLIST: manifestFile('query Me { me { id } }') },
    query: '{ user(id: "usr_0002") { id email } }',
    subscription: SUBSCRIBE_FIELDS('id'),
    status: 400,
    extensions: { code: 'BAD_REQUEST', reason: 'OPERATION_NOT_ALLOWLISTED' },
  },
  clientRateLimit: {
    env: { CLIENT_RATE_LIMIT_PER_MINUTE: '1' },
    warmup: 1,
    query: '{ _junction }',
    subscription: SUBSCRIBE_FIELDS('id'),
    status: 429,
    extensions: { code: 'RATE_LIMITED', limit: 'clientRateLimit', retryAfter: expect.any(Number) },
  },
};

function expectRefusal(errors: any[] | undefined, c: EdgeCase) {
  expect(errors?.length).toBeGreaterThan(0);
  // graphql-js may add its own errors (a repeated @include); the rule's refusal is among them.
  const refusal = errors!.find((e) => expect.objectContaining(c.extensions).asymmetricMatch(e.extensions));
  expect(refusal, JSON.stringify(errors)).toBeDefined();
  for (const error of errors!) {
    expect(error.extensions.code).toEqual(expect.any(String));
    expect(error.extensions.http).toBeUndefined();
  }
  if (c.message) expect(refusal.message).toMatch(c.message);
  if (c.notMessage) for (const error of errors!) expect(error.message).not.toMatch(c.notMessage);
}

describe('the edge: one list of rules, the same refusals over HTTP and the WebSocket', () => {
  it('has a hostile case in this table for every rule in the list', async () => {
    h = await startHarness();
    expect(h.app.edge.rules.map((r) => r.name).sort()).toEqual(Object.keys(CASES).sort());
  });

  describe.each(Object.entries(CASES) as Array<[EdgeRuleName, EdgeCase]>)('%s', (_name, c) => {
    it('refuses its hostile query over HTTP, before any upstream call', async () => {
      h = await startHarness({ env: c.env ?? {} });
      for (let i = 0; i < (c.warmup ?? 0); i += 1) expect((await h.gql(c.query)).status).toBe(200);
      const res = await h.gql(c.query);
      expect(res.status).toBe(c.status);
      expect(res.body.data).toBeUndefined();
      expectRefusal(res.body.errors, c);
      if (c.status === 429)
        expect(Number(res.headers.get('retry-after'))).toBe(res.body.errors![0].extensions.retryAfter);
      expect(upstreamCalls(h)).toBe(0);
    });

    it('refuses it over the WebSocket with an `error` message, and the socket stays open', async () => {
      h = await startHarness({ env: c.env ?? {} });
      const ws = await connectWs(h.url, { token: await h.adminToken() });
      for (let i = 0; i < (c.warmup ?? 0); i += 1)
        expect(await ws.subscribe({ query: c.query }).ended).toEqual({ kind: 'complete' });
      const op = ws.subscribe({ query: c.query });
      const ended = await op.ended;
      expect(ended.kind).toBe('error');
      expectRefusal((ended as { errors: any[] }).errors, c);
      expect(op.results).toEqual([]);
      expect(upstreamCalls(h)).toBe(0);
      expect(ws.socket.readyState).toBe(ws.socket.OPEN);
      await ws.close();
    });

    it.runIf(c.subscription !== undefined)(
      'refuses its hostile subscription over the WebSocket',
      async () => {
        h = await startHarness({ env: c.env ?? {} });
        const ws = await connectWs(h.url, { token: await h.adminToken() });
        for (let i = 0; i < (c.warmup ?? 0); i += 1) {
          ws.subscribe({ query: c.subscription! });
          await until(() => h!.app.pubsub.subscriberCount('payment:usr_0001') === i + 1);
        }
        const ended = await ws.subscribe({ query: c.subscription! }).ended;
        expect(ended.kind).toBe('error');
        expectRefusal((ended as { errors: any[] }).errors, c);
        expect(h.app.pubsub.subscriberCount('payment:usr_0001')).toBe(c.warmup ?? 0);
        await ws.close();
      },
    );
  });
});

describe('what the cost counts', () => {
  it('counts `first` given through variables', async () => {
    h = await startHarness();
    const res = await h.gql(
      'query($n: Int) { users(first: $n) { nodes { payments(first: $n) { nodes { id } } } } }',
      { variables: { n: 100 } },
    );
    expect(res.body.errors![0].extensions.limit).toBe('maxCost');
    expect(upstreamCalls(h)).toBe(0);
  });

  it('counts a variable’s declared default when the variable is not sent', async () => {
    h = await startHarness();
    const res = await h.gql(
      'query($n: Int = 100) { users(first: $n) { nodes { payments(first: $n) { nodes { id } } } } }',
    );
    expect(res.status).toBe(400);
    expect(res.body.errors![0].extensions).toMatchObject({ limit: 'maxCost', cost: 20_201 });
    expect(upstreamCalls(h)).toBe(0);
  });

  it('counts the argument’s default when a nullable variable is neither sent nor defaulted', async () => {
    h = await startHarness({ env: { GRAPHQL_MAX_COST: '400' } });
    // users defaults to 20, payments to 10: 1 + 20 * (1 + 1 + 10 * 2) = 441, not 5.
    const res = await h.gql(
      'query($n: Int) { users(first: $n) { nodes { payments(first: $n) { nodes { id } } } } }',
    );
    expect(res.body.errors![0].extensions).toMatchObject({ limit: 'maxCost', cost: 441 });
    expect(upstreamCalls(h)).toBe(0);
  });

  it('counts _entities once per representation, by the fragment of its type', async () => {
    h = await startHarness({ env: { GRAPHQL_MAX_COST: '2000' } });
    const query =
      'query($r: [_Any!]!) { _entities(representations: $r) { ... on Payment { id status amount { amount currency } } ... on User { id } } }';
    const payments = Array.from({ length: 500 }, (_, i) => ({ __typename: 'Payment', id: `pi_${i}` }));
    const refused = await h.gql(query, { variables: { r: payments } });
    // 1 + 500 * (1 + 1 + (1 + 2)): each Payment reference costs its own fragment, not the User one.
    expect(refused.body.errors![0].extensions).toMatchObject({ limit: 'maxCost', cost: 2501 });
    expect(upstreamCalls(h)).toBe(0);
    const users = Array.from({ length: 100 }, (_, i) => ({
      __typename: 'User',
      id: `usr_${String(i + 1).padStart(4, '0')}`,
    }));
    const served = await h.gql(query, { variables: { r: users } });
    expect(served.body.errors).toBeUndefined();
    expect(served.body.data._entities).toHaveLength(100);
  });

  it('lets a legitimate connection query through and counts first in the cost', async () => {
    // 100 Stripe calls: Stripe's default 90/s budget would make this test about throttling under load.
    h = await startHarness({ env: { GRAPHQL_MAX_COST: '600', STRIPE_RATE_LIMIT_PER_SECOND: '100000' } });
    const ok = await h.gql(
      '{ users(first: 50) { nodes { billing { id } payments(first: 3) { nodes { id } } } } }',
    );
    expect(ok.body.errors).toBeUndefined();
    const tooMuch = await h.gql(
      '{ users(first: 60) { nodes { billing { id } payments(first: 3) { nodes { id } } } } }',
    );
    expect(tooMuch.body.errors![0].extensions).toMatchObject({ limit: 'maxCost', max: 600 });
  });
});

describe('per-client budgets', () => {
  it('is one budget per viewer across HTTP and the WebSocket', async () => {
    h = await startHarness({ env: { CLIENT_RATE_LIMIT_PER_MINUTE: '3' } });
    const token = await h.token('usr_0002');
    const ws = await connectWs(h.url, { token });
    expect((await h.gql('{ _junction }', { token })).status).toBe(200);
    expect(await ws.subscribe({ query: '{ _junction }' }).ended).toEqual({ kind: 'complete' });
    expect((await h.gql('{ _junction }', { token })).status).toBe(200);
    const overSocket = await ws.subscribe({ query: '{ _junction }' }).ended;
    expect(overSocket).toMatchObject({ kind: 'error', errors: [{ extensions: { code: 'RATE_LIMITED' } }] });
    expect((await h.gql('{ _junction }', { token })).status).toBe(429);
    // Another viewer has a budget of its own.
    expect((await h.gql('{ _junction }', { token: await h.token('usr_0003') })).status).toBe(200);
    await ws.close();
    const text = await (await fetch(`${h.url}/metrics`)).text();
    expect(text).toMatch(/junction_graphql_refused_total\{reason="clientRateLimit",transport="ws"\} 1/);
    expect(text).toMatch(/junction_graphql_refused_total\{reason="clientRateLimit",transport="http"\} 1/);
  });

  it('counts anonymous requests by address, apart from signed-in viewers on that address', async () => {
    h = await startHarness({ env: { CLIENT_RATE_LIMIT_PER_MINUTE: '2' } });
    expect((await h.gql('{ _junction }', { token: null })).status).toBe(200);
    expect((await h.gql('{ _junction }', { token: null })).status).toBe(200);
    const refused = await h.gql('{ _junction }', { token: null });
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({
      errors: [
        {
          message: expect.stringMatching(/Too many requests/),
          extensions: { code: 'RATE_LIMITED', limit: 'clientRateLimit', retryAfter: expect.any(Number) },
        },
      ],
    });
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect((await h.gql('{ _junction }')).status).toBe(200);
  });

  it('lets a light client through while clients sending maximal-cost queries run out of budget', async () => {
    // 1 + 100 * (1 + (1 + 48 * 2)) = 9801, under GRAPHQL_MAX_COST (10,000): 99 requests' worth each.
    const heavy = '{ users(first: 100) { nodes { payments(first: 48) { nodes { id } } } } }';
    h = await startHarness({
      env: { CLIENT_RATE_LIMIT_PER_MINUTE: '300', STRIPE_RATE_LIMIT_PER_SECOND: '100000' },
    });
    const heavyTokens = await Promise.all(
      Array.from({ length: 6 }, (_, i) => h!.token(`usr_01${String(i).padStart(2, '0')}`, { admin: true })),
    );
    const lightToken = await h.token('usr_0002');
    const heavyClient = async (token: string) => {
      const statuses: number[] = [];
      for (let i = 0; i < 8; i += 1) {
        const res = await h!.gql(heavy, { token });
        statuses.push(res.status);
        if (res.status === 429) expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      }
      return statuses;
    };
    const lightClient = async () => {
      const outcomes: string[] = [];
      for (let i = 0; i < 30; i += 1) {
        const res = await h!.gql('{ me { id name } }', { token: lightToken });
        outcomes.push(res.status === 200 && !res.body.errors ? 'served' : `${res.status}`);
      }
      return outcomes;
    };
    const [light, ...heavyResults] = await Promise.all([lightClient(), ...heavyTokens.map(heavyClient)]);
    expect(light).toEqual(Array(30).fill('served'));
    for (const statuses of heavyResults) {
      // 3 * 99 = 297 of 300: the fourth maximal query no longer fits; each refusal is immediate.
      expect(statuses).toEqual([200, 200, 200, 429, 429, 429, 429, 429]);
    }
  });
});

describe('HTTP edge', () => {
  it('answers 413 to a body over 1 MiB', async () => {
    h = await startHarness();
    const res = await fetch(`${h.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ _junction }`, variables: { pad: 'x'.repeat(1_100_000) } }),
    });
    expect(res.status).toBe(413);
  });

  it('refuses batched requests unless enabled', async () => {
    h = await startHarness();
    const batch = JSON.stringify([{ query: '{ _junction }' }, { query: '{ _junction }' }]);
    const off = await fetch(`${h.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: batch,
    });
    expect(off.status).toBe(400);
    await h.close();
    h = await startHarness({ env: { GRAPHQL_BATCHING: 'true' } });
    const on = await fetch(`${h.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: batch,
    });
    expect(on.status).toBe(200);
    expect(await on.json()).toHaveLength(2);
  });

  it('releases the context of a request Apollo refuses before running it (a batch, batching off)', async () => {
    h = await startHarness();
    const token = await h.adminToken();
    for (const body of ['[{"query":"{ _junction }"}]', '{"query": 5}']) {
      const res = await fetch(`${h.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body,
      });
      expect(res.status).toBe(400);
    }
    const gauge = async () =>
      /junction_graphql_operations_in_flight\{transport="http"\} (\d+)/.exec(
        await (await fetch(`${h!.url}/metrics`)).text(),
      )?.[1];
    await until(async () => (await gauge()) === '0');
  });

  it('refuses a mutation sent over GET, and a simple (CSRF-able) GET without a preflight header', async () => {
    h = await startHarness();
    const token = await h.adminToken();
    const query = encodeURIComponent(
      'mutation { sendSms(input: { userId: "usr_0001", body: "x" }) { message { id } } }',
    );
    const get = await fetch(`${h.url}/graphql?query=${query}`, {
      headers: { authorization: `Bearer ${token}`, 'apollo-require-preflight': 'true' },
    });
    expect(get.status).toBe(405);
    expect(h.twilio.requests).toHaveLength(0);
    const csrf = await fetch(`${h.url}/graphql?query=${encodeURIComponent('{ _junction }')}`);
    expect(csrf.status).toBe(400);
  });

  it('speaks application/graphql-response+json when asked, with 4xx for invalid requests', async () => {
    h = await startHarness();
    const ok = await fetch(`${h.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body: JSON.stringify({ query: '{ _junction }' }),
    });
    expect(ok.headers.get('content-type')).toContain('application/graphql-response+json');
    const invalid = await fetch(`${h.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body: JSON.stringify({ query: '{ nope }' }),
    });
    expect(invalid.status).toBe(400);
  });
});

describe('production mode', () => {
  it('refuses introspection, makes no suggestions, shows no stack traces, masks unexpected errors', async () => {
    h = await startHarness({ env: PRODUCTION_ENV });
    const token = await h.adminToken();
    const intro = await h.gql('{ __schema { types { name } } }', { token });
    expect(intro.status).toBe(400);
    expect(intro.text).toMatch(/introspection/i);
    const typo = await h.gql('{ usr(id: "usr_0001") { id } }', { token });
    expect(typo.status).toBe(400);
    expect(typo.text).not.toMatch(/Did you mean/);
    const failing = await h.gql('{ me { id } }', { token: 'garbage.token.here' });
    expect(failing.text).not.toContain('stacktrace');
    h.users.faults.add({ match: { path: /^\/users/ }, status: 500 });
    const upstream = await h.gql('{ user(id: "usr_0002") { id } }', { token });
    expect(upstream.text).not.toContain('stacktrace');
    expect(upstream.text).not.toContain('    at ');
  });
});

describe('persisted queries', () => {
  it('registers and runs automatic persisted queries by hash', async () => {
    h = await startHarness();
    const query = '{ _junction }';
    const hash = createHash('sha256').update(query).digest('hex');
    const ext = (q?: string) =>
      JSON.stringify({
        ...(q ? { query: q } : {}),
        extensions: { persistedQuery: { version: 1, sha256Hash: hash } },
      });
    const post = (body: string) =>
      fetch(`${h!.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const miss = await post(ext());
    expect(((await miss.json()) as any).errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    expect((await (await post(ext(query))).json()) as any).toEqual({ data: { _junction: true } });
    expect((await (await post(ext())).json()) as any).toEqual({ data: { _junction: true } });
  });

  it('in allowlist mode runs registered operations (by text or hash) and rejects others', async () => {
    const registered = 'query Me { me { id } }';
    const id = createHash('sha256').update(registered).digest('hex');
    const dir = mkdtempSync(join(tmpdir(), 'junction-allowlist-'));
    const path = join(dir, 'manifest.json');
    writeFileSync(
      path,
      JSON.stringify({
        format: 'apollo-persisted-query-manifest',
        version: 1,
        operations: [{ id, name: 'Me', type: 'query', body: registered }],
      }),
    );
    h = await startHarness({ env: { GRAPHQL_ALLOWLIST: path } });
    const byText = await h.gql(registered);
    expect(byText.body.data).toEqual({ me: { id: 'usr_0001' } });
    const token = await h.adminToken();
    const byHash = await fetch(`${h.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: id } } }),
    });
    expect(((await byHash.json()) as any).data).toEqual({ me: { id: 'usr_0001' } });
    const unknown = await h.gql('{ user(id: "usr_0002") { id email } }');
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors![0].extensions).toMatchObject({ reason: 'OPERATION_NOT_ALLOWLISTED' });
    expect(
      h.users.requests.filter((r) => r.query.get('ids')?.includes('usr_0002') || r.path.endsWith('usr_0002')),
    ).toHaveLength(0);
  });
});
