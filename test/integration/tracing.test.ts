// OpenTelemetry traces end to end: a real Junction (harness) exporting over OTLP/HTTP to a receiver
// on a real socket, real simulators recording the trace headers they get. A client's traceparent
// must reach the providers and the exported spans, with the parent/child links right across
// retries, shared work and both transports; log lines carry the trace id; off means nothing.
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/observability/logger.js';
import { createTracing } from '../../src/observability/tracing.js';
import { stripeSignatureHeader } from '../../src/simulators/stripe/webhooks.js';
import { batchCalls, type Harness, startHarness, USER_FETCHES } from '../helpers/harness.js';
import {
  type OtlpReceiver,
  type ReceivedSpan,
  SPAN_KIND,
  startOtlpReceiver,
} from '../helpers/otlpReceiver.js';
import { connectWs, until } from '../helpers/ws.js';

let h: Harness | undefined;
let receiver: OtlpReceiver | undefined;
afterEach(async () => {
  await h?.close(); // flushes the spans still queued, so the receiver closes after it
  await receiver?.close();
  h = undefined;
  receiver = undefined;
});

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';
const traceparent = (traceId = TRACE, spanId = CLIENT_SPAN, flags = '01') =>
  `00-${traceId}-${spanId}-${flags}`;
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])$/;
const fastRetries = { RETRY_BASE_DELAY_MS: '5', RETRY_MAX_DELAY_MS: '20' };

/** Junction exporting OTLP/JSON to a fresh receiver (the spans are read after `flush`). */
async function startTraced(
  env: Record<string, string> = {},
  options: Parameters<typeof startHarness>[0] = {},
) {
  receiver = await startOtlpReceiver();
  h = await startHarness({
    ...options,
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      ...env,
    },
  });
  return { h, receiver };
}

const flush = async () => {
  await h!.app.tracing!.forceFlush();
};

/** The trace context a recorded upstream request carried. */
function sentContext(headers: Record<string, unknown>): { traceId: string; spanId: string; flags: string } {
  const m = TRACEPARENT.exec(String(headers.traceparent));
  if (!m) throw new Error(`no valid traceparent in ${JSON.stringify(headers.traceparent)}`);
  return { traceId: m[1]!, spanId: m[2]!, flags: m[3]! };
}

const operationSpan = (spans: ReceivedSpan[], traceId: string) =>
  spans.find((s) => s.traceId === traceId && s.kind === SPAN_KIND.server)!;
const inTrace = (spans: ReceivedSpan[], traceId: string) => spans.filter((s) => s.traceId === traceId);
const attemptSpans = (spans: ReceivedSpan[], route: string) =>
  spans.filter((s) => s.kind === SPAN_KIND.client && s.attributes['junction.route'] === route);

describe('traces over HTTP', () => {
  it("continues a client's traceparent: the operation span's parent is the client's span, providers receive the trace", async () => {
    await startTraced();
    const res = await h!.gql('query OneUser { user(id: "usr_0005") { id name billing { id } } }', {
      headers: { traceparent: traceparent(), tracestate: 'vendor=abc' },
    });
    expect(res.body.errors).toBeUndefined();
    await flush();
    const spans = receiver!.spans;
    expect(spans.length).toBeGreaterThanOrEqual(5); // operation, 2 calls, 2 attempts (+ token)
    expect(spans.every((s) => s.traceId === TRACE)).toBe(true);

    const op = operationSpan(spans, TRACE);
    expect(op.parentSpanId).toBe(CLIENT_SPAN);
    expect(op.name).toBe('query OneUser');
    expect(op.attributes).toMatchObject({
      'graphql.operation.name': 'OneUser',
      'graphql.operation.type': 'query',
      'junction.outcome': 'success',
      'junction.transport': 'http',
      'junction.upstream.calls': 2,
    });
    expect(op.resource['service.name']).toBe('junction');

    // Every provider request carries the trace, its parent being the attempt span that sent it.
    const upstream = [...batchCalls(h!.users), ...h!.stripe.requests];
    expect(upstream).toHaveLength(2);
    for (const request of upstream) {
      const sent = sentContext(request.headers);
      expect(sent.traceId).toBe(TRACE);
      expect(request.headers.tracestate).toBe('vendor=abc');
      const attempt = spans.find((s) => s.spanId === sent.spanId)!;
      expect(attempt.kind).toBe(SPAN_KIND.client);
      const call = spans.find((s) => s.spanId === attempt.parentSpanId)!;
      expect(call.kind).toBe(SPAN_KIND.internal);
      expect(call.parentSpanId).toBe(op.spanId);
    }
    // The OAuth token the users call needed is a span of that call, and its request carries the trace.
    const token = spans.find((s) => s.name === 'POST /oauth/token')!;
    expect(token).toMatchObject({ kind: SPAN_KIND.client });
    expect(spans.find((s) => s.spanId === token.parentSpanId)?.attributes['junction.provider']).toBe('users');
    const tokenRequest = h!.users.requests.find((r) => r.route === 'POST /oauth/token')!;
    expect(sentContext(tokenRequest.headers)).toMatchObject({ traceId: TRACE, spanId: token.spanId });
    const userAttempt = attemptSpans(spans, 'GET /users/:id')[0]!;
    expect(userAttempt.attributes).toMatchObject({
      'http.request.method': 'GET',
      'url.template': '/users/:id',
      'http.response.status_code': 200,
      'server.address': '127.0.0.1',
      'junction.provider': 'users',
      'junction.attempt': 1,
      'junction.outcome': 'success',
    });
    // No ids, credentials or bodies on spans.
    const exported = JSON.stringify(spans);
    for (const secret of ['usr_0005', h!.stripe.secretKey, h!.users.credentials.clientSecret, 'Bearer'])
      expect(exported).not.toContain(secret);
  });

  it('503 then 200: two attempt spans (1 and 2) under one call span under the operation, a retry event, each attempt its own traceparent', async () => {
    await startTraced(fastRetries);
    h!.users.faults.add({ match: USER_FETCHES, statusSequence: [503] });
    const res = await h!.gql('query Retried { user(id: "usr_0007") { id } }', {
      headers: { traceparent: traceparent() },
    });
    expect(res.body.data.user.id).toBe('usr_0007');
    await flush();
    const spans = receiver!.spans;
    const op = operationSpan(spans, TRACE);
    const attempts = attemptSpans(spans, 'GET /users/:id').sort(
      (a, b) => Number(a.attributes['junction.attempt']) - Number(b.attributes['junction.attempt']),
    );
    expect(attempts.map((a) => a.attributes['junction.attempt'])).toEqual([1, 2]);
    expect(attempts.map((a) => a.attributes['http.response.status_code'])).toEqual([503, 200]);
    expect(attempts[0]!.attributes['error.type']).toBe('503');
    expect(attempts[0]!.status.code).toBe(2); // ERROR
    expect(attempts[1]!.attributes['http.request.resend_count']).toBe(1);
    const call = spans.find((s) => s.spanId === attempts[0]!.parentSpanId)!;
    expect(attempts[1]!.parentSpanId).toBe(call.spanId);
    expect(call.parentSpanId).toBe(op.spanId);
    expect(call.attributes).toMatchObject({ 'junction.attempts': 2, 'junction.outcome': 'success' });
    // One retry event; a loaded machine may add a throttle wait (a token taken a few ms late).
    const events = call.events.filter((e) => e.name !== 'junction.throttle.wait');
    expect(events.map((e) => e.name)).toEqual(['junction.retry']);
    expect(events[0]!.attributes).toMatchObject({
      'junction.attempt': 1,
      'error.type': 'UPSTREAM_UNAVAILABLE',
    });
    // The provider saw two requests, each carrying the span of its own attempt.
    const sent = batchCalls(h!.users).map((r) => sentContext(r.headers));
    expect(sent.map((s) => s.traceId)).toEqual([TRACE, TRACE]);
    expect(sent.map((s) => s.spanId)).toEqual(attempts.map((a) => a.spanId));
  });

  it('a retry that is not made says why on the call span', async () => {
    await startTraced({ ...fastRetries, RETRY_MAX_ATTEMPTS: '2' });
    h!.users.faults.add({ match: USER_FETCHES, status: 503 });
    await h!.gql('{ user(id: "usr_0007") { id } }', { headers: { traceparent: traceparent() } });
    await flush();
    const call = receiver!.spans.find((s) => s.kind === SPAN_KIND.internal)!;
    expect(call.events.map((e) => [e.name, e.attributes['junction.reason']])).toEqual([
      ['junction.retry', undefined],
      ['junction.retry.skipped', 'max_attempts'],
    ]);
    expect(call.attributes).toMatchObject({
      'junction.outcome': 'UPSTREAM_UNAVAILABLE',
      'error.type': 'UPSTREAM_UNAVAILABLE',
    });
    expect(operationSpan(receiver!.spans, TRACE).attributes).toMatchObject({
      'junction.outcome': 'partial',
      'junction.error_codes': ['UPSTREAM_UNAVAILABLE'],
    });
  });

  it('starts a new trace when the client sends none, or a malformed or oversized one', async () => {
    await startTraced();
    const oversized = `cc-${TRACE}-${CLIENT_SPAN}-01-${'a'.repeat(300)}`; // a future version: valid but too long
    for (const [i, header] of [undefined, 'not-a-traceparent', oversized].entries()) {
      const res = await h!.gql(`query Q${i} { user(id: "usr_001${i}") { id } }`, {
        headers: header === undefined ? {} : { traceparent: header },
      });
      expect(res.status).toBe(200);
    }
    await flush();
    const ops = receiver!.spans.filter((s) => s.kind === SPAN_KIND.server);
    expect(ops).toHaveLength(3);
    for (const op of ops) {
      expect(op.parentSpanId).toBe('');
      expect(op.traceId).not.toBe(TRACE);
    }
    // Each provider request still carries its operation's (new) trace.
    const sentTraces = batchCalls(h!.users).map((r) => sentContext(r.headers).traceId);
    expect(sentTraces.sort()).toEqual(ops.map((o) => o.traceId).sort());
  });

  it('records cache outcomes: the load that missed, then a hit that made no call', async () => {
    await startTraced();
    const second = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
    await h!.gql('{ user(id: "usr_0009") { id } }', { headers: { traceparent: traceparent() } });
    await h!.gql('{ user(id: "usr_0009") { id } }', { headers: { traceparent: traceparent(second) } });
    await flush();
    const call = inTrace(receiver!.spans, TRACE).find((s) => s.kind === SPAN_KIND.internal)!;
    expect(call.attributes['junction.cache']).toBe('miss');
    expect(operationSpan(receiver!.spans, TRACE).attributes).toMatchObject({
      'junction.cache.misses': 1,
      'junction.cache.hits': 0,
    });
    expect(inTrace(receiver!.spans, second)).toHaveLength(1); // the operation alone: no call
    expect(operationSpan(receiver!.spans, second).attributes).toMatchObject({
      'junction.cache.hits': 1,
      'junction.cache.misses': 0,
      'junction.upstream.calls': 0,
    });
  });

  it("an operation that waits on another's coalesced load links to that trace", async () => {
    await startTraced();
    h!.users.faults.add({ match: USER_FETCHES, latencyMs: 1500, times: 1 });
    const other = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';
    const first = h!.gql('query First { user(id: "usr_0011") { id } }', {
      headers: { traceparent: traceparent() },
    });
    await until(() => batchCalls(h!.users).length === 1);
    const second = await h!.gql('query Second { user(id: "usr_0011") { id } }', {
      headers: { traceparent: traceparent(other) },
    });
    expect(second.body.data.user.id).toBe('usr_0011');
    await first;
    expect(batchCalls(h!.users)).toHaveLength(1);
    await flush();
    const firstOp = operationSpan(receiver!.spans, TRACE);
    const secondOp = operationSpan(receiver!.spans, other);
    expect(secondOp.links).toEqual([
      { traceId: TRACE, spanId: firstOp.spanId, attributes: { 'junction.reason': 'shared_work' } },
    ]);
    // The shared load itself belongs to the first caller's trace.
    expect(inTrace(receiver!.spans, other)).toHaveLength(1);
    expect(sentContext(batchCalls(h!.users)[0]!.headers).traceId).toBe(TRACE);
  });

  it('an open circuit refuses the call: an event on the call span, no attempt span, no request', async () => {
    await startTraced({
      ...fastRetries,
      RETRY_MAX_ATTEMPTS: '1',
      BREAKER_MIN_REQUESTS: '4',
      BREAKER_HALF_OPEN_AFTER_MS: '60000',
    });
    h!.users.faults.add({ match: USER_FETCHES, status: 503 });
    for (let i = 0; i < 4; i++) await h!.gql(`{ user(id: "usr_002${i}") { id } }`);
    const before = batchCalls(h!.users).length;
    const res = await h!.gql('{ user(id: "usr_0030") { id } }', { headers: { traceparent: traceparent() } });
    expect(res.body.errors![0].extensions.code).toBe('UPSTREAM_CIRCUIT_OPEN');
    expect(batchCalls(h!.users)).toHaveLength(before);
    await flush();
    const spans = inTrace(receiver!.spans, TRACE);
    expect(spans.filter((s) => s.kind === SPAN_KIND.client)).toHaveLength(0);
    const call = spans.find((s) => s.kind === SPAN_KIND.internal)!;
    expect(call.events.map((e) => e.name)).toEqual(['junction.circuit.refused']);
    expect(call.events[0]!.attributes['junction.circuit.group']).toBe('users');
    expect(call.attributes['junction.outcome']).toBe('UPSTREAM_CIRCUIT_OPEN');
  });

  it('a wait for a rate-limit token is an event on the call span', async () => {
    // 20/s: a bucket of 2 tokens, so the third and fourth customer loads wait.
    await startTraced({ STRIPE_RATE_LIMIT_PER_SECOND: '20' });
    const query = `{ ${[16, 17, 18, 19].map((n) => `u${n}: user(id: "usr_00${n}") { billing { id } }`).join(' ')} }`;
    const res = await h!.gql(query, { headers: { traceparent: traceparent() } });
    expect(res.body.errors).toBeUndefined();
    await flush();
    const stripeCalls = receiver!.spans.filter(
      (s) => s.kind === SPAN_KIND.internal && s.attributes['junction.provider'] === 'stripe',
    );
    expect(stripeCalls).toHaveLength(4);
    const waits = stripeCalls.flatMap((s) => s.events.filter((e) => e.name === 'junction.throttle.wait'));
    expect(waits.length).toBeGreaterThanOrEqual(1);
    for (const wait of waits) expect(wait.attributes['junction.throttle.wait_ms']).toBeGreaterThan(0);
  });

  it('a call refused for want of a rate-limit token says so on its span, and never leaves', async () => {
    // 1/s with no wait allowed: one token, so the second customer load is refused at once.
    await startTraced({ STRIPE_RATE_LIMIT_PER_SECOND: '1', RATE_LIMIT_MAX_WAIT_MS: '0' });
    const res = await h!.gql(
      '{ a: user(id: "usr_0016") { billing { id } } b: user(id: "usr_0017") { billing { id } } }',
      {
        headers: { traceparent: traceparent() },
      },
    );
    expect(res.body.errors!.map((e: { extensions: { code: string } }) => e.extensions.code)).toEqual([
      'UPSTREAM_RATE_LIMITED',
    ]);
    expect(h!.stripe.requests).toHaveLength(1);
    await flush();
    const refused = receiver!.spans.find(
      (s) => s.kind === SPAN_KIND.internal && s.attributes['junction.outcome'] === 'UPSTREAM_RATE_LIMITED',
    )!;
    expect(refused.events.map((e) => e.name)).toEqual(['junction.throttle.refused']);
    expect(receiver!.spans.filter((s) => s.parentSpanId === refused.spanId)).toHaveLength(0);
  });

  it('follows the sampled flag: an unsampled caller is propagated with flag 00 and nothing is exported', async () => {
    await startTraced();
    await h!.gql('{ user(id: "usr_0040") { id } }', {
      headers: { traceparent: traceparent(TRACE, CLIENT_SPAN, '00') },
    });
    const sent = sentContext(batchCalls(h!.users)[0]!.headers);
    expect(sent).toMatchObject({ traceId: TRACE, flags: '00' });
    expect(sent.spanId).not.toBe(CLIENT_SPAN);
    await flush();
    expect(receiver!.spans).toHaveLength(0);
  });

  it('exports OTLP protobuf to OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces by default, with OTEL_EXPORTER_OTLP_HEADERS and OTEL_SERVICE_NAME', async () => {
    receiver = await startOtlpReceiver();
    h = await startHarness({
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: `${receiver.url}/`,
        OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=k%3D1,x-tenant=t1',
        OTEL_SERVICE_NAME: 'junction-under-test',
      },
    });
    await h.gql('query Proto { user(id: "usr_0041") { id } }', { headers: { traceparent: traceparent() } });
    await flush();
    const exported = receiver.requests;
    expect(exported.length).toBeGreaterThanOrEqual(1);
    const request = exported[0]!;
    expect(request.path).toBe('/v1/traces');
    expect(request.contentType).toBe('application/x-protobuf');
    expect(request.headers['x-api-key']).toBe('k=1');
    expect(request.headers['x-tenant']).toBe('t1');
    const body = Buffer.concat(exported.map((r) => r.body));
    expect(body.includes(Buffer.from(TRACE, 'hex'))).toBe(true); // ids travel as bytes in protobuf
    expect(body.includes('query Proto')).toBe(true);
    expect(body.includes('junction-under-test')).toBe(true);
  });

  it('is off without OTEL variables: nothing built, no trace header reaches a provider', async () => {
    h = await startHarness();
    expect(h.app.tracing).toBeUndefined();
    await h.gql('{ user(id: "usr_0042") { id } }', { headers: { traceparent: traceparent() } });
    const requests = h.users.requests;
    expect(requests.length).toBeGreaterThanOrEqual(2); // token + user
    for (const request of requests) expect(request.headers.traceparent).toBeUndefined();
  });
});

describe('webhook intake', () => {
  it('is one span per delivery, continuing its traceparent; a rejected one records the reason', async () => {
    await startTraced();
    const pi = [...h!.stripe.paymentIntents.values()][0]!;
    const payload = JSON.stringify({
      id: 'evt_traced_1',
      object: 'event',
      type: 'payment_intent.succeeded',
      data: { object: { ...pi, status: 'succeeded' } },
    });
    const ok = await fetch(`${h!.url}/webhooks/stripe`, {
      method: 'POST',
      headers: {
        'stripe-signature': stripeSignatureHeader(payload, h!.stripeWebhookSecret),
        traceparent: traceparent(),
      },
      body: payload,
    });
    expect(ok.status).toBe(200);
    const forged = await fetch(`${h!.url}/webhooks/stripe`, {
      method: 'POST',
      headers: { 'stripe-signature': stripeSignatureHeader(payload, 'whsec_not_ours') },
      body: payload,
    });
    expect(forged.status).toBe(400);
    await flush();
    const webhooks = receiver!.spans.filter((s) => s.attributes['http.route'] === '/webhooks/stripe');
    expect(webhooks).toHaveLength(2);
    const received = webhooks.find((s) => s.traceId === TRACE)!;
    expect(received).toMatchObject({
      name: 'POST /webhooks/stripe',
      kind: SPAN_KIND.server,
      parentSpanId: CLIENT_SPAN,
    });
    expect(received.attributes).toMatchObject({
      'junction.provider': 'stripe',
      'http.response.status_code': 200,
      'junction.outcome': 'received',
    });
    const rejected = webhooks.find((s) => s.traceId !== TRACE)!;
    expect(rejected.attributes).toMatchObject({
      'http.response.status_code': 400,
      'junction.outcome': 'rejected',
      'junction.reason': 'signature_mismatch',
    });
  });
});

describe('webhook effects', () => {
  it("a provider call a webhook's effects make is a child of the delivery's span", async () => {
    await startTraced();
    const ws = await connectWs(h!.url, { token: await h!.token('usr_0001') });
    ws.subscribe({ query: 'subscription { messageUpdated(userId: "usr_0001") { id status } }' });
    await until(() => h!.app.subscriptions.stats().operations === 1);
    const sent = await h!.gql(
      'mutation { sendSms(input: { userId: "usr_0001", body: "ping" }) { message { id } } }',
    );
    expect(sent.body.errors).toBeUndefined();
    await h!.twilio.flushCallbacks();
    await until(() =>
      h!.twilio.requests.some((r) => r.route === 'GET /2010-04-01/Accounts/:AccountSid/Messages/:Sid.json'),
    );
    await ws.close();
    await flush();
    const deliveries = receiver!.spans.filter((s) => s.attributes['http.route'] === '/webhooks/twilio');
    expect(deliveries.length).toBeGreaterThanOrEqual(1);
    const fetches = receiver!.spans.filter(
      (s) =>
        s.kind === SPAN_KIND.internal &&
        s.attributes['junction.route'] === 'GET /Accounts/:sid/Messages/:sid.json',
    );
    expect(fetches.length).toBeGreaterThanOrEqual(1);
    for (const fetch of fetches) {
      const delivery = deliveries.find((d) => d.spanId === fetch.parentSpanId);
      expect(delivery).toMatchObject({ traceId: fetch.traceId, kind: SPAN_KIND.server });
    }
  });
});

describe('traces over the WebSocket', () => {
  it("continue the connection's traceparent (connectionParams, else the upgrade headers); an operation's extensions win", async () => {
    await startTraced();
    const token = await h!.adminToken();
    const fromParams = 'cccccccccccccccccccccccccccccccc';
    const fromExtensions = 'dddddddddddddddddddddddddddddddd';
    const fromHeaders = 'eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee';
    const ws = await connectWs(h!.url, {
      token,
      params: { traceparent: traceparent(fromParams) },
      headers: { traceparent: traceparent(fromHeaders) },
    });
    const first = ws.subscribe({ query: 'query OverSocket { user(id: "usr_0050") { id } }' });
    expect((await first.next()).data.user.id).toBe('usr_0050');
    const second = ws.subscribe({
      query: 'query OwnTrace { user(id: "usr_0051") { id } }',
      extensions: { traceparent: traceparent(fromExtensions, '1111111111111111') },
    });
    await second.next();
    const sub = ws.subscribe({ query: 'subscription Watch { paymentUpdated(userId: "usr_0001") { id } }' });
    await until(() => h!.app.subscriptions.stats().operations === 1);
    ws.send({ id: sub.id, type: 'complete' });
    await ws.close();
    const byHeaders = await connectWs(h!.url, { token, headers: { traceparent: traceparent(fromHeaders) } });
    await byHeaders.subscribe({ query: 'query ByHeaders { user(id: "usr_0052") { id } }' }).next();
    await byHeaders.close();
    await until(() => h!.app.subscriptions.stats().sockets === 0);
    await flush();

    const spans = receiver!.spans;
    const socketOp = spans.find((s) => s.name === 'query OverSocket')!;
    expect(socketOp).toMatchObject({
      traceId: fromParams,
      parentSpanId: CLIENT_SPAN,
      kind: SPAN_KIND.server,
    });
    expect(socketOp.attributes['junction.transport']).toBe('ws');
    expect(inTrace(spans, fromParams).some((s) => s.parentSpanId === socketOp.spanId)).toBe(true);
    expect(spans.find((s) => s.name === 'query OwnTrace')).toMatchObject({
      traceId: fromExtensions,
      parentSpanId: '1111111111111111',
    });
    const subscription = spans.find((s) => s.name === 'subscription Watch')!;
    expect(subscription).toMatchObject({ traceId: fromParams, parentSpanId: CLIENT_SPAN });
    expect(subscription.attributes['graphql.operation.type']).toBe('subscription');
    expect(spans.find((s) => s.name === 'query ByHeaders')).toMatchObject({
      traceId: fromHeaders,
      parentSpanId: CLIENT_SPAN,
    });
    const sent = [...batchCalls(h!.users)].map((r) => sentContext(r.headers).traceId);
    expect(sent).toEqual([fromParams, fromExtensions, fromHeaders]);
  });
});

describe('log lines', () => {
  it('carry the trace and span ids of the span they are written in', async () => {
    receiver = await startOtlpReceiver();
    const lines: Array<Record<string, unknown>> = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()));
        done();
      },
    });
    const env = {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      ...fastRetries,
    };
    const tracing = (await createTracing(loadConfig({ NODE_ENV: 'test', ...env }).tracing))!;
    h = await startHarness({ env, tracing, logger: createLogger('info', stream, tracing) });
    h.users.faults.add({ match: USER_FETCHES, statusSequence: [503] });
    await h.gql('query Logged { user(id: "usr_0060") { id } }', { headers: { traceparent: traceparent() } });
    await flush();
    const op = operationSpan(receiver.spans, TRACE);
    const call = receiver.spans.find(
      (s) => s.kind === SPAN_KIND.internal && s.attributes['junction.provider'] === 'users',
    )!;
    const line = (msg: string) => lines.find((l) => l.msg === msg)!;
    expect(line('graphql operation')).toMatchObject({
      trace_id: TRACE,
      span_id: op.spanId,
      operation: 'Logged',
    });
    expect(line('retrying upstream call')).toMatchObject({ trace_id: TRACE, span_id: call.spanId });
    expect(line('upstream call failed')).toMatchObject({ trace_id: TRACE, span_id: call.spanId });
    // A line written outside any span has no ids.
    h.app.logger.info('outside');
    expect(line('outside').trace_id).toBeUndefined();
  });

  it('say once when exports start failing, and once when they work again', async () => {
    let status = 503;
    receiver = await startOtlpReceiver({ status: () => status });
    const lines: Array<Record<string, unknown>> = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()));
        done();
      },
    });
    h = await startHarness({
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_TIMEOUT: '300',
        OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20collector-secret',
      },
      logger: createLogger('info', stream),
    });
    const exportLines = () => lines.filter((l) => String(l.msg).startsWith('trace export'));
    for (const id of ['usr_0061', 'usr_0062']) {
      await h.gql(`{ user(id: "${id}") { id } }`);
      await flush().catch(() => undefined);
    }
    expect(exportLines().map((l) => l.msg)).toEqual(['trace export failing: spans are being dropped']);
    status = 200;
    await h.gql('{ user(id: "usr_0063") { id } }');
    await flush();
    expect(exportLines().map((l) => l.msg)).toEqual([
      'trace export failing: spans are being dropped',
      'trace export working again',
    ]);
    expect(JSON.stringify(lines)).not.toContain('collector-secret');
    expect(receiver.spans.length).toBeGreaterThan(0);
  });
});
