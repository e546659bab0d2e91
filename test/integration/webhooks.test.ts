// Verified webhooks end to end: the simulators sign and deliver exactly as the providers do;
// Junction verifies, dedupes, invalidates caches and pushes subscriptions over graphql-ws.

import { createClient } from 'graphql-ws';
import Stripe from 'stripe';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
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

describe('SendGrid event webhook', () => {
  it('accepts the simulator’s ECDSA-signed events after a send', async () => {
    h = await startHarness();
    await h.gql(
      'mutation { sendEmail(input: { userId: "usr_0003", subject: "Hi", text: "Hello" }) { receipt { id } } }',
    );
    await h.sendgrid.flushWebhooks();
    expect(h.sendgrid.webhookDeliveries.length).toBeGreaterThan(0);
    expect(h.sendgrid.webhookDeliveries.every((d) => d.status === 200)).toBe(true);
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
