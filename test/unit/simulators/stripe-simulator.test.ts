// The Stripe simulator over real sockets: auth and error shapes, state, list pagination, idempotency,
// test-card declines, events, signed webhooks (checked with the official stripe package), faults, seed.
import type { IncomingHttpHeaders, Server } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StripePaymentIntent } from '../../../src/simulators/stripe/objects.js';
import { seedStripe } from '../../../src/simulators/stripe/seed.js';
import type { StripeSimulator } from '../../../src/simulators/stripe/simulator.js';
import { createStripeSimulator, STRIPE_ROUTES } from '../../../src/simulators/stripe/simulator.js';
import { seedUsers } from '../../../src/simulators/users/seed.js';

const KEY = 'sk_test_junction_demo';

interface StripeErrorBody {
  error: {
    type: string;
    code?: string;
    decline_code?: string;
    message: string;
    param?: string;
    payment_intent?: StripePaymentIntent;
    request_log_url?: string;
  };
}
interface ListBody {
  object: 'list';
  data: StripePaymentIntent[];
  has_more: boolean;
  url: string;
}

let sim: StripeSimulator;
let base: string;

beforeEach(async () => {
  sim = createStripeSimulator({ webhookRetryDelaysMs: [10, 20] });
  base = await sim.start();
});

afterEach(async () => {
  await sim.close();
});

function call(
  method: 'GET' | 'POST',
  path: string,
  opts: { form?: string; key?: string | null; headers?: Record<string, string> } = {},
): Promise<Response> {
  const key = opts.key === undefined ? KEY : opts.key;
  return fetch(`${base}${path}`, {
    method,
    headers: {
      ...(key === null ? {} : { authorization: `Bearer ${key}` }),
      ...(opts.form === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }),
      ...opts.headers,
    },
    ...(opts.form === undefined ? {} : { body: opts.form }),
  });
}

async function json<T>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

function firstCustomerId(): string {
  const [id] = sim.customers.keys();
  if (id === undefined) throw new Error('seed has no customers');
  return id;
}

async function newCustomer(): Promise<string> {
  const res = await call('POST', '/v1/customers', { form: 'email=pager%40example.com&name=Pager' });
  expect(res.status).toBe(200);
  return (await json<{ id: string }>(res)).id;
}

describe('auth and common headers', () => {
  it('answers 401 invalid_request_error for a missing or wrong key, masking the key like Stripe', async () => {
    const missing = await call('GET', `/v1/customers/${firstCustomerId()}`, { key: null });
    expect(missing.status).toBe(401);
    expect(missing.headers.get('stripe-should-retry')).toBe('false');
    const missingBody = await json<StripeErrorBody>(missing);
    expect(missingBody.error.type).toBe('invalid_request_error');
    expect(missingBody.error.message).toMatch(/^You did not provide an API key/);

    const wrong = await call('GET', `/v1/customers/${firstCustomerId()}`, { key: 'sk_test_wrongkey1234' });
    expect(wrong.status).toBe(401);
    const wrongBody = await json<StripeErrorBody>(wrong);
    expect(wrongBody.error).toMatchObject({
      type: 'invalid_request_error',
      message: 'Invalid API Key provided: sk_test_********1234',
    });
    expect(JSON.stringify(wrongBody)).not.toContain('wrongkey');
  });

  it('challenges a 401 with Basic realm="Stripe"', async () => {
    const res = await call('GET', `/v1/customers/${firstCustomerId()}`, { key: 'sk_test_wrongkey1234' });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Basic realm="Stripe"');
  });

  it('accepts the key as the HTTP Basic user name (curl -u sk_test_...:)', async () => {
    const res = await fetch(`${base}/v1/customers/${firstCustomerId()}`, {
      headers: { authorization: `Basic ${Buffer.from(`${KEY}:`).toString('base64')}` },
    });
    expect(res.status).toBe(200);
  });

  it('sends Request-Id on every answer and echoes Stripe-Version (or reports its own)', async () => {
    const pinned = await call('GET', `/v1/customers/${firstCustomerId()}`, {
      headers: { 'stripe-version': '2024-06-20' },
    });
    expect(pinned.headers.get('request-id')).toMatch(/^req_[0-9a-f]+$/);
    expect(pinned.headers.get('stripe-version')).toBe('2024-06-20');
    const unpinned = await call('GET', '/v1/customers/cus_missing');
    expect(unpinned.headers.get('request-id')).toMatch(/^req_/);
    expect(unpinned.headers.get('stripe-version')).toBe(sim.apiVersion);
  });
});

describe('customers', () => {
  it('returns a seeded customer linked to its user', async () => {
    const user = seedUsers(1000).find((u) => u.stripe_customer_id !== null);
    const res = await call('GET', `/v1/customers/${user?.stripe_customer_id}`);
    expect(res.status).toBe(200);
    const customer = await json<Record<string, unknown>>(res);
    expect(customer).toMatchObject({
      id: user?.stripe_customer_id,
      object: 'customer',
      email: user?.email_address,
      name: `${user?.first_name} ${user?.last_name}`,
      metadata: { user_id: user?.user_id },
      livemode: false,
    });
  });

  it('answers 404 resource_missing with param id for an unknown customer', async () => {
    const res = await call('GET', '/v1/customers/cus_nope');
    expect(res.status).toBe(404);
    expect(res.headers.get('stripe-should-retry')).toBe('false');
    const body = await json<StripeErrorBody>(res);
    expect(body.error).toMatchObject({
      type: 'invalid_request_error',
      code: 'resource_missing',
      param: 'id',
      message: "No such customer: 'cus_nope'",
    });
    expect(body.error.request_log_url).toContain(res.headers.get('request-id'));
  });

  it('creates a customer from form params (nested metadata) that can then be retrieved', async () => {
    const res = await call('POST', '/v1/customers', {
      form: 'email=new%40example.com&name=New+Person&metadata[user_id]=usr_9001',
    });
    expect(res.status).toBe(200);
    const created = await json<{ id: string; email: string; metadata: Record<string, string> }>(res);
    expect(created.id).toMatch(/^cus_[A-Za-z0-9]{14}$/);
    expect(created.metadata).toEqual({ user_id: 'usr_9001' });
    const fetched = await json<{ id: string; name: string }>(
      await call('GET', `/v1/customers/${created.id}`),
    );
    expect(fetched).toMatchObject({ id: created.id, name: 'New Person' });
    expect(sim.createdCount('customer')).toBe(1);
    expect(sim.events.at(-1)?.type).toBe('customer.created');
  });

  it('rejects an invalid email and unknown parameters', async () => {
    const email = await json<StripeErrorBody>(await call('POST', '/v1/customers', { form: 'email=nope' }));
    expect(email.error).toMatchObject({ code: 'email_invalid', param: 'email' });
    const unknown = await call('POST', '/v1/customers', { form: 'nickname=x' });
    expect(unknown.status).toBe(400);
    expect((await json<StripeErrorBody>(unknown)).error).toMatchObject({
      code: 'parameter_unknown',
      param: 'nickname',
      message: 'Received unknown parameter: nickname',
    });
    expect(sim.createdCount()).toBe(0);
  });
});

describe('POST /v1/payment_intents', () => {
  it('creates an intent, parsing nested params, and lists it first for its customer', async () => {
    const customer = firstCustomerId();
    const res = await call('POST', '/v1/payment_intents', {
      form: `amount=1999&currency=usd&customer=${customer}&description=Test&metadata[user_id]=usr_0001&payment_method_types[]=card`,
    });
    expect(res.status).toBe(200);
    const pi = await json<StripePaymentIntent>(res);
    expect(pi).toMatchObject({
      object: 'payment_intent',
      amount: 1999,
      currency: 'usd',
      customer,
      description: 'Test',
      metadata: { user_id: 'usr_0001' },
      payment_method_types: ['card'],
      status: 'requires_payment_method',
      automatic_payment_methods: null,
    });
    expect(pi.id).toMatch(/^pi_[A-Za-z0-9]{24}$/);
    expect(pi.client_secret.startsWith(`${pi.id}_secret_`)).toBe(true);

    const list = await json<ListBody>(await call('GET', `/v1/payment_intents?customer=${customer}&limit=3`));
    expect(list.object).toBe('list');
    expect(list.url).toBe('/v1/payment_intents');
    expect(list.data[0]?.id).toBe(pi.id);
    expect(list.data.every((p) => p.customer === customer)).toBe(true);
    expect(sim.paymentIntents.get(pi.id)).toEqual(pi);
  });

  it('moves to requires_confirmation with a payment method and to succeeded when confirmed', async () => {
    const pending = await json<StripePaymentIntent>(
      await call('POST', '/v1/payment_intents', {
        form: 'amount=500&currency=eur&payment_method=pm_card_visa',
      }),
    );
    expect(pending.status).toBe('requires_confirmation');
    expect(pending.payment_method).toMatch(/^pm_/);

    for (const form of [
      'amount=500&currency=usd&payment_method=pm_card_visa&confirm=true',
      'amount=500&currency=usd&confirm=true',
    ]) {
      const pi = await json<StripePaymentIntent>(await call('POST', '/v1/payment_intents', { form }));
      expect(pi).toMatchObject({ status: 'succeeded', amount_received: 500, last_payment_error: null });
      expect(pi.latest_charge).toMatch(/^ch_/);
    }
  });

  it('answers 402 card_error for declining test cards, keeping the failed intent', async () => {
    const res = await call('POST', '/v1/payment_intents', {
      form: 'amount=2500&currency=usd&payment_method=pm_card_chargeDeclined&confirm=true',
    });
    expect(res.status).toBe(402);
    expect(res.headers.get('stripe-should-retry')).toBe('false');
    const body = await json<StripeErrorBody>(res);
    expect(body.error).toMatchObject({
      type: 'card_error',
      code: 'card_declined',
      decline_code: 'generic_decline',
      message: 'Your card was declined.',
      param: '',
    });
    const failed = body.error.payment_intent;
    expect(failed).toMatchObject({ status: 'requires_payment_method', payment_method: null });
    expect(failed?.last_payment_error).toMatchObject({ type: 'card_error', decline_code: 'generic_decline' });
    expect(sim.paymentIntents.get(failed?.id ?? '')?.status).toBe('requires_payment_method');
    expect(sim.events.slice(-2).map((e) => e.type)).toEqual([
      'payment_intent.created',
      'payment_intent.payment_failed',
    ]);

    const funds = await json<StripeErrorBody>(
      await call('POST', '/v1/payment_intents', {
        form: 'amount=2500&currency=usd&payment_method=pm_card_chargeDeclinedInsufficientFunds&confirm=true',
      }),
    );
    expect(funds.error).toMatchObject({ code: 'card_declined', decline_code: 'insufficient_funds' });
  });

  it('validates like Stripe: missing, non-integer, too small, unknown customer or method', async () => {
    const cases: Array<[string, Record<string, string>]> = [
      [
        'currency=usd',
        { code: 'parameter_missing', param: 'amount', message: 'Missing required param: amount.' },
      ],
      ['amount=12.5&currency=usd', { code: 'parameter_invalid_integer', param: 'amount' }],
      ['amount=abc&currency=usd', { code: 'parameter_invalid_integer', message: 'Invalid integer: abc' }],
      ['amount=-5&currency=usd', { code: 'parameter_invalid_integer', param: 'amount' }],
      ['amount=100', { code: 'parameter_missing', param: 'currency' }],
      ['amount=100&currency=xyz', { param: 'currency' }],
      ['amount=10&currency=usd', { code: 'amount_too_small', message: 'Amount must be at least $0.50 usd' }],
      ['amount=100&currency=usd&customer=cus_nope', { code: 'resource_missing', param: 'customer' }],
      [
        'amount=100&currency=usd&payment_method=pm_nope',
        { code: 'resource_missing', param: 'payment_method' },
      ],
      ['amount=100&currency=usd&confirm=yes', { param: 'confirm', message: 'Invalid boolean: yes' }],
      ['amount=100&currency=usd&colour=red', { code: 'parameter_unknown', param: 'colour' }],
    ];
    for (const [form, expected] of cases) {
      const res = await call('POST', '/v1/payment_intents', { form });
      expect(res.status, form).toBe(400);
      const body = await json<StripeErrorBody>(res);
      expect(body.error, form).toMatchObject({ type: 'invalid_request_error', ...expected });
    }
    expect(sim.createdCount('payment_intent')).toBe(0);
  });

  it('returns a payment intent by id, and 404 resource_missing for an unknown one', async () => {
    const [seeded] = sim.paymentIntents.values();
    const res = await call('GET', `/v1/payment_intents/${seeded?.id}`);
    expect(await json(res)).toEqual(seeded);
    const missing = await call('GET', '/v1/payment_intents/pi_nope');
    expect(missing.status).toBe(404);
    expect((await json<StripeErrorBody>(missing)).error).toMatchObject({
      code: 'resource_missing',
      param: 'id',
    });
  });
});

describe('GET /v1/payment_intents pagination', () => {
  it('walks 250 intents of one customer exactly once with starting_after, newest first', async () => {
    const customer = await newCustomer();
    const createdIds: string[] = [];
    for (let i = 0; i < 250; i++) {
      const res = await call('POST', '/v1/payment_intents', {
        form: `amount=${100 + i}&currency=usd&customer=${customer}`,
      });
      createdIds.push((await json<StripePaymentIntent>(res)).id);
    }

    const seen: string[] = [];
    const hasMore: boolean[] = [];
    let after: string | undefined;
    for (let guard = 0; guard < 10; guard++) {
      const cursor = after === undefined ? '' : `&starting_after=${after}`;
      const page = await json<ListBody>(
        await call('GET', `/v1/payment_intents?customer=${customer}&limit=100${cursor}`),
      );
      seen.push(...page.data.map((p) => p.id));
      hasMore.push(page.has_more);
      if (!page.has_more) break;
      after = page.data.at(-1)?.id;
    }
    expect(hasMore).toEqual([true, true, false]);
    expect(seen).toHaveLength(250);
    expect(new Set(seen).size).toBe(250);
    expect(seen).toEqual([...createdIds].reverse());

    // ending_before pages back towards the newest, keeping newest-first order inside a page.
    const back = await json<ListBody>(
      await call('GET', `/v1/payment_intents?customer=${customer}&limit=3&ending_before=${seen[5]}`),
    );
    expect(back.data.map((p) => p.id)).toEqual(seen.slice(2, 5));
    expect(back.has_more).toBe(true);
  });

  it('defaults to 10 and rejects limit outside 1..100 or an unknown cursor', async () => {
    const page = await json<ListBody>(await call('GET', '/v1/payment_intents'));
    expect(page.data).toHaveLength(10);
    expect(page.has_more).toBe(true);
    const created = page.data.map((p) => p.created);
    expect(created).toEqual([...created].sort((a, b) => b - a));

    for (const [query, param] of [
      ['limit=101', 'limit'],
      ['limit=0', 'limit'],
      ['starting_after=pi_nope', 'starting_after'],
    ] as const) {
      const res = await call('GET', `/v1/payment_intents?${query}`);
      expect(res.status, query).toBe(400);
      expect((await json<StripeErrorBody>(res)).error.param).toBe(param);
    }
  });
});

describe('idempotency', () => {
  const form = 'amount=1500&currency=usd&metadata[order]=42';

  it('replays the first answer byte for byte with Idempotent-Replayed and creates nothing new', async () => {
    const headers = { 'idempotency-key': 'order-42' };
    const first = await call('POST', '/v1/payment_intents', { form, headers });
    const firstText = await first.text();
    const sizeAfterFirst = sim.paymentIntents.size;
    const eventsAfterFirst = sim.events.length;

    // Same parameters in another order are the same request.
    const again = await call('POST', '/v1/payment_intents', {
      form: 'metadata[order]=42&currency=usd&amount=1500',
      headers,
    });
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('original-request')).toBe(first.headers.get('request-id'));
    expect(await again.text()).toBe(firstText);
    expect(sim.paymentIntents.size).toBe(sizeAfterFirst);
    expect(sim.events.length).toBe(eventsAfterFirst);
    expect(sim.createdCount('payment_intent')).toBe(1);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
  });

  it('rejects the same key with different parameters as idempotency_error', async () => {
    const headers = { 'idempotency-key': 'order-43' };
    expect((await call('POST', '/v1/payment_intents', { form, headers })).status).toBe(200);
    const res = await call('POST', '/v1/payment_intents', { form: 'amount=1600&currency=usd', headers });
    expect(res.status).toBe(400);
    const body = await json<StripeErrorBody>(res);
    expect(body.error.type).toBe('idempotency_error');
    expect(body.error.message).toMatch(
      /^Keys for idempotent requests can only be used with the same parameters they were first used with/,
    );
    expect(sim.createdCount('payment_intent')).toBe(1);
  });

  it('scopes keys per API key, replays declines, and does not save validation failures', async () => {
    const scoped = createStripeSimulator({ seedUsers: 0, additionalKeys: ['rk_test_other'] });
    try {
      const url = await scoped.start();
      const post = (key: string, body: string, idem: string) =>
        fetch(`${url}/v1/payment_intents`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${key}`,
            'content-type': 'application/x-www-form-urlencoded',
            'idempotency-key': idem,
          },
          body,
        });
      const a = await json<StripePaymentIntent>(await post(KEY, form, 'shared'));
      const b = await json<StripePaymentIntent>(await post('rk_test_other', form, 'shared'));
      expect(a.id).not.toBe(b.id);
      expect(scoped.paymentIntents.size).toBe(2);

      const decline = 'amount=900&currency=usd&payment_method=pm_card_chargeDeclined&confirm=true';
      const d1 = await post(KEY, decline, 'decline-1');
      const d2 = await post(KEY, decline, 'decline-1');
      expect([d1.status, d2.status]).toEqual([402, 402]);
      expect(d2.headers.get('idempotent-replayed')).toBe('true');
      expect(await d2.text()).toBe(await d1.text());

      expect((await post(KEY, 'amount=oops&currency=usd', 'fix-me')).status).toBe(400);
      const fixed = await post(KEY, 'amount=700&currency=usd', 'fix-me');
      expect(fixed.status).toBe(200);
      expect(fixed.headers.get('idempotent-replayed')).toBeNull();
    } finally {
      await scoped.close();
    }
  });
});

describe('events and webhooks', () => {
  interface Received {
    headers: IncomingHttpHeaders;
    body: string;
  }
  let receiver: Server;
  let receiverUrl: string;
  let received: Received[];
  let statuses: number[];

  beforeEach(async () => {
    received = [];
    statuses = [];
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(statuses.shift() ?? 200).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks/stripe`;
  });

  afterEach(async () => {
    await new Promise((resolve) => receiver.close(resolve));
  });

  const secret = 'whsec_test_junction_secret';

  it('records created + succeeded events tied to the request and idempotency key', async () => {
    const res = await call('POST', '/v1/payment_intents', {
      form: 'amount=800&currency=usd&confirm=true',
      headers: { 'idempotency-key': 'evt-1' },
    });
    const pi = await json<StripePaymentIntent>(res);
    const events = sim.events.filter((e) => e.data.object.id === pi.id);
    expect(events.map((e) => e.type)).toEqual(['payment_intent.created', 'payment_intent.succeeded']);
    for (const event of events) {
      expect(event).toMatchObject({
        object: 'event',
        livemode: false,
        api_version: sim.apiVersion,
        pending_webhooks: 0,
        request: { id: res.headers.get('request-id'), idempotency_key: 'evt-1' },
      });
      expect(event.id).toMatch(/^evt_/);
    }
    expect((events[1]!.data.object as StripePaymentIntent).status).toBe('succeeded');
    expect((events[0]!.data.object as StripePaymentIntent).status).toBe('requires_payment_method');
  });

  it('signs each delivery exactly as Stripe does (verified by stripe.webhooks.constructEvent)', async () => {
    sim.setWebhook({ url: receiverUrl, secret });
    const pi = await json<StripePaymentIntent>(
      await call('POST', '/v1/payment_intents', { form: 'amount=800&currency=usd&confirm=true' }),
    );
    await sim.flushWebhooks();
    expect(received).toHaveLength(2);
    const stripe = new Stripe(KEY);
    const types = received.map((r) => {
      const event = stripe.webhooks.constructEvent(r.body, String(r.headers['stripe-signature']), secret);
      expect((event.data.object as { id: string }).id).toBe(pi.id);
      return event.type;
    });
    expect(types.sort()).toEqual(['payment_intent.created', 'payment_intent.succeeded']);
    expect(() =>
      stripe.webhooks.constructEvent(
        received[0]?.body ?? '',
        String(received[0]?.headers['stripe-signature']),
        'whsec_other',
      ),
    ).toThrow();
    expect(received[0]?.headers['stripe-signature']).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
  });

  it('retries a failed delivery with backoff and re-signs it; setPaymentIntentStatus emits events', async () => {
    sim.setWebhook({ url: receiverUrl, secret });
    const [pi] = [...sim.paymentIntents.values()].filter((p) => p.status === 'processing');
    statuses.push(500, 503);
    const updated = sim.setPaymentIntentStatus(pi?.id ?? '', 'succeeded');
    expect(updated).toMatchObject({ status: 'succeeded', amount_received: updated.amount });
    await sim.flushWebhooks();

    expect(sim.webhookDeliveries.map((d) => [d.attempt, d.status, d.ok])).toEqual([
      [1, 500, false],
      [2, 503, false],
      [3, 200, true],
    ]);
    const last = received.at(-1);
    const event = new Stripe(KEY).webhooks.constructEvent(
      last?.body ?? '',
      String(last?.headers['stripe-signature']),
      secret,
    );
    expect(event).toMatchObject({
      type: 'payment_intent.succeeded',
      request: { id: null, idempotency_key: null },
    });
    expect(sim.events.at(-1)?.pending_webhooks).toBe(1);

    sim.setPaymentIntentStatus(pi?.id ?? '', 'canceled');
    expect(sim.events.at(-1)?.type).toBe('payment_intent.canceled');
    expect(sim.paymentIntents.get(pi?.id ?? '')?.canceled_at).toEqual(expect.any(Number));
  });

  it('gives up after the configured retries on network errors, and sends nothing once cleared', async () => {
    sim.setWebhook({ url: 'http://127.0.0.1:1/unreachable', secret });
    sim.setPaymentIntentStatus([...sim.paymentIntents.keys()][0] ?? '', 'processing');
    await sim.flushWebhooks();
    expect(sim.webhookDeliveries).toHaveLength(3);
    expect(sim.webhookDeliveries.every((d) => d.status === undefined && d.error !== undefined)).toBe(true);

    sim.setWebhook(undefined);
    sim.setPaymentIntentStatus([...sim.paymentIntents.keys()][1] ?? '', 'processing');
    await sim.flushWebhooks();
    expect(sim.webhookDeliveries).toHaveLength(3);
    expect(received).toHaveLength(0);
  });

  it('never holds up the API answer while the receiver is slow', async () => {
    const slow = createServer(() => {
      /* never answers */
    });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    const slowSim = createStripeSimulator({
      seedUsers: 0,
      webhook: { url: `http://127.0.0.1:${(slow.address() as AddressInfo).port}/`, secret },
      webhookRetryDelaysMs: [],
      webhookTimeoutMs: 1500,
    });
    try {
      const url = await slowSim.start();
      const started = Date.now();
      const res = await fetch(`${url}/v1/customers`, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'name=Slow',
      });
      expect(res.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(750);
      await slowSim.flushWebhooks();
      expect(slowSim.webhookDeliveries[0]?.status).toBeUndefined();
    } finally {
      await slowSim.close();
      slow.closeAllConnections();
      await new Promise((resolve) => slow.close(resolve));
    }
  });
});

describe('with the official stripe package', () => {
  function client(maxNetworkRetries = 0): Stripe {
    const port = Number(new URL(base).port);
    return new Stripe(KEY, { host: '127.0.0.1', port, protocol: 'http', maxNetworkRetries });
  }

  it('retrieves a customer and auto-paginates a customer’s intents', async () => {
    const stripe = client();
    const id = firstCustomerId();
    const customer = await stripe.customers.retrieve(id);
    expect(customer.id).toBe(id);
    expect(customer.lastResponse.requestId).toMatch(/^req_/);

    for (let i = 0; i < 23; i++)
      await stripe.paymentIntents.create({ amount: 1000 + i, currency: 'usd', customer: id });
    const all = await stripe.paymentIntents
      .list({ customer: id, limit: 5 })
      .autoPagingToArray({ limit: 1000 });
    const expected = [...sim.paymentIntents.values()].filter((p) => p.customer === id);
    expect(all).toHaveLength(expected.length);
    expect(new Set(all.map((p) => p.id))).toEqual(new Set(expected.map((p) => p.id)));
    expect(sim.count({ route: STRIPE_ROUTES.listPaymentIntents })).toBe(Math.ceil(expected.length / 5));
  });

  it('creates once for two calls with the same idempotency key, and raises StripeCardError on declines', async () => {
    const stripe = client();
    const params = {
      amount: 4200,
      currency: 'eur',
      metadata: { user_id: 'usr_0002' },
      payment_method_types: ['card'],
    };
    const first = await stripe.paymentIntents.create(params, { idempotencyKey: 'sdk-key-1' });
    const second = await stripe.paymentIntents.create(params, { idempotencyKey: 'sdk-key-1' });
    expect(second.id).toBe(first.id);
    expect(sim.createdCount('payment_intent')).toBe(1);

    await expect(
      stripe.paymentIntents.create({
        amount: 4200,
        currency: 'eur',
        payment_method: 'pm_card_chargeDeclined',
        confirm: true,
      }),
    ).rejects.toMatchObject({
      type: 'StripeCardError',
      code: 'card_declined',
      decline_code: 'generic_decline',
    });
  });

  it('a 503 fault carries Stripe-Should-Retry: true, so stripe-node retries and still creates once', async () => {
    sim.faults.add({ match: { route: STRIPE_ROUTES.createPaymentIntent }, status: 503, times: 1 });
    const raw = await call('POST', '/v1/payment_intents', { form: 'amount=500&currency=usd' });
    expect(raw.status).toBe(503);
    expect(raw.headers.get('stripe-should-retry')).toBe('true');
    expect(raw.headers.get('request-id')).toMatch(/^req_/);
    expect((await json<StripeErrorBody>(raw)).error.type).toBe('api_error');

    sim.faults.add({ match: { route: STRIPE_ROUTES.createPaymentIntent }, status: 503, times: 1 });
    sim.resetCounters();
    const pi = await client(1).paymentIntents.create({ amount: 600, currency: 'usd' });
    expect(pi.status).toBe('requires_payment_method');
    expect(sim.count({ route: STRIPE_ROUTES.createPaymentIntent })).toBe(2);
    expect(sim.createdCount('payment_intent')).toBe(1);
  });
});

describe('seedStripe', () => {
  const users = seedUsers(300);
  const seed = seedStripe(users);

  it('is deterministic and prefix-stable, one customer per user with a stripe_customer_id', () => {
    expect(seedStripe(users)).toEqual(seed);
    const small = seedStripe(users.slice(0, 50));
    expect(seed.customers.slice(0, small.customers.length)).toEqual(small.customers);
    expect(seed.customers.map((c) => c.id)).toEqual(
      users.flatMap((u) => (u.stripe_customer_id === null ? [] : [u.stripe_customer_id])),
    );
  });

  it('gives each customer 0..5 usd/eur intents with metadata.user_id and a mix of statuses', () => {
    const byCustomer = new Map<string, number>();
    for (const pi of seed.paymentIntents)
      byCustomer.set(pi.customer ?? '', (byCustomer.get(pi.customer ?? '') ?? 0) + 1);
    expect(Math.max(...byCustomer.values())).toBeLessThanOrEqual(5);
    expect(byCustomer.size).toBeLessThan(seed.customers.length); // some customers have none
    const userOf = new Map(seed.customers.map((c) => [c.id, c.metadata.user_id]));
    for (const pi of seed.paymentIntents) {
      expect(['usd', 'eur']).toContain(pi.currency);
      expect(pi.metadata.user_id).toBe(userOf.get(pi.customer ?? ''));
    }
    const statuses = new Set(seed.paymentIntents.map((p) => p.status));
    expect(statuses).toEqual(
      new Set([
        'succeeded',
        'requires_payment_method',
        'canceled',
        'processing',
        'requires_confirmation',
        'requires_capture',
      ]),
    );
  });
});
