// Verified webhooks end to end: the simulators sign and deliver exactly as the providers do;
// Junction verifies, dedupes, invalidates caches and pushes subscriptions over graphql-ws.

import { generateKeyPairSync } from 'node:crypto';
import { createClient } from 'graphql-ws';
import Stripe from 'stripe';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { STRIPE_API_VERSION } from '../../src/providers/stripe/client.js';
import { twilioSignature } from '../../src/providers/twilio/webhookSignature.js';
import { eventId, signEventPayload } from '../../src/simulators/sendgrid/webhooks.js';
import { type Harness, startHarness } from '../helpers/harness.js';

let h: Harness | undefined;
const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  await h?.close();
  h = undefined;
});

function subscribe(harness: Harness, token: string, query: string) {
  const client = createClient({
    url: `${harness.url.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
  });
  cleanups.push(() => client.dispose());
  const received: any[] = [];
  const errors: unknown[] = [];
  let resolveFirst: (v: any) => void = () => {};
  const first = new Promise<any>((r) => {
    resolveFirst = r;
  });
  const ready = new Promise<void>((resolve) => client.on('connected', () => resolve()));
  client.subscribe(
    { query },
    {
      next: (value) => {
        received.push(value);
        resolveFirst(value);
      },
      error: (e) => {
        errors.push(e);
        resolveFirst({ error: e });
      },
      complete: () => {},
    },
  );
  return { received, errors, first, ready };
}

const signStripe = (payload: string, secret: string, timestamp = Math.floor(Date.now() / 1000)) =>
  new Stripe('sk_test_unused').webhooks.generateTestHeaderString({ payload, secret, timestamp });

/** Posts `payload` to /webhooks/stripe, signed with the harness's secret. */
const postStripe = (harness: Harness, payload: string) =>
  fetch(`${harness.url}/webhooks/stripe`, {
    method: 'POST',
    headers: {
      'stripe-signature': signStripe(payload, harness.stripeWebhookSecret),
      'content-type': 'application/json',
    },
    body: payload,
  });

/** A counter's value from /metrics (0 when absent). */
async function counter(harness: Harness, name: string, labels: string): Promise<number> {
  const text = await harness.app.metrics.text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

/** Collects what the in-process pub/sub delivers on `topic`. */
function watch(harness: Harness, topic: string): unknown[] {
  const iterator = harness.app.pubsub.subscribe(topic);
  const got: unknown[] = [];
  void (async () => {
    for await (const v of iterator) got.push(v);
  })();
  cleanups.push(async () => {
    await iterator.return?.();
  });
  return got;
}

async function until(check: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('Stripe webhooks', () => {
  it('pushes paymentUpdated to a subscribed client within 1 s of createPayment', async () => {
    h = await startHarness();
    const sub = subscribe(
      h,
      await h.token('usr_0001'),
      'subscription { paymentUpdated(userId: "usr_0001") { id status amount { amount currency } } }',
    );
    await sub.ready;
    await new Promise((r) => setTimeout(r, 50)); // the subscribe message is on its way
    const started = Date.now();
    const res = await h.gql(
      'mutation { createPayment(input: { userId: "usr_0001", amount: 4200, currency: "usd" }) { payment { id } } }',
    );
    const id = res.body.data.createPayment.payment.id;
    const first = await sub.first;
    expect(Date.now() - started).toBeLessThan(1000);
    expect(first.data.paymentUpdated).toMatchObject({ id, amount: { amount: 4200, currency: 'usd' } });
    await h.stripe.flushWebhooks();
    expect(h.stripe.webhookDeliveries.every((d) => d.status === 200)).toBe(true);
  });

  it('invalidates the cached payments, so the next query reaches Stripe', async () => {
    h = await startHarness();
    const q = '{ me { payments(first: 3) { nodes { id status } } } }';
    const before = await h.gql(q);
    const listCalls = () => h!.stripe.requests.filter((r) => r.route === 'GET /v1/payment_intents').length;
    await h.gql(q);
    expect(listCalls()).toBe(1); // warm
    const target = before.body.data.me.payments.nodes[0].id as string;
    h.stripe.setPaymentIntentStatus(target, 'canceled');
    await h.stripe.flushWebhooks();
    const after = await h.gql(q);
    expect(listCalls()).toBe(2);
    expect(after.body.data.me.payments.nodes.find((n: { id: string }) => n.id === target).status).toBe(
      'CANCELED',
    );
  });

  it('has exactly one effect when one event is replayed 5 times concurrently', async () => {
    h = await startHarness();
    const pi = [...h.stripe.paymentIntents.values()].find((p) => p.metadata?.user_id === 'usr_0001')!;
    const payload = JSON.stringify({
      id: 'evt_replayed_1',
      object: 'event',
      type: 'payment_intent.succeeded',
      data: { object: { ...pi, status: 'succeeded' } },
    });
    const iterator = h.app.pubsub.subscribe('payment:usr_0001');
    const got: unknown[] = [];
    void (async () => {
      for await (const v of iterator) got.push(v);
    })();
    cleanups.push(async () => {
      await iterator.return?.();
    });
    const header = signStripe(payload, h.stripeWebhookSecret);
    const responses = await Promise.all(
      Array.from({ length: 5 }, () =>
        fetch(`${h!.url}/webhooks/stripe`, {
          method: 'POST',
          headers: { 'stripe-signature': header, 'content-type': 'application/json' },
          body: payload,
        }),
      ),
    );
    const bodies = await Promise.all(responses.map((r) => r.json() as Promise<{ duplicate: boolean }>));
    expect(responses.every((r) => r.status === 200)).toBe(true);
    expect(bodies.filter((b) => !b.duplicate)).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(got).toHaveLength(1);
  });

  it('rejects a bad signature with 400, processing nothing', async () => {
    h = await startHarness();
    const payload = JSON.stringify({
      id: 'evt_forged',
      object: 'event',
      type: 'payment_intent.succeeded',
      data: { object: {} },
    });
    const forged = signStripe(payload, 'whsec_not_ours');
    const res = await fetch(`${h.url}/webhooks/stripe`, {
      method: 'POST',
      headers: { 'stripe-signature': forged },
      body: payload,
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'signature_mismatch' });
    const stale = signStripe(payload, h.stripeWebhookSecret, Math.floor(Date.now() / 1000) - 301);
    const old = await fetch(`${h.url}/webhooks/stripe`, {
      method: 'POST',
      headers: { 'stripe-signature': stale },
      body: payload,
    });
    expect(old.status).toBe(400);
    expect(await old.json()).toEqual({ error: 'timestamp_out_of_tolerance' });
  });

  it('answers 413 to an oversized body', async () => {
    h = await startHarness();
    const big = JSON.stringify({ id: 'evt_big', pad: 'x'.repeat(300 * 1024) });
    const res = await fetch(`${h.url}/webhooks/stripe`, {
      method: 'POST',
      headers: {
        'stripe-signature': signStripe(big, h.stripeWebhookSecret),
        'content-type': 'application/json',
      },
      body: big,
    });
    expect(res.status).toBe(413);
  });
});

describe('Stripe events Junction cannot read as they are', () => {
  const paymentOf = (harness: Harness, userId: string) =>
    [...harness.stripe.paymentIntents.values()].find((p) => p.metadata?.user_id === userId)!;
  const retrieveCalls = (harness: Harness) =>
    harness.stripe.requests.filter((r) => r.route === 'GET /v1/payment_intents/:id');

  it('a trimmed payment_intent object: fetches the current one by id (pinned version), then invalidates and pushes', async () => {
    h = await startHarness();
    const q = '{ me { payments(first: 3) { nodes { id status } } } }';
    await h.gql(q);
    const listCalls = () => h!.stripe.requests.filter((r) => r.route === 'GET /v1/payment_intents').length;
    expect(listCalls()).toBe(1);
    const pi = paymentOf(h, 'usr_0001');
    const got = watch(h, 'payment:usr_0001');
    const res = await postStripe(
      h,
      JSON.stringify({
        id: 'evt_trimmed_1',
        object: 'event',
        type: 'payment_intent.succeeded',
        data: { object: { id: pi.id, object: 'payment_intent' } },
      }),
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: true, duplicate: false });
    const [retrieve] = retrieveCalls(h);
    expect(retrieve!.path).toBe(`/v1/payment_intents/${pi.id}`);
    expect(retrieve!.headers['stripe-version']).toBe(STRIPE_API_VERSION);
    await until(() => got.length === 1);
    expect(got[0]).toMatchObject({ id: pi.id, amount: { amount: pi.amount, currency: pi.currency } });
    await h.gql(q);
    expect(listCalls()).toBe(2); // the cached list was invalidated
    expect(await counter(h, 'junction_webhooks_unusable_total', 'provider="stripe"')).toBe(0);
  });

  it('an object rendered in another API version: the push carries the object as Stripe has it now', async () => {
    h = await startHarness();
    const pi = paymentOf(h, 'usr_0002');
    h.stripe.setPaymentIntentStatus(pi.id, 'canceled');
    await h.stripe.flushWebhooks();
    const got = watch(h, 'payment:usr_0002');
    // 2019-era shape: "requires_source" was renamed, amount_received and canceled_at did not exist.
    const { amount_received: _r, canceled_at: _c, ...old } = pi;
    const res = await postStripe(
      h,
      JSON.stringify({
        id: 'evt_old_version_1',
        object: 'event',
        api_version: '2019-02-11',
        type: 'payment_intent.payment_failed',
        data: { object: { ...old, status: 'requires_source' } },
      }),
    );
    expect(res.status).toBe(200);
    expect(retrieveCalls(h)).toHaveLength(1);
    await until(() => got.length === 1);
    expect(got[0]).toMatchObject({ id: pi.id, status: 'CANCELED' });
  });

  it('nothing usable (no id, unknown id, not an event, not JSON): 200, counted, nothing done', async () => {
    h = await startHarness();
    const bodies = [
      JSON.stringify({
        id: 'evt_no_id',
        object: 'event',
        type: 'payment_intent.created',
        data: { object: {} },
      }),
      JSON.stringify({
        id: 'evt_unknown_pi',
        object: 'event',
        type: 'payment_intent.created',
        data: { object: { id: 'pi_doesnotexist', object: 'payment_intent' } },
      }),
      JSON.stringify({ hello: 'world' }),
      'not json at all',
    ];
    for (const body of bodies) expect((await postStripe(h, body)).status, body).toBe(200);
    expect(await counter(h, 'junction_webhooks_unusable_total', 'provider="stripe"')).toBe(4);
    expect(
      await counter(h, 'junction_webhooks_rejected_total', 'provider="stripe",reason="malformed_body"'),
    ).toBe(0);
    // Only the unknown id was looked up; nothing was retried or pushed.
    expect(retrieveCalls(h).map((r) => r.path)).toEqual(['/v1/payment_intents/pi_doesnotexist']);
  });

  it('answers 500 (Stripe retries) when Stripe itself fails while the object is fetched', async () => {
    h = await startHarness({ env: { RETRY_MAX_ATTEMPTS: '1' } });
    const pi = paymentOf(h, 'usr_0003');
    h.stripe.faults.add({ match: { path: /^\/v1\/payment_intents\/pi_/ }, status: 503 });
    const body = JSON.stringify({
      id: 'evt_retry_later',
      object: 'event',
      type: 'payment_intent.succeeded',
      data: { object: { id: pi.id } },
    });
    expect((await postStripe(h, body)).status).toBe(500);
    h.stripe.faults.clear();
    // The retry is not mistaken for a duplicate: the failed run was forgotten.
    const retry = await postStripe(h, body);
    expect(retry.status).toBe(200);
    expect(await retry.json()).toEqual({ received: true, duplicate: false });
  });
});

describe('Twilio status callbacks', () => {
  it('verifies the simulator’s signed callbacks and pushes messageUpdated: queued, sent, delivered', async () => {
    h = await startHarness();
    const sub = subscribe(
      h,
      await h.token('usr_0001'),
      'subscription { messageUpdated(userId: "usr_0001") { id status } }',
    );
    await sub.ready;
    await new Promise((r) => setTimeout(r, 50));
    const res = await h.gql(
      'mutation { sendSms(input: { userId: "usr_0001", body: "ping" }) { message { id } } }',
    );
    const id = res.body.data.sendSms.message.id;
    await h.twilio.flushCallbacks();
    await new Promise((r) => setTimeout(r, 100));
    expect(h.twilio.callbackDeliveries.length).toBeGreaterThanOrEqual(3);
    expect(h.twilio.callbackDeliveries.every((d) => d.status === 204)).toBe(true);
    expect(sub.received.map((v) => v.data.messageUpdated.id).every((x) => x === id)).toBe(true);
    expect(sub.received.at(-1).data.messageUpdated.status).toBe('DELIVERED');
  });

  it('rejects a callback whose signature does not cover the URL it arrived at', async () => {
    h = await startHarness();
    const body = new URLSearchParams({
      MessageSid: `SM${'a'.repeat(32)}`,
      MessageStatus: 'delivered',
    }).toString();
    const res = await fetch(`${h.url}/webhooks/twilio?userId=usr_0002`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=',
      },
      body,
    });
    expect(res.status).toBe(400);
  });
});

describe('Twilio callbacks Junction cannot read as they are', () => {
  /** Posts a form callback to /webhooks/twilio?userId=..., signed as Twilio signs the public URL. */
  const postTwilio = (harness: Harness, params: Record<string, string>, userId = 'usr_0001') => {
    const url = `${harness.url}/webhooks/twilio?userId=${userId}`;
    const form = new URLSearchParams(params);
    return fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': twilioSignature(harness.twilio.authToken, url, form),
      },
      body: form.toString(),
    });
  };

  it('a status it cannot read is still a signal: the message is fetched and pushed', async () => {
    h = await startHarness();
    // A seeded message: no send in this test, so no callback of the simulator's own can push.
    const message = [...h.twilio.messages.values()][0]!;
    const got = watch(h, 'message:usr_0001');
    const before = h.twilio.requests.length;
    const res = await postTwilio(h, {
      MessageSid: message.sid,
      MessageStatus: 'Delivered (carrier 7)',
      To: message.to,
    });
    expect(res.status).toBe(204);
    expect(h.twilio.requests.slice(before).map((r) => r.route)).toEqual([
      'GET /2010-04-01/Accounts/:AccountSid/Messages/:Sid.json',
    ]);
    await until(() => got.length > 0);
    expect(got).toEqual([expect.objectContaining({ id: message.sid })]);
    expect(await counter(h, 'junction_webhooks_unusable_total', 'provider="twilio"')).toBe(0);
  });

  it('no MessageSid at all: 204, counted, nothing fetched', async () => {
    h = await startHarness();
    const before = h.twilio.requests.length;
    const res = await postTwilio(h, { MessageStatus: 'delivered', SmsSid: 'not-a-sid' });
    expect(res.status).toBe(204);
    expect(await counter(h, 'junction_webhooks_unusable_total', 'provider="twilio"')).toBe(1);
    expect(h.twilio.requests.length).toBe(before);
  });
});

describe('SendGrid event webhook', () => {
  const postSendGrid = (
    harness: Harness,
    body: string,
    privateKey: string | import('node:crypto').KeyObject,
  ) => {
    const timestamp = String(Math.floor(Date.now() / 1000));
    return fetch(`${harness.url}/webhooks/sendgrid`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-twilio-email-event-webhook-signature': signEventPayload(body, timestamp, privateKey),
        'x-twilio-email-event-webhook-timestamp': timestamp,
      },
      body,
    });
  };

  it('accepts the simulator’s ECDSA-signed events after a send', async () => {
    h = await startHarness();
    await h.gql(
      'mutation { sendEmail(input: { userId: "usr_0003", subject: "Hi", text: "Hello" }) { receipt { id } } }',
    );
    await h.sendgrid.flushWebhooks();
    expect(h.sendgrid.webhookDeliveries.length).toBeGreaterThan(0);
    expect(h.sendgrid.webhookDeliveries.every((d) => d.status === 200)).toBe(true);
  });

  it('refuses a forged event with 400 and processes nothing; the genuine one is then accepted', async () => {
    h = await startHarness();
    const id = eventId();
    const body = JSON.stringify([
      { sg_event_id: id, event: 'delivered', email: 'a@example.com', timestamp: 1 },
    ]);
    const foreignKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const forged = await postSendGrid(h, body, foreignKey);
    expect(forged.status).toBe(400);
    expect(await forged.json()).toEqual({ error: 'signature_mismatch' });
    expect(await counter(h, 'junction_webhooks_received_total', 'provider="sendgrid"')).toBe(0);
    const genuine = await postSendGrid(h, body, h.sendgridWebhookPrivateKey);
    expect(genuine.status).toBe(200);
    // Not a duplicate: the forged delivery consumed nothing.
    expect(await genuine.json()).toEqual({ received: 1, duplicates: 0, unusable: 0 });
  });

  it('acknowledges events it cannot use, counting them, and still takes the good ones', async () => {
    h = await startHarness();
    const body = JSON.stringify([
      { sg_event_id: eventId(), event: 'delivered' },
      { event: 'open' },
      'not an object',
      { sg_event_id: eventId(), event: 'Bounce!' },
    ]);
    const res = await postSendGrid(h, body, h.sendgridWebhookPrivateKey);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: 1, duplicates: 0, unusable: 3 });
    const notArray = await postSendGrid(h, JSON.stringify({ events: [] }), h.sendgridWebhookPrivateKey);
    expect(notArray.status).toBe(200);
    expect(await counter(h, 'junction_webhooks_unusable_total', 'provider="sendgrid"')).toBe(4);
  });
});

describe('subscription authorization', () => {
  it('refuses another user’s subscription with FORBIDDEN, and a bad token at connect', async () => {
    h = await startHarness();
    const sub = subscribe(
      h,
      await h.token('usr_0002'),
      'subscription { paymentUpdated(userId: "usr_0001") { id } }',
    );
    const first = await sub.first;
    expect(JSON.stringify(first)).toContain('FORBIDDEN');
    const bad = subscribe(h, 'not-a-token', 'subscription { paymentUpdated(userId: "usr_0001") { id } }');
    const result = await bad.first;
    // Refused at connection_init: the socket closes with graphql-ws's 4403 Forbidden.
    expect(result.error).toMatchObject({ code: 4403, reason: 'Forbidden' });
  });
});
