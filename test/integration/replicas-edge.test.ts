// Replicas sharing one Redis (a unique key prefix per run) over the same simulators: webhook events
// claimed once across replicas, pushes reaching a subscriber on another replica, idempotent sendSms
// and sendEmail, automatic persisted queries and per-client budgets shared by every replica.
import { createHash, randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, type Peer, startHarness, startPeer } from '../helpers/harness.js';
import { connectWs, until } from '../helpers/ws.js';
import { deletePrefix, REDIS_URL, rawClient, testPrefix } from '../unit/state/support/redis.js';

const prefix = testPrefix();
afterAll(async () => {
  await deletePrefix(prefix);
});

const CREATE_MESSAGE = 'POST /2010-04-01/Accounts/:AccountSid/Messages.json';

/** A Stripe event about one of usr_0001's PaymentIntents, signed with `h`'s webhook secret. */
function stripeEvent(h: Harness, id: string): { payload: string; header: string } {
  const pi = [...h.stripe.paymentIntents.values()].find((p) => p.metadata?.user_id === 'usr_0001');
  if (!pi) throw new Error('no seeded PaymentIntent for usr_0001');
  const payload = JSON.stringify({
    id,
    object: 'event',
    type: 'payment_intent.succeeded',
    data: { object: { ...pi, status: 'succeeded' } },
  });
  const header = new Stripe('sk_test_unused').webhooks.generateTestHeaderString({
    payload,
    secret: h.stripeWebhookSecret,
  });
  return { payload, header };
}

/** `promise`, or a rejection after `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const postStripe = (url: string, event: { payload: string; header: string }) =>
  fetch(`${url}/webhooks/stripe`, {
    method: 'POST',
    headers: { 'stripe-signature': event.header, 'content-type': 'application/json' },
    body: event.payload,
  });

describe('three replicas over one Redis', () => {
  let h: Harness;
  let b: Peer;
  let c: Peer;

  beforeAll(async () => {
    h = await startHarness({ env: { REDIS_URL, REDIS_KEY_PREFIX: `${prefix}three:` } });
    b = await startPeer(h);
    c = await startPeer(h);
  }, 60_000);
  afterAll(async () => {
    await c?.close();
    await b?.close();
    await h?.close();
  });

  it('a webhook posted to A pushes once to a subscriber on B; the same event on C is a duplicate with no push', async () => {
    const ws = await connectWs(b.url, { token: await h.token('usr_0001') });
    try {
      const sub = ws.subscribe({
        query: 'subscription { paymentUpdated(userId: "usr_0001") { id status } }',
      });
      await until(() => b.app.pubsub.subscriberCount('payment:usr_0001') === 1);
      const event = stripeEvent(h, `evt_replicas_${randomUUID()}`);
      const started = Date.now();
      const first = await postStripe(h.url, event);
      expect(first.status).toBe(200);
      expect(await first.json()).toEqual({ received: true, duplicate: false });
      const pushed = await within(sub.next(), 1000, 'push on B');
      expect(Date.now() - started).toBeLessThan(1000);
      expect(pushed.data.paymentUpdated.status).toBe('SUCCEEDED');

      const retry = await postStripe(c.url, event);
      expect(retry.status).toBe(200);
      expect(await retry.json()).toEqual({ received: true, duplicate: true });
      // A push would arrive within a few ms on loopback; give it ample time to show up.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(sub.results).toHaveLength(1);
    } finally {
      await ws.close();
    }
  });

  it('an event another replica holds is not acknowledged: 503 with Retry-After when that run failed, then processed on retry', async () => {
    const id = `evt_held_${randomUUID()}`;
    const connection = h.app.state.connection;
    if (!connection) throw new Error('expected a Redis connection');
    const key = connection.key('dedupe', `stripe:${id}`);
    const redis = rawClient();
    try {
      // Another replica claimed the event and is running it; its run then fails (the claim is dropped).
      await redis.set(key, 'processing:elsewhere', 'PX', 60_000);
      const event = stripeEvent(h, id);
      const delivery = postStripe(c.url, event);
      await new Promise((resolve) => setTimeout(resolve, 200));
      await redis.del(key);
      const refused = await delivery;
      expect(refused.status).toBe(503);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await refused.json()).toEqual({ error: 'event_first_run_failed' });
      // The provider's retry runs it.
      const retried = await postStripe(b.url, event);
      expect(retried.status).toBe(200);
      expect(await retried.json()).toEqual({ received: true, duplicate: false });
      expect(await redis.get(key)).toBe('done');
    } finally {
      redis.disconnect();
    }
  });

  it('the same sendSms idempotency key sent concurrently to A and B sends one SMS, both answers equal', async () => {
    const key = `sms-${randomUUID()}`;
    const mutation = (body: string) =>
      `mutation { sendSms(input: { userId: "usr_0002", body: "${body}", idempotencyKey: "${key}" }) { message { id body status createdAt } } }`;
    const before = h.twilio.requests.filter((r) => r.route === CREATE_MESSAGE).length;
    const [onA, onB] = await Promise.all([h.gql(mutation('hello once')), b.gql(mutation('hello once'))]);
    expect(onA.body.errors).toBeUndefined();
    expect(onB.body.errors).toBeUndefined();
    expect(onA.body.data.sendSms.message.id).toMatch(/^SM/);
    expect(onB.body.data).toEqual(onA.body.data);
    expect(h.twilio.requests.filter((r) => r.route === CREATE_MESSAGE).length - before).toBe(1);

    // A later repeat on a third replica: the same answer, still one send.
    const onC = await c.gql(mutation('hello once'));
    expect(onC.body.data).toEqual(onA.body.data);
    // The key reused with another body is refused.
    const other = await c.gql(mutation('hello twice'));
    expect(other.body.errors?.[0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      argument: 'idempotencyKey',
    });
    expect(h.twilio.requests.filter((r) => r.route === CREATE_MESSAGE).length - before).toBe(1);
    // Without a key every request sends.
    await h.gql('mutation { sendSms(input: { userId: "usr_0002", body: "no key" }) { message { id } } }');
    expect(h.twilio.requests.filter((r) => r.route === CREATE_MESSAGE).length - before).toBe(2);
  });

  it('scopes a key to the viewer: another viewer with the same key sends its own SMS', async () => {
    const key = `sms-${randomUUID()}`;
    const mutation = `mutation { sendSms(input: { userId: "usr_0003", body: "scoped", idempotencyKey: "${key}" }) { message { id } } }`;
    const before = h.twilio.requests.filter((r) => r.route === CREATE_MESSAGE).length;
    const asAdmin = await h.gql(mutation);
    const asSelf = await b.gql(mutation, { token: await h.token('usr_0003') });
    expect(asAdmin.body.errors).toBeUndefined();
    expect(asSelf.body.errors).toBeUndefined();
    expect(asSelf.body.data.sendSms.message.id).not.toBe(asAdmin.body.data.sendSms.message.id);
    expect(h.twilio.requests.filter((r) => r.route === CREATE_MESSAGE).length - before).toBe(2);
  });

  it('refuses a malformed sendSms idempotency key before sending', async () => {
    const before = h.twilio.requests.filter((r) => r.route === CREATE_MESSAGE).length;
    const res = await h.gql(
      'mutation { sendSms(input: { userId: "usr_0002", body: "x", idempotencyKey: "not a key!" }) { message { id } } }',
    );
    expect(res.body.errors?.[0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      argument: 'idempotencyKey',
    });
    expect(h.twilio.requests.filter((r) => r.route === CREATE_MESSAGE).length).toBe(before);
  });

  it('sendEmail with an idempotency key sends once; a repeat answers the same receipt; another input is BAD_USER_INPUT', async () => {
    const key = `mail-${randomUUID()}`;
    const mutation = (subject: string) =>
      `mutation { sendEmail(input: { userId: "usr_0002", subject: "${subject}", text: "hi", idempotencyKey: "${key}" }) { receipt { id to acceptedAt } } }`;
    const before = h.sendgrid.sent.length;
    const [first, concurrent] = await Promise.all([h.gql(mutation('Welcome')), h.gql(mutation('Welcome'))]);
    expect(first.body.errors).toBeUndefined();
    expect(concurrent.body.data).toEqual(first.body.data);
    const repeat = await h.gql(mutation('Welcome'));
    expect(repeat.body.data).toEqual(first.body.data);
    expect(h.sendgrid.sent.length - before).toBe(1);
    const other = await h.gql(mutation('Another subject'));
    expect(other.body.errors?.[0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      argument: 'idempotencyKey',
    });
    expect(h.sendgrid.sent.length - before).toBe(1);
  });

  it('an automatic persisted query registered on A runs by hash on B', async () => {
    const query = `query Apq_${randomUUID().replaceAll('-', '')} { _junction }`;
    const hash = createHash('sha256').update(query).digest('hex');
    const body = (q?: string) =>
      JSON.stringify({
        ...(q ? { query: q } : {}),
        extensions: { persistedQuery: { version: 1, sha256Hash: hash } },
      });
    const post = async (url: string, payload: string) =>
      (await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: payload,
      }).then((r) => r.json())) as { data?: unknown; errors?: { extensions: { code: string } }[] };
    expect((await post(b.url, body())).errors?.[0]?.extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    expect(await post(h.url, body(query))).toEqual({ data: { _junction: true } });
    expect(await post(b.url, body())).toEqual({ data: { _junction: true } });
    expect(await post(c.url, body())).toEqual({ data: { _junction: true } });
  });
});

describe('per-client budget across replicas', () => {
  let h: Harness;
  let b: Peer;

  beforeAll(async () => {
    h = await startHarness({
      env: { REDIS_URL, REDIS_KEY_PREFIX: `${prefix}limits:`, CLIENT_RATE_LIMIT_PER_MINUTE: '3' },
    });
    b = await startPeer(h);
  }, 60_000);
  afterAll(async () => {
    await b?.close();
    await h?.close();
  });

  it('counts one viewer over two replicas and both transports', async () => {
    const token = await h.token('usr_0004');
    expect((await h.gql('{ _junction }', { token })).status).toBe(200);
    expect((await b.gql('{ _junction }', { token })).status).toBe(200);
    expect((await h.gql('{ _junction }', { token })).status).toBe(200);
    // The budget of 3 is spent across A and B: B refuses over HTTP and over the WebSocket.
    const refused = await b.gql('{ _junction }', { token });
    expect(refused.status).toBe(429);
    expect(refused.body.errors?.[0].extensions).toMatchObject({
      code: 'RATE_LIMITED',
      limit: 'clientRateLimit',
    });
    const ws = await connectWs(b.url, { token });
    try {
      expect(await ws.subscribe({ query: '{ _junction }' }).ended).toMatchObject({
        kind: 'error',
        errors: [{ extensions: { code: 'RATE_LIMITED' } }],
      });
    } finally {
      await ws.close();
    }
    // Another viewer has a budget of its own.
    expect((await b.gql('{ _junction }', { token: await h.token('usr_0005') })).status).toBe(200);
  });
});
