// Observability: exact metric values after a known workload, logs that never hold a secret, the
// per-operation upstream report checked against the simulators' own counters, request ids.
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { type Harness, startHarness } from '../helpers/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** The value of one sample in Prometheus text, matched by name and (a subset of) labels. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const found: Record<string, string> = {};
    for (const pair of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) found[pair[1]!] = pair[2]!;
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(m[3]);
  }
  return undefined;
}

const metricsText = async (harness: Harness) => (await fetch(`${harness.url}/metrics`)).text();

describe('metrics', () => {
  it('shows exact counts after a known workload, with bounded labels', async () => {
    h = await startHarness({ env: { RETRY_BASE_DELAY_MS: '5' } });
    await h.gql('query One { user(id: "usr_0002") { id } }'); // GET /users/:id, cache miss
    await h.gql('query One { user(id: "usr_0002") { id } }'); // cache hit
    await h.gql('query Two { a: user(id: "usr_0003") { id } b: user(id: "usr_0004") { id } }'); // one batch, 2 misses
    h.users.faults.add({ match: { path: /^\/users/ }, status: 503, times: 1 });
    await h.gql('query Three { user(id: "usr_0005") { id } }'); // 503 then success: one retry
    await h.gql('{ nope }'); // validation error
    const bad = JSON.stringify({ id: 'evt_x', type: 'payment_intent.succeeded', data: { object: {} } });
    await fetch(`${h.url}/webhooks/stripe`, {
      method: 'POST',
      headers: { 'stripe-signature': 't=1,v1=00' },
      body: bad,
    });

    const text = await metricsText(h);
    const users = { provider: 'users' };
    expect(
      sample(text, 'junction_upstream_requests_total', {
        ...users,
        route: 'GET /users/:id',
        outcome: 'success',
      }),
    ).toBe(2);
    expect(
      sample(text, 'junction_upstream_requests_total', {
        ...users,
        route: 'GET /users/:id',
        outcome: 'UPSTREAM_UNAVAILABLE',
      }),
    ).toBe(1);
    expect(
      sample(text, 'junction_upstream_requests_total', {
        ...users,
        route: 'GET /users?ids',
        outcome: 'success',
      }),
    ).toBe(1);
    expect(sample(text, 'junction_upstream_retries_total', { ...users, route: 'GET /users/:id' })).toBe(1);
    expect(sample(text, 'junction_cache_events_total', { ...users, outcome: 'hit' })).toBe(1);
    expect(sample(text, 'junction_cache_events_total', { ...users, outcome: 'miss' })).toBe(4);
    expect(sample(text, 'junction_graphql_operations_total', { operation: 'One', outcome: 'success' })).toBe(
      2,
    );
    expect(
      sample(text, 'junction_graphql_operations_total', { operation: 'Three', outcome: 'success' }),
    ).toBe(1);
    expect(
      sample(text, 'junction_graphql_operations_total', { operation: 'anonymous', outcome: 'error' }),
    ).toBe(1);
    expect(sample(text, 'junction_graphql_operation_duration_seconds_count', { operation: 'One' })).toBe(2);
    expect(
      sample(text, 'junction_webhooks_rejected_total', { provider: 'stripe', reason: 'malformed_signature' }),
    ).toBe(1);
    expect(sample(text, 'junction_upstream_circuit_state', { provider: 'users', group: 'users' })).toBe(0);
    expect(sample(text, 'junction_upstream_inflight', users)).toBe(0);
    expect(sample(text, 'junction_ratelimit_tokens', users)).toBeGreaterThan(0);
    expect(
      sample(text, 'junction_upstream_request_duration_seconds_count', { ...users, route: 'GET /users?ids' }),
    ).toBe(1);
    // No label carries an id.
    expect(text).not.toMatch(/usr_\d{4}|cus_|pi_|SM[0-9a-f]{32}/);
  });
});

describe('logs', () => {
  it('never contain a configured secret, a token or an Authorization header', async () => {
    let captured = '';
    const sink = new Writable({
      write(chunk, _enc, done) {
        captured += chunk.toString();
        done();
      },
    });
    h = await startHarness({ logger: createLogger('debug', sink), env: { RETRY_BASE_DELAY_MS: '5' } });
    const admin = await h.adminToken();
    await h.gql(
      '{ me { id billing { id } payments(first: 2) { nodes { id } } messages(first: 2) { nodes { id } } } }',
    );
    h.users.expireTokens(); // forces a 401, a refresh and a retry
    await h.gql('{ user(id: "usr_0009") { id } }');
    h.stripe.faults.add({ match: { path: /^\/v1\// }, status: 500 });
    await h.gql('{ user(id: "usr_0010") { billing { id } } }');
    await h.gql('mutation { sendSms(input: { userId: "usr_0001", body: "hi" }) { message { id } } }');
    await h.gql(
      'mutation { sendEmail(input: { userId: "usr_0001", subject: "s", text: "t" }) { receipt { id } } }',
    );
    await h.gql('{ me { id } }', { token: 'forged.token.value' });
    await fetch(`${h.url}/webhooks/twilio`, {
      method: 'POST',
      headers: { 'x-twilio-signature': 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=', authorization: `Bearer ${admin}` },
      body: 'MessageSid=x',
    });
    await h.twilio.flushCallbacks();
    await h.sendgrid.flushWebhooks();

    expect(captured).toContain('graphql operation');
    expect(captured).toContain('upstream call failed');
    for (const secret of [
      h.users.credentials.clientSecret,
      h.stripe.secretKey,
      h.twilio.authToken,
      h.sendgrid.apiKey,
      h.stripeWebhookSecret,
      admin,
      'utk_',
      'Bearer ey',
      'Basic ',
    ]) {
      expect(captured, `log leaks ${secret.slice(0, 8)}…`).not.toContain(secret);
    }
  });

  it('writes one line per failed upstream call with provider, route, status, attempt and both request ids', async () => {
    let captured = '';
    const sink = new Writable({
      write(chunk, _enc, done) {
        captured += chunk.toString();
        done();
      },
    });
    h = await startHarness({ logger: createLogger('info', sink), env: { RETRY_MAX_ATTEMPTS: '1' } });
    h.stripe.faults.add({ match: { path: /^\/v1\// }, status: 500 });
    await h.gql('{ me { billing { id } } }', { headers: { 'x-request-id': 'req-failing-1' } });
    const failed = captured
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .filter((l) => l.msg === 'upstream call failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({
      provider: 'stripe',
      route: 'GET /v1/customers/:id',
      status: 500,
      attempt: 1,
      code: 'UPSTREAM_UNAVAILABLE',
      requestId: 'req-failing-1',
      upstreamRequestId: expect.stringMatching(/^req_/),
    });
  });

  it('writes one line per operation with its name, duration, upstream calls and error codes', async () => {
    let captured = '';
    const sink = new Writable({
      write(chunk, _enc, done) {
        captured += chunk.toString();
        done();
      },
    });
    h = await startHarness({ logger: createLogger('info', sink) });
    await h.gql('query Probe { me { id billing { id } } }');
    const lines = captured
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .filter((l) => l.msg === 'graphql operation');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      operation: 'Probe',
      outcome: 'success',
      upstreamCalls: 2,
      durationMs: expect.any(Number),
    });
  });
});

describe('upstream report', () => {
  it('matches the simulators’ own request counters', async () => {
    h = await startHarness();
    const res = await h.gql(
      '{ me { id billing { id } payments(first: 3) { nodes { id } } messages(first: 3) { nodes { id } } } }',
      {
        headers: { 'x-junction-upstream-report': '1' },
      },
    );
    expect(res.body.errors).toBeUndefined();
    const report = res.body.extensions.upstream;
    const apiRequests = (reqs: { route: string | undefined }[]) =>
      reqs.filter((r) => r.route !== 'POST /oauth/token').length;
    expect(report.providers.users.calls).toBe(apiRequests(h.users.requests));
    expect(report.providers.stripe.calls).toBe(h.stripe.requests.length);
    expect(report.providers.twilio.calls).toBe(h.twilio.requests.length);
    expect(report.totalCalls).toBe(report.calls.length);
    expect(report.calls[0]).toMatchObject({
      provider: expect.any(String),
      route: expect.any(String),
      status: 200,
      attempt: 1,
      startMs: expect.any(Number),
      durationMs: expect.any(Number),
    });

    const warm = await h.gql('{ me { id billing { id } } }', {
      headers: { 'x-junction-upstream-report': '1' },
    });
    expect(warm.body.extensions.upstream.totalCalls).toBe(0);
    expect(warm.body.extensions.upstream.providers.users.cacheHits).toBe(1);
    const quiet = await h.gql('{ me { id } }');
    expect(quiet.body.extensions?.upstream).toBeUndefined();
  });

  it('in production, shows the report to admins only', async () => {
    h = await startHarness({
      env: {
        NODE_ENV: 'production',
        JWT_SECRET: 'a-production-secret-that-is-long-enough-1234',
        STRIPE_SECRET_KEY: 'sk_x',
        STRIPE_WEBHOOK_SECRET: 'whsec_x',
        GITHUB_WEBHOOK_SECRET: 'github_x',
        TWILIO_ACCOUNT_SID: 'AC00000000000000000000000000000000',
        TWILIO_AUTH_TOKEN: 'x',
        TWILIO_FROM_NUMBER: '+15005550006',
        PUBLIC_BASE_URL: 'https://junction.example.com',
        SENDGRID_API_KEY: 'SG.x',
        SENDGRID_FROM_EMAIL: 'a@b.c',
        SENDGRID_WEBHOOK_PUBLIC_KEY:
          'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEkBP93U+to8skDfqHs69p9iz5jQ/MwTLUdd/qaaYkFYcVeMXLTdz1YHGuEVE83chBKwGdLTM1PgA8dpf9NbXzQ==',
        DATABASE_URL: 'postgres://junction@127.0.0.1:5432/junction', // config only: nothing connects yet
        TOKEN_ENCRYPTION_KEYS: 'k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
      },
    });
    const headers = { 'x-junction-upstream-report': '1' };
    const user = await h.gql('{ me { id } }', { headers, token: await h.token('usr_0005') });
    expect(user.body.data.me.id).toBe('usr_0005');
    expect(user.body.extensions?.upstream).toBeUndefined();
    const admin = await h.gql('{ me { id } }', { headers });
    expect(admin.body.extensions.upstream.totalCalls).toBe(1);
  });
});

describe('request ids', () => {
  it('round-trip: client -> Junction -> every provider -> response', async () => {
    h = await startHarness();
    const res = await h.gql('{ me { billing { id } } }', { headers: { 'x-request-id': 'req-roundtrip-7' } });
    expect(res.headers.get('x-request-id')).toBe('req-roundtrip-7');
    expect(h.users.requests.find((r) => r.route !== 'POST /oauth/token')!.headers['x-request-id']).toBe(
      'req-roundtrip-7',
    );
    expect(h.stripe.requests[0]!.headers['x-request-id']).toBe('req-roundtrip-7');
    const generated = await h.gql('{ _junction }', { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
