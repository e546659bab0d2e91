// GraphQL over the WebSocket holds what HTTP holds: the error contract (codes, masking), the
// operation log line and metrics, the deadline and the release of its timer; and what only a socket
// needs: caps on operations per socket and sockets per viewer, and a close when the token expires.
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { Payment } from '../../src/models/billing.js';
import { createLogger } from '../../src/observability/logger.js';
import { type Harness, startHarness } from '../helpers/harness.js';
import { connectWs, until, type WsMessage } from '../helpers/ws.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

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

const PAYMENT_UPDATED = 'subscription Watch { paymentUpdated(userId: "usr_0001") { id status } }';

const payment = (id: string): Payment => ({
  id,
  customerId: 'cus_1',
  userId: 'usr_0001',
  amount: { amount: 100, currency: 'usd' },
  amountReceived: { amount: 0, currency: 'usd' },
  status: 'PROCESSING',
  description: null,
  createdAt: new Date(0),
  canceledAt: null,
  failureCode: null,
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

function captureLogs() {
  const lines: any[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return {
    logger: createLogger('info', sink),
    all: () => lines,
    operations: () => lines.filter((l) => l.msg === 'graphql operation'),
  };
}

describe('operations over the WebSocket', () => {
  it('answer queries and mutations like HTTP, with the same log line and metrics', async () => {
    const logs = captureLogs();
    h = await startHarness({ logger: logs.logger });
    const ws = await connectWs(h.url, { token: await h.adminToken() });
    const query = ws.subscribe({ query: 'query Probe { me { id billing { id } } }' });
    expect(await query.ended).toEqual({ kind: 'complete' });
    expect(query.results).toEqual([
      { data: { me: { id: 'usr_0001', billing: { id: expect.any(String) } } } },
    ]);
    const mutation = ws.subscribe({
      query:
        'mutation Mail { sendEmail(input: { to: "a@example.com", subject: "hi", text: "x" }) { receipt { id } } }',
    });
    expect(await mutation.ended).toEqual({ kind: 'complete' });
    expect(mutation.results[0].data.sendEmail.receipt.id).toEqual(expect.any(String));
    await ws.close();

    const [probe, mail] = logs.operations();
    expect(probe).toMatchObject({
      operation: 'Probe',
      transport: 'ws',
      outcome: 'success',
      upstreamCalls: 2,
    });
    expect(probe.reqId).toEqual(expect.any(String));
    expect(mail).toMatchObject({ operation: 'Mail', transport: 'ws', outcome: 'success', upstreamCalls: 1 });
    const text = await metricsText(h);
    expect(
      sample(text, 'junction_graphql_operations_total', { operation: 'Probe', outcome: 'success' }),
    ).toBe(1);
    expect(sample(text, 'junction_graphql_operations_total', { operation: 'Mail', outcome: 'success' })).toBe(
      1,
    );
    expect(sample(text, 'junction_graphql_operations_in_flight', { transport: 'ws' })).toBe(0);
  });

  it('report a subscription when it ends: one log line, its metrics, its context released', async () => {
    const logs = captureLogs();
    h = await startHarness({ logger: logs.logger });
    const ws = await connectWs(h.url, { token: await h.adminToken() });
    const sub = ws.subscribe({ query: PAYMENT_UPDATED });
    await until(() => h!.app.pubsub.subscriberCount('payment:usr_0001') === 1);
    expect(sample(await metricsText(h), 'junction_graphql_operations_in_flight', { transport: 'ws' })).toBe(
      1,
    );
    expect(logs.operations()).toEqual([]); // not while it runs
    h.app.pubsub.publish('payment:usr_0001', payment('pi_1'));
    expect(await sub.next()).toEqual({ data: { paymentUpdated: { id: 'pi_1', status: 'PROCESSING' } } });
    ws.send({ id: sub.id, type: 'complete' });
    await until(() => logs.operations().length === 1);
    expect(logs.operations()[0]).toMatchObject({ operation: 'Watch', transport: 'ws', outcome: 'success' });
    expect(h.app.pubsub.subscriberCount('payment:usr_0001')).toBe(0);
    const text = await metricsText(h);
    expect(
      sample(text, 'junction_graphql_operations_total', { operation: 'Watch', outcome: 'success' }),
    ).toBe(1);
    expect(sample(text, 'junction_graphql_operations_in_flight', { transport: 'ws' })).toBe(0);
    await ws.close();
  });

  it('keep the error contract: every error has a code, variable errors are BAD_USER_INPUT', async () => {
    h = await startHarness();
    const ws = await connectWs(h.url, { token: await h.token('usr_0002') });
    const forbidden = ws.subscribe({ query: PAYMENT_UPDATED });
    expect(await forbidden.next()).toMatchObject({ errors: [{ extensions: { code: 'FORBIDDEN' } }] });
    const missing = ws.subscribe({ query: 'subscription($u: ID!) { paymentUpdated(userId: $u) { id } }' });
    expect(await missing.next()).toMatchObject({ errors: [{ extensions: { code: 'BAD_USER_INPUT' } }] });
    const overHttpOnly = await h.gql(PAYMENT_UPDATED);
    expect(overHttpOnly.status).toBe(400);
    expect(overHttpOnly.body.errors![0].extensions.code).toBe('BAD_REQUEST');
    await ws.close();
  });

  it('in production, mask an unexpected error in a subscription’s event and log it with the request id', async () => {
    const logs = captureLogs();
    h = await startHarness({ env: PRODUCTION_ENV, logger: logs.logger });
    const ws = await connectWs(h.url, { token: await h.adminToken() });
    const sub = ws.subscribe({
      query: 'subscription { paymentUpdated(userId: "usr_0001") { id createdAt } }',
    });
    await until(() => h!.app.pubsub.subscriberCount('payment:usr_0001') === 1);
    // An internal bug: a Date that cannot be serialized (DateTime throws a TypeError).
    h.app.pubsub.publish('payment:usr_0001', { ...payment('pi_bad'), createdAt: new Date(Number.NaN) });
    expect(await sub.next()).toEqual({
      data: null,
      errors: [
        {
          message: 'Internal server error',
          locations: [{ line: 1, column: 56 }],
          path: ['paymentUpdated', 'createdAt'],
          extensions: { code: 'INTERNAL_SERVER_ERROR' },
        },
      ],
    });
    const logged = logs.all().find((l) => l.msg === 'unexpected error');
    expect(logged).toMatchObject({
      requestId: expect.any(String),
      err: { message: expect.stringMatching(/invalid date/) },
    });
    await ws.close();
  });

  it('in allowlist mode, run registered operations by text or by hash (an empty query with the hash)', async () => {
    const registered = 'query Me { me { id } }';
    const id = createHash('sha256').update(registered).digest('hex');
    const path = join(mkdtempSync(join(tmpdir(), 'junction-allowlist-')), 'manifest.json');
    writeFileSync(
      path,
      JSON.stringify({
        format: 'apollo-persisted-query-manifest',
        version: 1,
        operations: [{ id, name: 'Me', type: 'query', body: registered }],
      }),
    );
    h = await startHarness({ env: { GRAPHQL_ALLOWLIST: path } });
    const ws = await connectWs(h.url, { token: await h.adminToken() });
    const byText = ws.subscribe({ query: registered });
    const byHash = ws.subscribe({
      query: '',
      extensions: { persistedQuery: { version: 1, sha256Hash: id } },
    });
    for (const op of [byText, byHash]) {
      expect(await op.ended).toEqual({ kind: 'complete' });
      expect(op.results).toEqual([{ data: { me: { id: 'usr_0001' } } }]);
    }
    const unknownHash = await ws.subscribe({
      query: '',
      extensions: { persistedQuery: { version: 1, sha256Hash: '0'.repeat(64) } },
    }).ended;
    expect(unknownHash).toMatchObject({
      kind: 'error',
      errors: [{ extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } }],
    });
    await ws.close();
  });

  it('hold the operation deadline, and release its timer when they end', async () => {
    h = await startHarness({ env: { OPERATION_TIMEOUT_MS: '300', RETRY_MAX_ATTEMPTS: '1' } });
    h.users.faults.add({ match: { path: /^\/users/ }, hang: true });
    const ws = await connectWs(h.url, { token: await h.adminToken() });
    const started = Date.now();
    const op = ws.subscribe({ query: '{ user(id: "usr_0002") { id } }' });
    expect(await op.ended).toEqual({ kind: 'complete' });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(op.results[0].errors[0].extensions.code).toBe('UPSTREAM_TIMEOUT');
    h.users.faults.clear();
    for (let i = 0; i < 5; i += 1) await ws.subscribe({ query: '{ _junction }' }).ended;
    expect(sample(await metricsText(h), 'junction_graphql_operations_in_flight', { transport: 'ws' })).toBe(
      0,
    );
    await ws.close();
  });
});

describe('WebSocket caps', () => {
  it('runs at most GRAPHQL_WS_MAX_SUBSCRIPTIONS of 20,000 subscribe messages; the rest get an error, the socket stays', async () => {
    h = await startHarness();
    const ws = await connectWs(h.url, { token: await h.adminToken() });
    const listenersBefore = h.app.subscriptions.stats().socketListeners;
    const errors: WsMessage[] = [];
    ws.socket.on('message', (data) => {
      const message = JSON.parse(data.toString()) as WsMessage;
      if (message.type === 'error') errors.push(message);
    });
    const payload = { query: PAYMENT_UPDATED };
    for (let i = 1; i <= 20_000; i += 1) ws.send({ id: `s${i}`, type: 'subscribe', payload });
    await until(() => errors.length === 19_980, 15_000);
    expect(errors[0]!.payload[0].extensions).toEqual({ code: 'RATE_LIMITED', limit: 'maxSubscriptions' });
    expect(h.app.pubsub.subscriberCount('payment:usr_0001')).toBe(20);
    const stats = h.app.subscriptions.stats();
    expect(stats).toMatchObject({ sockets: 1, operations: 20 });
    // No listener per subscription: the server's socket has as many as it had with none.
    expect(stats.socketListeners).toBe(listenersBefore);
    expect(ws.socket.readyState).toBe(ws.socket.OPEN);
    // Completing one frees its slot.
    ws.send({ id: 's1', type: 'complete' });
    await until(() => h!.app.pubsub.subscriberCount('payment:usr_0001') === 19);
    ws.subscribe({ query: PAYMENT_UPDATED });
    await until(() => h!.app.pubsub.subscriberCount('payment:usr_0001') === 20);
    expect(errors).toHaveLength(19_980);
    await ws.close();
    await until(() => h!.app.pubsub.subscriberCount('payment:usr_0001') === 0);
    expect(h.app.subscriptions.stats()).toMatchObject({ sockets: 0, operations: 0 });
    expect(
      sample(await metricsText(h), 'junction_graphql_refused_total', { reason: 'maxSubscriptions' }),
    ).toBe(19_980);
  });

  it('holds at most GRAPHQL_WS_MAX_CONNECTIONS_PER_VIEWER sockets per viewer, and frees a place on close', async () => {
    h = await startHarness({ env: { GRAPHQL_WS_MAX_CONNECTIONS_PER_VIEWER: '2' } });
    const token = await h.adminToken();
    const first = await connectWs(h.url, { token });
    await connectWs(h.url, { token });
    await expect(connectWs(h.url, { token })).rejects.toMatchObject({ code: 4429 });
    const other = await connectWs(h.url, { token: await h.token('usr_0002') });
    await first.close();
    await until(() => h!.app.subscriptions.stats().sockets === 2);
    const again = await connectWs(h.url, { token });
    expect(await again.subscribe({ query: '{ _junction }' }).ended).toEqual({ kind: 'complete' });
    await other.close();
  });

  it('refuses a socket without a token or with a bad one: close 4403', async () => {
    h = await startHarness();
    await expect(connectWs(h.url, { token: null })).rejects.toMatchObject({ code: 4403 });
    await expect(connectWs(h.url, { token: 'not-a-token' })).rejects.toMatchObject({ code: 4403 });
  });

  it('closes a socket with 4403 the moment its token expires, and pushes stop', async () => {
    h = await startHarness();
    const token = await h.token('usr_0001', { admin: true, ttlSeconds: 2 });
    const exp = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).exp * 1000;
    const ws = await connectWs(h.url, { token });
    const sub = ws.subscribe({ query: PAYMENT_UPDATED });
    await until(() => h!.app.pubsub.subscriberCount('payment:usr_0001') === 1);
    h.app.pubsub.publish('payment:usr_0001', payment('pi_before'));
    expect((await sub.next()).data.paymentUpdated.id).toBe('pi_before');
    // The client sends nothing more: the close comes from the server's timer, not a next message.
    const { code, reason } = await ws.closed;
    const closedAt = Date.now();
    expect(code).toBe(4403);
    expect(reason).toMatch(/expired/i);
    expect(closedAt).toBeGreaterThanOrEqual(exp);
    expect(closedAt - exp).toBeLessThan(1000);
    await until(() => h!.app.pubsub.subscriberCount('payment:usr_0001') === 0);
    await h.app.pubsub.publish('payment:usr_0001', payment('pi_after'));
    await new Promise((resolve) => setTimeout(resolve, 100)); // a push would be on the socket by now
    expect(sub.results.map((r) => r.data.paymentUpdated.id)).toEqual(['pi_before']);
  });
});
