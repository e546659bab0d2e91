// Issue #14, tests 2-6: what three real replica processes (behind HAProxy, over one Redis prefix)
// share: one upstream fetch for a cold key, invalidations, webhook dedupe and pushes, idempotent
// sendSms, APQ. One replica set for the file; A, B and C are the replicas' own ports.
import { createHash, randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { batchCalls } from '../helpers/harness.js';
import { connectWs, type WsClient } from '../helpers/ws.js';

let c: TestCluster;
const sockets: WsClient[] = [];
beforeAll(async () => {
  // Redis commands may wait 1 s (not the default 250 ms) before a replica falls back to local state:
  // freshly started replicas on 2 shared cores once stalled past 250 ms in test 2 and fetched twice.
  // The fallback itself is test 7's subject (budget.test.ts).
  c = await startTestCluster({ replicas: 3, env: { REDIS_COMMAND_TIMEOUT_MS: '1000' } });
  // Warm every replica (JIT, pools, the users token) on another user before anything is counted.
  await Promise.all(
    c.replicas.flatMap((r) =>
      Array.from({ length: 10 }, () => c.gql(r.url, '{ user(id: "usr_0001") { id } }')),
    ),
  );
  // These tests are about replicas sharing through Redis: start once each one has Redis up (a
  // replica that saw a stall stays on local state until its next probe answers).
  const deadline = Date.now() + 20_000;
  for (const r of c.replicas) {
    for (;;) {
      const ready = (await (await fetch(`${r.url}/readyz`)).json()) as { sharedState?: { redis?: string } };
      if (ready.sharedState?.redis === 'up') break;
      if (Date.now() > deadline) throw new Error(`replica ${r.name}: Redis not up after 20 s`);
      await sleep(100);
    }
  }
}, 90_000);
afterAll(async () => {
  await Promise.all(sockets.map((s) => s.close().catch(() => undefined)));
  await c?.close();
}, 30_000);

const A = () => c.replicas[0]!.url;
const B = () => c.replicas[1]!.url;
const C = () => c.replicas[2]!.url;

/** Users-service fetches (batch or single) that asked for `id`. */
const fetchesOf = (id: string) =>
  batchCalls(c.users).filter(
    (r) => r.path === `/users/${id}` || (r.query.get('ids') ?? '').split(',').includes(id),
  ).length;

describe('three replicas share state through Redis', () => {
  it('2. 3 × 30 simultaneous requests for one cold user: exactly 1 upstream fetch, then 0 within the TTL', async () => {
    const id = 'usr_0777';
    const query = `{ user(id: "${id}") { id name } }`;
    const round = () =>
      Promise.all([A(), B(), C()].flatMap((url) => Array.from({ length: 30 }, () => c.gql(url, query))));
    const first = await round();
    expect(first.every((r) => r.status === 200 && r.body.data?.user?.id === id)).toBe(true);
    const seen = () =>
      JSON.stringify(
        batchCalls(c.users)
          .filter((r) => r.path === `/users/${id}` || (r.query.get('ids') ?? '').split(',').includes(id))
          .map((r) => ({
            path: r.path,
            ids: r.query.get('ids'),
            at: r.at,
            rid: r.headers['x-request-id'],
            inm: r.headers['if-none-match'],
          })),
      );
    expect(fetchesOf(id), seen()).toBe(1);
    const second = await round();
    expect(second.every((r) => r.body.data?.user?.id === id)).toBe(true);
    expect(fetchesOf(id), seen()).toBe(1);
  });

  it('3. createPayment through A: payments through B and C show it within 500 ms', async () => {
    const user = 'usr_0002';
    const list = `{ user(id: "${user}") { payments(first: 5) { nodes { id } } } }`;
    // B and C hold the list in their caches first: a second read costs no Stripe call.
    const listCalls = () => c.stripe.requests.filter((r) => r.route === 'GET /v1/payment_intents').length;
    for (const url of [B(), C()]) expect((await c.gql(url, list)).body.data.user.payments).toBeTruthy();
    const warm = listCalls();
    for (const url of [B(), C()]) await c.gql(url, list);
    expect(listCalls()).toBe(warm);
    const created = await c.gql(
      A(),
      `mutation { createPayment(input: { userId: "${user}", amount: 1234, currency: "usd" }) { payment { id } } }`,
    );
    const paymentId = created.body.data?.createPayment?.payment?.id as string;
    expect(paymentId).toBeTruthy();
    const done = Date.now();
    const shows = async (url: string) => {
      for (;;) {
        const r = await c.gql(url, list);
        const ids = (r.body.data?.user?.payments?.nodes ?? []).map((n: { id: string }) => n.id);
        if (ids.includes(paymentId)) return Date.now() - done;
        if (Date.now() - done > 3_000) return Number.POSITIVE_INFINITY;
        await sleep(25);
      }
    };
    const [onB, onC] = await Promise.all([shows(B()), shows(C())]);
    expect(onB).toBeLessThanOrEqual(500);
    expect(onC).toBeLessThanOrEqual(500);
  });

  it('4. subscribed on B, a webhook posted to A: one push on B within 1 s; the same event on C: duplicate, no push', async () => {
    const user = 'usr_0001';
    const ws = await connectWs(B(), { token: await c.token(user) });
    sockets.push(ws);
    const op = ws.subscribe({ query: `subscription { paymentUpdated(userId: "${user}") { id status } }` });
    await sleep(200); // the subscribe message reaches B
    const pi = [...c.stripe.paymentIntents.values()].find((p) => p.metadata?.user_id === user)!;
    const payload = JSON.stringify({
      id: `evt_cluster_${randomUUID().replaceAll('-', '')}`,
      object: 'event',
      type: 'payment_intent.succeeded',
      data: { object: { ...pi, status: 'succeeded' } },
    });
    const post = (url: string) =>
      fetch(`${url}/webhooks/stripe`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'stripe-signature': new Stripe('sk_test_unused').webhooks.generateTestHeaderString({
            payload,
            secret: c.stripeWebhookSecret,
          }),
        },
        body: payload,
      });
    const started = Date.now();
    const onA = await post(A());
    expect(onA.status).toBe(200);
    expect(((await onA.json()) as { duplicate?: boolean }).duplicate).not.toBe(true);
    const pushed = await Promise.race([op.next(), sleep(1_000).then(() => undefined)]);
    expect(pushed?.data?.paymentUpdated?.id).toBe(pi.id);
    expect(Date.now() - started).toBeLessThanOrEqual(1_000);
    const onC = await post(C());
    expect(onC.status).toBe(200);
    expect(((await onC.json()) as { duplicate?: boolean }).duplicate).toBe(true);
    await sleep(500);
    expect(op.results.filter((r) => r?.data?.paymentUpdated?.id === pi.id)).toHaveLength(1);
  });

  it('5. one sendSms idempotency key sent concurrently to A and B: one message at Twilio, equal answers', async () => {
    const key = `sms-${randomUUID()}`;
    const mutation = `mutation Send($key: String) {
      sendSms(input: { userId: "usr_0003", body: "cluster idempotency", idempotencyKey: $key }) { message { id body } }
    }`;
    const sent = () =>
      c.twilio.requests.filter((r) => r.route === 'POST /2010-04-01/Accounts/:AccountSid/Messages.json')
        .length;
    const before = sent();
    const [a, b] = await Promise.all([
      c.gql(A(), mutation, { variables: { key } }),
      c.gql(B(), mutation, { variables: { key } }),
    ]);
    expect(a.body.errors).toBeUndefined();
    expect(b.body.errors).toBeUndefined();
    expect(a.body.data.sendSms.message.id).toBeTruthy();
    expect(b.body.data).toEqual(a.body.data);
    expect(sent() - before).toBe(1);
  });

  it('6. an APQ hash registered on A runs by hash on B', async () => {
    const query = `query ApqCluster { user(id: "usr_0004") { id } } # ${randomUUID()}`;
    const sha256Hash = createHash('sha256').update(query).digest('hex');
    const persistedQuery = { version: 1, sha256Hash };
    const registered = await c.gql(A(), query, { extensions: { persistedQuery } });
    expect(registered.body.data?.user?.id).toBe('usr_0004');
    const res = await fetch(`${B()}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${await c.token('usr_0001', { admin: true })}`,
      },
      body: JSON.stringify({ extensions: { persistedQuery } }),
    });
    const body = (await res.json()) as { data?: any; errors?: any[] };
    expect(body.errors).toBeUndefined();
    expect(body.data?.user?.id).toBe('usr_0004');
  });
});
