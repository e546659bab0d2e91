// The public edge: hostile-query limits (each a 4xx with a named limit, before any upstream call),
// body size, batching, production hardening, persisted queries and GraphQL over HTTP.
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from '../helpers/harness.js';

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
  TWILIO_ACCOUNT_SID: 'AC00000000000000000000000000000000',
  TWILIO_AUTH_TOKEN: 'config-only',
  TWILIO_FROM_NUMBER: '+15005550006',
  PUBLIC_BASE_URL: 'https://junction.example.com',
  SENDGRID_API_KEY: 'SG.config-only',
  SENDGRID_FROM_EMAIL: 'noreply@example.com',
  SENDGRID_WEBHOOK_PUBLIC_KEY: 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE',
};

describe('query limits', () => {
  it.each([
    ['maxDepth', { GRAPHQL_MAX_DEPTH: '3' }, '{ users(first: 1) { edges { node { id } } } }'],
    ['maxAliases', {}, `{ ${Array.from({ length: 101 }, (_, i) => `a${i}: _junction`).join(' ')} }`],
    ['maxDirectives', {}, `{ _junction ${'@include(if: true) '.repeat(51)} }`],
    ['maxCost', {}, '{ users(first: 100) { nodes { payments(first: 100) { nodes { id } } } } }'],
  ])(
    'refuses a query over %s with a 400 naming the limit, before any upstream call',
    async (limit, env, query) => {
      h = await startHarness({ env });
      const res = await h.gql(query);
      expect(res.status).toBe(400);
      expect(res.body.data).toBeUndefined();
      expect(res.body.errors![0].extensions).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED', limit });
      expect(upstreamCalls(h)).toBe(0);
    },
  );

  it('refuses a document over maxTokens', async () => {
    h = await startHarness();
    const reps = Array.from({ length: 1000 }, (_, i) => `{ __typename: "User", id: "usr_${i}" }`).join(', ');
    const res = await h.gql(`{ _entities(representations: [${reps}]) { __typename } }`);
    expect(res.status).toBe(400);
    expect(res.body.errors![0].extensions).toMatchObject({
      code: 'GRAPHQL_PARSE_FAILED',
      limit: 'maxTokens',
    });
    expect(upstreamCalls(h)).toBe(0);
  });

  it('lets a legitimate connection query through and counts first in the cost', async () => {
    h = await startHarness({ env: { GRAPHQL_MAX_COST: '600' } });
    const ok = await h.gql(
      '{ users(first: 50) { nodes { billing { id } payments(first: 3) { nodes { id } } } } }',
    );
    expect(ok.body.errors).toBeUndefined();
    const tooMuch = await h.gql(
      '{ users(first: 60) { nodes { billing { id } payments(first: 3) { nodes { id } } } } }',
    );
    expect(tooMuch.body.errors![0].extensions).toMatchObject({ limit: 'maxCost', max: 600 });
  });

  it('counts `first` given through variables', async () => {
    h = await startHarness();
    const res = await h.gql(
      'query($n: Int) { users(first: $n) { nodes { payments(first: $n) { nodes { id } } } } }',
      { variables: { n: 100 } },
    );
    expect(res.body.errors![0].extensions.limit).toBe('maxCost');
    expect(upstreamCalls(h)).toBe(0);
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
